/**
 * Runs the server-side extensions ({@code dev.lattice.server.spi.LatticeExtension}) an embedder
 * registers with {@code LatticeServer.Builder#extension}: ordered, time-limited and isolated from
 * each other and from the documents. Not exported; see docs/EMBEDDING.md.
 */
package dev.lattice.server.extension;

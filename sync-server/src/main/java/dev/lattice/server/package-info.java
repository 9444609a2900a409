/**
 * The embeddable sync server: {@link dev.lattice.server.LatticeServer} and its builder, and the two
 * implementations an embedder picks by name, {@link dev.lattice.server.JwtAuthenticator} and {@link
 * dev.lattice.server.WebhookExtension}. {@code LatticeServer} wires the session logic ({@code
 * session}), the document hub ({@code hub}) and a store ({@code store}) onto Jetty 12; only this
 * package imports Jetty. What an embedder implements or receives is in {@code
 * dev.lattice.server.spi}; the other packages are not exported.
 */
package dev.lattice.server;

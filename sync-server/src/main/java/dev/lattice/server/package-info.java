/**
 * The runnable sync server: {@link dev.lattice.server.LatticeServer} wires the session logic
 * ({@code session}), the document hub ({@code hub}) and a store ({@code store}) onto Jetty 12. Only
 * this package imports Jetty; the adapter classes here are thin and hold no protocol logic.
 */
package dev.lattice.server;

/**
 * The Lattice load tool ({@code load-tool/target/lattice-load.jar}): raw-protocol clients over the
 * JDK WebSocket that measure one server's acknowledged update throughput and fan-out latency. The
 * command line is {@link dev.lattice.load.LoadMain}; the figures and their commands are in
 * docs/BENCHMARKS.md.
 */
package dev.lattice.load;

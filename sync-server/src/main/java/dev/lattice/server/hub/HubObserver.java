package dev.lattice.server.hub;

/**
 * Told the timings of a {@link DefaultHub}'s work, for latency histograms. Counts are in {@link
 * HubStats}; this carries only what a counter cannot. Every method has a no-op default.
 *
 * <p>Called from hub and store threads, concurrently for different documents: implementations are
 * thread-safe and quick (they run on a document's executor).
 */
public interface HubObserver {

  /** A no-op observer. */
  HubObserver NONE = new HubObserver() {};

  /** An update was checked and merged into its live document in {@code nanos}. */
  default void merged(long nanos) {}

  /** The store made one appended delta durable {@code nanos} after it was handed to it. */
  default void appended(long nanos) {}

  /**
   * An update reached {@code recipients} other subscribers {@code nanos} after the hub received it:
   * merge, wait for durability and hand-off to every connection's outgoing queue.
   */
  default void fannedOut(int recipients, long nanos) {}
}

package dev.lattice.load;

/**
 * Who joins which document on which server, and when an open-loop client sends: pure functions of
 * the workload's shape, kept apart so they can be tested without a server. Stateless; thread-safe.
 *
 * <p>Client g (0-based) of N joins document {@code g mod D}; with S servers it connects to server
 * {@code floor(g / D) mod S}, so the clients of one document spread over the servers. In an open
 * loop at R updates/s per client, client g sends its k-th update (1-based) at {@code t0 + (g/N)/R +
 * (k-1)/R} seconds: the clients' sends are staggered evenly over each 1/R period.
 */
final class WorkloadPlan {

  private WorkloadPlan() {}

  /** The document (0 to D-1) client {@code g} joins. */
  static int documentOf(int g, int docs) {
    return Math.floorMod(g, docs);
  }

  /** The server (0 to S-1, an index into the target list) client {@code g} connects to. */
  static int serverOf(int g, int docs, int servers) {
    return Math.floorMod(g / docs, servers);
  }

  /** How many of {@code clients} join document {@code d}. */
  static int membersOf(int d, int clients, int docs) {
    return d < clients ? (clients - d + docs - 1) / docs : 0;
  }

  /** Client {@code g}'s position among its document's members (0, 1, ...): {@code g / D}. */
  static int positionOf(int g, int docs) {
    return g / docs;
  }

  /**
   * Nanoseconds after t0 at which client {@code g} of {@code clients} sends its {@code k}-th update
   * (1-based) at {@code rate} updates/s per client: {@code ((g / N) + (k - 1)) / R} seconds.
   */
  static long openLoopOffsetNanos(int g, int clients, long k, double rate) {
    return Math.round(((double) g / clients + (k - 1)) / rate * 1e9);
  }

  /**
   * Bytes a client puts on the wire for a binary WebSocket message whose payload is {@code payload}
   * bytes (RFC 6455 §5.2): 2 header bytes, 2 or 8 more for the extended length at 126 or 65,536
   * bytes and over, and the 4-byte mask every client frame carries. So 6 for small frames.
   */
  static long clientFrameBytes(int payload) {
    int length = payload < 126 ? 0 : payload < 65_536 ? 2 : 8;
    return payload + 2L + length + 4;
  }
}

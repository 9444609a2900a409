package dev.lattice.server.spi;

/**
 * Counters of a {@link DocumentStore} since it was opened, for export as metrics. Immutable.
 *
 * @param commits durable commits (for a group-committing store, one fsync each)
 * @param appendedDeltas deltas made durable
 * @param largestBatch the most deltas made durable by one commit
 * @param failedCommits commits that failed, each failing the futures of its deltas
 * @param compactions compactions that folded at least one delta into a snapshot
 */
public record StoreStats(
    long commits, long appendedDeltas, long largestBatch, long failedCommits, long compactions) {

  /** The mean number of deltas per commit; 0 before the first commit. */
  public double averageBatchSize() {
    return commits == 0 ? 0 : (double) appendedDeltas / commits;
  }
}

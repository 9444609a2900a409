package dev.lattice.load;

import java.util.Arrays;

/**
 * Percentiles of a set of latency samples in nanoseconds, by the nearest-rank method on a sorted
 * copy: p-th percentile = the smallest sample with at least p% of the samples at or below it. A
 * sorted {@code long[]} is exact and cheap at the load tool's sizes (at most a few hundred thousand
 * samples), so no histogram library is needed.
 *
 * <p>Immutable and thread-safe.
 *
 * @param count how many samples
 * @param p50 median, ns (0 when there are no samples)
 * @param p90 90th percentile, ns
 * @param p99 99th percentile, ns
 * @param max largest sample, ns
 */
public record LatencySummary(long count, long p50, long p90, long p99, long max) {

  /** The summary of no samples: every figure 0. */
  public static final LatencySummary EMPTY = new LatencySummary(0, 0, 0, 0, 0);

  /** Summarises {@code samples} (not modified). */
  public static LatencySummary of(long[] samples) {
    if (samples.length == 0) {
      return EMPTY;
    }
    long[] sorted = samples.clone();
    Arrays.sort(sorted);
    return new LatencySummary(
        sorted.length,
        rank(sorted, 50),
        rank(sorted, 90),
        rank(sorted, 99),
        sorted[sorted.length - 1]);
  }

  private static long rank(long[] sorted, int percent) {
    // ceil(p/100 * n), 1-based; computed in longs so it cannot overflow or round wrongly.
    long rank = (percent * (long) sorted.length + 99) / 100;
    return sorted[(int) Math.max(rank, 1) - 1];
  }

  /** Milliseconds with three decimals, for tables. */
  static String millis(long nanos) {
    return String.format(java.util.Locale.ROOT, "%.3f", nanos / 1e6);
  }
}

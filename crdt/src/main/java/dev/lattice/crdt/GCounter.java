package dev.lattice.crdt;

import java.math.BigInteger;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.function.Predicate;

/**
 * A grow-only counter: one non-decreasing count per replica; the value is their sum; merge takes
 * the per-replica maximum.
 *
 * <p>Increments must be non-negative and the value must fit in a {@code long}; both are checked
 * when the increment is made, never wrapped. Increments by different replicas may still meet in a
 * merge and together pass {@code Long.MAX_VALUE} (a sync server refuses such an update with
 * COUNTER_OVERFLOW, but replicas that never meet a server can merge directly); reading stays total
 * then: {@link #value()} saturates and {@link #exactValue()} tells the truth, and {@link
 * #fitsInLong()} says which case holds. Immutable and thread-safe.
 */
public final class GCounter implements Crdt<GCounter> {

  private static final GCounter EMPTY = new GCounter(ReplicaLongs.EMPTY);

  /** Per-replica counts in one of {@link ReplicaLongs}'s representations. */
  private final Object counts;

  private volatile SortedMap<ReplicaId, Long> view;

  private GCounter(Object counts) {
    this.counts = counts;
  }

  private static GCounter wrap(Object counts) {
    return ReplicaLongs.isEmpty(counts) ? EMPTY : new GCounter(counts);
  }

  /** The counter at zero. */
  public static GCounter empty() {
    return EMPTY;
  }

  /**
   * The counter with these per-replica counts; zero counts are dropped.
   *
   * @throws IllegalArgumentException if a count is negative
   */
  public static GCounter of(Map<ReplicaId, Long> counts) {
    counts.forEach(
        (replica, count) -> {
          Objects.requireNonNull(replica, "replica");
          if (count < 0) {
            throw new IllegalArgumentException(
                "G-Counter count for " + replica + " must be >= 0, was " + count);
          }
        });
    return wrap(ReplicaLongs.of(counts));
  }

  /**
   * Adds {@code amount} on behalf of {@code replica}. The delta holds only that replica's new
   * count.
   *
   * @throws IllegalArgumentException if {@code amount} is negative
   * @throws ArithmeticException if the replica's count or the counter's value would overflow
   */
  public Mutation<GCounter> increment(ReplicaId replica, long amount) {
    Objects.requireNonNull(replica, "replica");
    if (amount < 0) {
      throw new IllegalArgumentException(
          "G-Counter increment must be >= 0, was " + amount + " (use a PN-Counter to decrement)");
    }
    long next = countOf(replica) + amount;
    // The replica's count is part of the value, so a value that fits keeps the count in range too.
    if (!fitsInLong() || value() + amount < 0) {
      throw new ArithmeticException(
          "G-Counter overflow: value " + exactValue() + " + " + amount + " does not fit in a long");
    }
    GCounter delta = wrap(ReplicaLongs.withMax(ReplicaLongs.EMPTY, replica.value(), next));
    return new Mutation<>(merge(delta), delta);
  }

  /** The count contributed by {@code replica}, 0 if none. */
  public long countOf(ReplicaId replica) {
    return ReplicaLongs.get(counts, replica);
  }

  /** Per-replica counts, sorted by replica id; unmodifiable. Built on first use. */
  public SortedMap<ReplicaId, Long> counts() {
    SortedMap<ReplicaId, Long> v = view;
    if (v == null) {
      v = ReplicaLongs.toSortedMap(counts);
      view = v;
    }
    return v;
  }

  /** The number of replicas with a non-zero count. */
  public int replicaCount() {
    return ReplicaLongs.size(counts);
  }

  /** The {@code i}-th replica in replica order, for {@code 0 <= i < replicaCount()}. */
  public ReplicaId replicaAt(int i) {
    return ReplicaLongs.replica(counts, i);
  }

  /** The count of the {@code i}-th replica in replica order. */
  public long countAt(int i) {
    return ReplicaLongs.value(counts, i);
  }

  /**
   * The sum of all replicas' counts, or {@code Long.MAX_VALUE} if the sum is larger (see {@link
   * #fitsInLong()}). Never throws: a reader must not fail on a state that merging produced.
   */
  public long value() {
    long sum = ReplicaLongs.sumOrMinusOne(counts);
    return sum < 0 ? Long.MAX_VALUE : sum;
  }

  /** The exact sum of all replicas' counts, which may pass {@code Long.MAX_VALUE}. */
  public BigInteger exactValue() {
    long sum = ReplicaLongs.sumOrMinusOne(counts);
    return sum < 0 ? ReplicaLongs.sumBig(counts) : BigInteger.valueOf(sum);
  }

  /**
   * Whether the sum of all counts is at most {@code Long.MAX_VALUE}, so {@link #value()} is exact.
   */
  public boolean fitsInLong() {
    return ReplicaLongs.sumOrMinusOne(counts) >= 0;
  }

  @Override
  public GCounter merge(GCounter other) {
    Object merged = ReplicaLongs.merge(counts, other.counts);
    if (merged == counts) {
      return this;
    }
    return merged == other.counts ? other : new GCounter(merged);
  }

  @Override
  public boolean isEmpty() {
    return ReplicaLongs.isEmpty(counts);
  }

  @Override
  public GCounter contributionsOf(Predicate<ReplicaId> replicas) {
    Object kept = ReplicaLongs.filter(counts, replicas);
    return kept == counts ? this : wrap(kept);
  }

  @Override
  public CrdtType type() {
    return CrdtType.G_COUNTER;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof GCounter other && ReplicaLongs.equal(other.counts, counts);
  }

  @Override
  public int hashCode() {
    return ReplicaLongs.hash(counts);
  }

  @Override
  public String toString() {
    return "GCounter{" + ReplicaLongs.toString(counts, "=") + "}";
  }
}

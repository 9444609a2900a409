package dev.lattice.crdt;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * A grow-only counter: one non-decreasing count per replica; the value is their sum; merge takes
 * the per-replica maximum.
 *
 * <p>Increments must be non-negative and the value must fit in a {@code long}; both are checked
 * when the increment is made, never wrapped. Immutable and thread-safe.
 */
public final class GCounter implements Crdt<GCounter> {

  private static final GCounter EMPTY = new GCounter(Collections.emptySortedMap());

  private final SortedMap<ReplicaId, Long> counts;

  private GCounter(SortedMap<ReplicaId, Long> counts) {
    this.counts = counts;
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
    TreeMap<ReplicaId, Long> copy = new TreeMap<>();
    counts.forEach(
        (replica, count) -> {
          Objects.requireNonNull(replica, "replica");
          if (count < 0) {
            throw new IllegalArgumentException(
                "G-Counter count for " + replica + " must be >= 0, was " + count);
          }
          if (count > 0) {
            copy.put(replica, count);
          }
        });
    return copy.isEmpty() ? EMPTY : new GCounter(Collections.unmodifiableSortedMap(copy));
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
    long current = countOf(replica);
    long next;
    try {
      next = Math.addExact(current, amount);
      Math.addExact(value(), amount);
    } catch (ArithmeticException e) {
      throw new ArithmeticException(
          "G-Counter overflow: value " + value() + " + " + amount + " does not fit in a long");
    }
    GCounter delta =
        new GCounter(Collections.unmodifiableSortedMap(new TreeMap<>(Map.of(replica, next))));
    return new Mutation<>(merge(delta), delta);
  }

  /** The count contributed by {@code replica}, 0 if none. */
  public long countOf(ReplicaId replica) {
    Long count = counts.get(replica);
    return count == null ? 0 : count;
  }

  /** Per-replica counts, sorted by replica id; unmodifiable. */
  public SortedMap<ReplicaId, Long> counts() {
    return counts;
  }

  /**
   * The sum of all replicas' counts.
   *
   * @throws ArithmeticException if concurrent increments of different replicas together passed
   *     {@code Long.MAX_VALUE}
   */
  public long value() {
    long sum = 0;
    for (long count : counts.values()) {
      try {
        sum = Math.addExact(sum, count);
      } catch (ArithmeticException e) {
        throw new ArithmeticException("G-Counter value overflows a long: " + counts);
      }
    }
    return sum;
  }

  @Override
  public GCounter merge(GCounter other) {
    if (other.counts.isEmpty() || other == this) {
      return this;
    }
    if (counts.isEmpty()) {
      return other;
    }
    TreeMap<ReplicaId, Long> merged = null;
    for (Map.Entry<ReplicaId, Long> e : other.counts.entrySet()) {
      if (e.getValue() > countOf(e.getKey())) {
        if (merged == null) {
          merged = new TreeMap<>(counts);
        }
        merged.put(e.getKey(), e.getValue());
      }
    }
    return merged == null ? this : new GCounter(Collections.unmodifiableSortedMap(merged));
  }

  @Override
  public boolean isEmpty() {
    return counts.isEmpty();
  }

  @Override
  public GCounter contributionsOf(Predicate<ReplicaId> replicas) {
    TreeMap<ReplicaId, Long> kept = new TreeMap<>();
    counts.forEach(
        (replica, count) -> {
          if (replicas.test(replica)) {
            kept.put(replica, count);
          }
        });
    if (kept.size() == counts.size()) {
      return this;
    }
    return kept.isEmpty() ? EMPTY : new GCounter(Collections.unmodifiableSortedMap(kept));
  }

  @Override
  public CrdtType type() {
    return CrdtType.G_COUNTER;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof GCounter other && other.counts.equals(counts);
  }

  @Override
  public int hashCode() {
    return counts.hashCode();
  }

  @Override
  public String toString() {
    return "GCounter" + counts;
  }
}

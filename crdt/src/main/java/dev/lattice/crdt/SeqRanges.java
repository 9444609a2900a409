package dev.lattice.crdt;

import java.util.Arrays;

/**
 * An immutable set of positive sequence numbers, stored as sorted, disjoint, non-adjacent closed
 * ranges. One replica's part of a {@link DotSet}: in the usual case it is the single range {@code
 * 1..n}, and it only fragments while deltas arrive out of order.
 */
final class SeqRanges {

  static final SeqRanges EMPTY = new SeqRanges(new long[0]);

  /** first0, last0, first1, last1, ... ascending, with gaps of at least one between ranges. */
  private final long[] bounds;

  private SeqRanges(long[] bounds) {
    this.bounds = bounds;
  }

  static SeqRanges of(long first, long last) {
    return new SeqRanges(new long[] {first, last});
  }

  int rangeCount() {
    return bounds.length / 2;
  }

  long first(int range) {
    return bounds[2 * range];
  }

  long last(int range) {
    return bounds[2 * range + 1];
  }

  boolean isEmpty() {
    return bounds.length == 0;
  }

  /** The n such that 1..n is contained, 0 if 1 is missing. */
  long contiguousPrefix() {
    return bounds.length > 0 && bounds[0] == 1 ? bounds[1] : 0;
  }

  long max() {
    return bounds.length == 0 ? 0 : bounds[bounds.length - 1];
  }

  boolean contains(long seq) {
    // Few ranges in practice; binary search keeps fragmented replicas cheap too.
    int lo = 0;
    int hi = rangeCount() - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      if (seq < first(mid)) {
        hi = mid - 1;
      } else if (seq > last(mid)) {
        lo = mid + 1;
      } else {
        return true;
      }
    }
    return false;
  }

  boolean containsAll(SeqRanges other) {
    for (int i = 0; i < other.rangeCount(); i++) {
      if (!containsRange(other.first(i), other.last(i))) {
        return false;
      }
    }
    return true;
  }

  private boolean containsRange(long first, long last) {
    for (int i = 0; i < rangeCount(); i++) {
      if (first(i) <= first && last <= last(i)) {
        return true;
      }
    }
    return false;
  }

  SeqRanges add(long first, long last) {
    if (containsRange(first, last)) {
      return this;
    }
    long[] out = new long[bounds.length + 2];
    int n = 0;
    boolean placed = false;
    for (int i = 0; i < rangeCount(); i++) {
      if (!placed && first <= first(i)) {
        n = append(out, n, first, last);
        placed = true;
      }
      n = append(out, n, first(i), last(i));
    }
    if (!placed) {
      n = append(out, n, first, last);
    }
    return fromBounds(out, n);
  }

  SeqRanges union(SeqRanges other) {
    if (other.isEmpty() || other == this) {
      return this;
    }
    if (isEmpty()) {
      return other;
    }
    if (other.rangeCount() == 1) {
      return add(other.first(0), other.last(0));
    }
    // Linear merge of two sorted range lists, so a delta of many ranges costs its size.
    long[] merged = new long[bounds.length + other.bounds.length];
    int i = 0;
    int j = 0;
    int n = 0;
    while (i < rangeCount() || j < other.rangeCount()) {
      boolean takeMine =
          j == other.rangeCount() || (i < rangeCount() && first(i) <= other.first(j));
      long f = takeMine ? first(i) : other.first(j);
      long l = takeMine ? last(i++) : other.last(j++);
      n = append(merged, n, f, l);
    }
    return fromBounds(merged, n);
  }

  /**
   * Builds the set of the given ranges, which may overlap and come in any order, in O(n log n).
   *
   * @param firstsAndLasts first0, last0, first1, last1, ... each with 1 <= first <= last
   */
  static SeqRanges ofUnsorted(long[] firstsAndLasts) {
    int count = firstsAndLasts.length / 2;
    Integer[] order = new Integer[count];
    for (int k = 0; k < count; k++) {
      order[k] = k;
    }
    Arrays.sort(order, (a, b) -> Long.compare(firstsAndLasts[2 * a], firstsAndLasts[2 * b]));
    long[] merged = new long[firstsAndLasts.length];
    int n = 0;
    for (int k : order) {
      n = append(merged, n, firstsAndLasts[2 * k], firstsAndLasts[2 * k + 1]);
    }
    return fromBounds(merged, n);
  }

  /** Appends a range whose first is >= every first before it, coalescing with the last one. */
  private static int append(long[] bounds, int n, long first, long last) {
    if (n > 0 && first - 1 <= bounds[n - 1]) {
      bounds[n - 1] = Math.max(bounds[n - 1], last);
      return n;
    }
    bounds[n] = first;
    bounds[n + 1] = last;
    return n + 2;
  }

  private static SeqRanges fromBounds(long[] bounds, int n) {
    return n == 0 ? EMPTY : new SeqRanges(n == bounds.length ? bounds : Arrays.copyOf(bounds, n));
  }

  /** The members strictly greater than {@code floor}. */
  SeqRanges above(long floor) {
    if (floor <= 0) {
      return this;
    }
    long[] out = new long[bounds.length];
    int n = 0;
    for (int i = 0; i < rangeCount(); i++) {
      if (last(i) > floor) {
        out[n++] = Math.max(first(i), floor + 1);
        out[n++] = last(i);
      }
    }
    return n == 0 ? EMPTY : new SeqRanges(Arrays.copyOf(out, n));
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SeqRanges other && Arrays.equals(bounds, other.bounds);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(bounds);
  }
}

package dev.lattice.crdt;

import java.math.BigInteger;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * Operations on an immutable map from replica to a positive long whose join is the pointwise
 * maximum: the shared shape of {@link GCounter} and {@link VersionVector}.
 *
 * <p>The map is one {@code long[]} of interleaved (replica, value) pairs sorted by unsigned replica
 * id, held directly by its owner. Per-field maps are usually tiny, and a document of a million
 * fields holds two per field, so one small array beats a tree of boxed entries on every count:
 * memory, merge cost and garbage-collection work. Arrays are never mutated once published.
 */
final class ReplicaLongs {

  static final long[] EMPTY = new long[0];

  private ReplicaLongs() {}

  /** From a map whose values are already validated as >= 0; zero values are dropped. */
  static long[] of(Map<ReplicaId, Long> entries) {
    TreeMap<ReplicaId, Long> sorted = new TreeMap<>();
    entries.forEach(
        (replica, value) -> {
          if (value > 0) {
            sorted.put(replica, value);
          }
        });
    long[] pairs = new long[2 * sorted.size()];
    int i = 0;
    for (Map.Entry<ReplicaId, Long> e : sorted.entrySet()) {
      pairs[i++] = e.getKey().value();
      pairs[i++] = e.getValue();
    }
    return pairs.length == 0 ? EMPTY : pairs;
  }

  static int size(long[] pairs) {
    return pairs.length >> 1;
  }

  static ReplicaId replica(long[] pairs, int i) {
    return ReplicaId.of(pairs[2 * i]);
  }

  static long value(long[] pairs, int i) {
    return pairs[2 * i + 1];
  }

  /** Index of the pair for {@code replica}, or -(insertion point + 1). */
  private static int indexOf(long[] pairs, long replica) {
    int lo = 0;
    int hi = size(pairs) - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      int c = Long.compareUnsigned(pairs[2 * mid], replica);
      if (c < 0) {
        lo = mid + 1;
      } else if (c > 0) {
        hi = mid - 1;
      } else {
        return mid;
      }
    }
    return -(lo + 1);
  }

  static long get(long[] pairs, ReplicaId replica) {
    int i = indexOf(pairs, replica.value());
    return i >= 0 ? pairs[2 * i + 1] : 0;
  }

  /** The map with {@code replica} raised to at least {@code value}; {@code pairs} if unchanged. */
  static long[] withMax(long[] pairs, long replica, long value) {
    int i = indexOf(pairs, replica);
    if (i >= 0) {
      if (pairs[2 * i + 1] >= value) {
        return pairs;
      }
      long[] copy = pairs.clone();
      copy[2 * i + 1] = value;
      return copy;
    }
    if (value <= 0) {
      return pairs;
    }
    int at = 2 * -(i + 1);
    long[] out = new long[pairs.length + 2];
    System.arraycopy(pairs, 0, out, 0, at);
    out[at] = replica;
    out[at + 1] = value;
    System.arraycopy(pairs, at, out, at + 2, pairs.length - at);
    return out;
  }

  /** The pointwise maximum; returns {@code a} or {@code b} itself when one dominates. */
  static long[] merge(long[] a, long[] b) {
    if (a == b || b.length == 0) {
      return a;
    }
    if (a.length == 0) {
      return b;
    }
    if (b.length == 2) {
      return withMax(a, b[0], b[1]);
    }
    long[] out = new long[a.length + b.length];
    int i = 0;
    int j = 0;
    int n = 0;
    boolean aDominates = true;
    boolean bDominates = true;
    while (i < a.length || j < b.length) {
      int c = i == a.length ? 1 : j == b.length ? -1 : Long.compareUnsigned(a[i], b[j]);
      if (c < 0) {
        bDominates = false;
        out[n++] = a[i++];
        out[n++] = a[i++];
      } else if (c > 0) {
        aDominates = false;
        out[n++] = b[j++];
        out[n++] = b[j++];
      } else {
        long x = a[i + 1];
        long y = b[j + 1];
        aDominates &= x >= y;
        bDominates &= y >= x;
        out[n++] = a[i];
        out[n++] = Math.max(x, y);
        i += 2;
        j += 2;
      }
    }
    if (aDominates) {
      return a;
    }
    if (bDominates) {
      return b;
    }
    return n == out.length ? out : Arrays.copyOf(out, n);
  }

  /** How {@code a} relates to {@code b} under the pointwise order. */
  static Causality compare(long[] a, long[] b) {
    boolean aAhead = false;
    boolean bAhead = false;
    int i = 0;
    int j = 0;
    while ((i < a.length || j < b.length) && !(aAhead && bAhead)) {
      int c = i == a.length ? 1 : j == b.length ? -1 : Long.compareUnsigned(a[i], b[j]);
      if (c < 0) {
        aAhead = true;
        i += 2;
      } else if (c > 0) {
        bAhead = true;
        j += 2;
      } else {
        aAhead |= a[i + 1] > b[j + 1];
        bAhead |= b[j + 1] > a[i + 1];
        i += 2;
        j += 2;
      }
    }
    if (aAhead && bAhead) {
      return Causality.CONCURRENT;
    }
    if (aAhead) {
      return Causality.AFTER;
    }
    return bAhead ? Causality.BEFORE : Causality.EQUAL;
  }

  /** The pairs whose replica {@code keep} accepts; {@code pairs} itself if all are kept. */
  static long[] filter(long[] pairs, Predicate<ReplicaId> keep) {
    long[] out = new long[pairs.length];
    int n = 0;
    for (int i = 0; i < pairs.length; i += 2) {
      if (keep.test(ReplicaId.of(pairs[i]))) {
        out[n++] = pairs[i];
        out[n++] = pairs[i + 1];
      }
    }
    if (n == pairs.length) {
      return pairs;
    }
    return n == 0 ? EMPTY : Arrays.copyOf(out, n);
  }

  /** Sum of the values; throws ArithmeticException if it overflows. */
  /** The sum of the values, or -1 if it passes {@code Long.MAX_VALUE} (values are all >= 0). */
  static long sumOrMinusOne(long[] pairs) {
    long sum = 0;
    for (int i = 1; i < pairs.length; i += 2) {
      sum += pairs[i];
      // Two non-negative longs overflow exactly when their sum turns negative.
      if (sum < 0) {
        return -1;
      }
    }
    return sum;
  }

  /** The exact sum of the values, however large. */
  static BigInteger sumBig(long[] pairs) {
    BigInteger sum = BigInteger.ZERO;
    for (int i = 1; i < pairs.length; i += 2) {
      sum = sum.add(BigInteger.valueOf(pairs[i]));
    }
    return sum;
  }

  static SortedMap<ReplicaId, Long> toSortedMap(long[] pairs) {
    TreeMap<ReplicaId, Long> map = new TreeMap<>();
    for (int i = 0; i < pairs.length; i += 2) {
      map.put(ReplicaId.of(pairs[i]), pairs[i + 1]);
    }
    return Collections.unmodifiableSortedMap(map);
  }

  static String toString(long[] pairs, String separator) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < pairs.length; i += 2) {
      if (i > 0) {
        sb.append(", ");
      }
      sb.append(ReplicaId.of(pairs[i])).append(separator).append(pairs[i + 1]);
    }
    return sb.toString();
  }
}

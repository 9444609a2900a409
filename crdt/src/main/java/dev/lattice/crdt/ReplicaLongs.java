package dev.lattice.crdt;

import java.math.BigInteger;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.function.ToLongFunction;

/**
 * Operations on an immutable map from replica to a positive long whose join is the pointwise
 * maximum: the shared shape of {@link GCounter} and {@link VersionVector}, which hold the map as an
 * opaque {@code Object} and pass it here.
 *
 * <p>Two representations, chosen by size alone so that a given content always has the same one:
 *
 * <ul>
 *   <li>up to {@link #LEAF_MAX} entries, one {@code long[]} of interleaved (replica, value) pairs
 *       sorted by unsigned replica id. Per-field maps are usually tiny, and a document of a million
 *       fields holds two per field, so one small array beats any tree on memory, merge cost and
 *       garbage-collection work;
 *   <li>above it, a persistent B+-tree ({@link Node}) whose leaves are such arrays of up to {@link
 *       #LEAF_MAX} pairs and whose nodes keep their entry count and the exact (128-bit) sum of
 *       their values. A counter that every SDK process ever wrote to has thousands of entries, and
 *       copying all of them for each increment made an update cost O(R); the tree copies one leaf
 *       and one node per level, and answers the sum without a walk.
 * </ul>
 *
 * <p>Iteration order, equality and hash are those of the sorted pairs whatever the representation
 * (a tree builds and caches its flat pairs on the first walk that needs them). Arrays and nodes are
 * never mutated once published (the cache is written once, through a volatile field), so every map
 * is immutable and thread-safe.
 */
final class ReplicaLongs {

  static final long[] EMPTY = new long[0];

  /** Most pairs in a flat map and in a tree leaf; most children of a tree node. */
  static final int LEAF_MAX = 32;

  private static final int FANOUT = 32;

  private ReplicaLongs() {}

  /**
   * An inner node of the tree: children all leaves ({@code long[]}) or all nodes, in key order,
   * none empty.
   */
  static final class Node {
    final Object[] kids;
    // The smallest replica below this node, so that a search reads one level down, not to a leaf.
    final long first;
    final int size;
    // Exact sum of the values as an unsigned 128-bit number: at most 2^31 values below 2^63.
    final long sumLo;
    final long sumHi;
    private volatile long[] flat;

    private Node(Object[] kids, int size, long sumLo, long sumHi) {
      this.kids = kids;
      this.first = firstKey(kids[0]);
      this.size = size;
      this.sumLo = sumLo;
      this.sumHi = sumHi;
    }

    /** A node over {@code kids}, counting and summing them (so O(kids) and O(leaf) each). */
    static Node over(Object[] kids) {
      int size = 0;
      long lo = 0;
      long hi = 0;
      for (Object kid : kids) {
        if (kid instanceof long[] leaf) {
          size += leaf.length >> 1;
          for (int i = 1; i < leaf.length; i += 2) {
            long next = lo + leaf[i];
            hi += Long.compareUnsigned(next, lo) < 0 ? 1 : 0;
            lo = next;
          }
        } else {
          Node n = (Node) kid;
          size += n.size;
          long next = lo + n.sumLo;
          hi += n.sumHi + (Long.compareUnsigned(next, lo) < 0 ? 1 : 0);
          lo = next;
        }
      }
      return new Node(kids, size, lo, hi);
    }

    /** This node's counts with {@code kids} in place of its own, grown by one raise. */
    Node raised(Object[] kids, boolean added, long delta) {
      long lo = sumLo + delta;
      long hi = sumHi + (Long.compareUnsigned(lo, sumLo) < 0 ? 1 : 0);
      return new Node(kids, added ? size + 1 : size, lo, hi);
    }
  }

  /** From a map whose values are already validated as >= 0; zero values are dropped. */
  static Object of(Map<ReplicaId, Long> entries) {
    return of(entries, Long::longValue);
  }

  /**
   * From a map of any values, each read as a long by {@code valueOf} (which must not give a
   * negative one); zero values are dropped.
   */
  static <V> Object of(Map<ReplicaId, V> entries, ToLongFunction<? super V> valueOf) {
    // Sort the ids alone, flipped so that a signed sort gives the unsigned order, then look the
    // values up: cheaper than a TreeMap of boxed entries for the thousands a server's vector has.
    long[] keys = new long[entries.size()];
    int n = 0;
    for (Map.Entry<ReplicaId, V> e : entries.entrySet()) {
      if (valueOf.applyAsLong(e.getValue()) > 0) {
        keys[n++] = e.getKey().value() ^ Long.MIN_VALUE;
      }
    }
    Arrays.sort(keys, 0, n);
    long[] pairs = new long[2 * n];
    for (int i = 0; i < n; i++) {
      long replica = keys[i] ^ Long.MIN_VALUE;
      pairs[2 * i] = replica;
      pairs[2 * i + 1] = valueOf.applyAsLong(entries.get(ReplicaId.of(replica)));
    }
    return build(pairs);
  }

  /** The map of these sorted pairs in its canonical representation; may keep {@code pairs}. */
  static Object build(long[] pairs) {
    if (pairs.length == 0) {
      return EMPTY;
    }
    int n = pairs.length >> 1;
    if (n <= LEAF_MAX) {
      return pairs;
    }
    // Evenly filled leaves and nodes: every part holds at least half its capacity.
    int leafCount = (n + LEAF_MAX - 1) / LEAF_MAX;
    Object[] level = new Object[leafCount];
    for (int k = 0, from = 0; k < leafCount; k++) {
      int to = (int) ((long) n * (k + 1) / leafCount);
      level[k] = Arrays.copyOfRange(pairs, 2 * from, 2 * to);
      from = to;
    }
    do {
      int count = (level.length + FANOUT - 1) / FANOUT;
      Object[] up = new Object[count];
      for (int k = 0, from = 0; k < count; k++) {
        int to = (int) ((long) level.length * (k + 1) / count);
        up[k] = Node.over(Arrays.copyOfRange(level, from, to));
        from = to;
      }
      level = up;
    } while (level.length > 1);
    Node root = (Node) level[0];
    // The pairs are at hand: keep them for walks and lookups (see get) until the next raise
    // makes a new root.
    root.flat = pairs;
    return root;
  }

  static boolean isEmpty(Object map) {
    return map instanceof long[] pairs && pairs.length == 0;
  }

  static int size(Object map) {
    return map instanceof long[] pairs ? pairs.length >> 1 : ((Node) map).size;
  }

  static ReplicaId replica(Object map, int i) {
    return ReplicaId.of(flat(map)[2 * i]);
  }

  static long value(Object map, int i) {
    return flat(map)[2 * i + 1];
  }

  /** The sorted pairs; built once per tree and cached, so O(R) the first time only. */
  static long[] flat(Object map) {
    if (map instanceof long[] pairs) {
      return pairs;
    }
    Node root = (Node) map;
    long[] f = root.flat;
    if (f == null) {
      f = new long[2 * root.size];
      int n = collect(root, f, 0);
      assert n == f.length;
      root.flat = f;
    }
    return f;
  }

  private static int collect(Object tree, long[] out, int at) {
    if (tree instanceof long[] leaf) {
      System.arraycopy(leaf, 0, out, at, leaf.length);
      return at + leaf.length;
    }
    for (Object kid : ((Node) tree).kids) {
      at = collect(kid, out, at);
    }
    return at;
  }

  private static long firstKey(Object tree) {
    return tree instanceof long[] leaf ? leaf[0] : ((Node) tree).first;
  }

  /** The child of {@code node} whose range holds {@code replica}: the last starting at or below. */
  private static int childFor(Node node, long replica) {
    Object[] kids = node.kids;
    int lo = 1;
    int hi = kids.length - 1;
    int found = 0;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      if (Long.compareUnsigned(firstKey(kids[mid]), replica) <= 0) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** Index of the pair for {@code replica}, or -(insertion point + 1). */
  private static int indexOf(long[] pairs, long replica) {
    int lo = 0;
    int hi = (pairs.length >> 1) - 1;
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

  static long get(Object map, ReplicaId replica) {
    return get(map, replica.value());
  }

  private static long get(Object map, long replica) {
    long[] pairs = map instanceof long[] flat ? flat : leafFor((Node) map, replica);
    int i = indexOf(pairs, replica);
    return i >= 0 ? pairs[2 * i + 1] : 0;
  }

  /** The pairs among which {@code replica} is, if anywhere in the tree. */
  private static long[] leafFor(Node root, long replica) {
    long[] f = root.flat;
    if (f != null) {
      // One binary search over contiguous pairs beats a descent through the nodes.
      return f;
    }
    Object at = root;
    while (at instanceof Node n) {
      at = n.kids[childFor(n, replica)];
    }
    return (long[]) at;
  }

  /** The map with {@code replica} raised to at least {@code value}; {@code map} if unchanged. */
  static Object withMax(Object map, long replica, long value) {
    // Two small methods rather than one large one, so that the JIT inlines the flat path.
    return map instanceof long[] pairs
        ? flatWithMax(pairs, replica, value)
        : treeWithMax(map, replica, value);
  }

  /** The common small map: one search, one copy. */
  private static Object flatWithMax(long[] pairs, long replica, long value) {
    int i = indexOf(pairs, replica);
    if (i >= 0) {
      return pairs[2 * i + 1] >= value ? pairs : withPair(pairs, i, replica, value);
    }
    return value <= 0 ? pairs : build(withPair(pairs, i, replica, value));
  }

  /**
   * A copy of the sorted {@code pairs} with {@code replica} set to {@code value}, where {@code i}
   * is {@link #indexOf} of the replica: its value replaced, or the pair inserted in order.
   */
  private static long[] withPair(long[] pairs, int i, long replica, long value) {
    if (i >= 0) {
      long[] copy = pairs.clone();
      copy[2 * i + 1] = value;
      return copy;
    }
    int at = 2 * -(i + 1);
    long[] out = new long[pairs.length + 2];
    System.arraycopy(pairs, 0, out, 0, at);
    out[at] = replica;
    out[at + 1] = value;
    System.arraycopy(pairs, at, out, at + 2, pairs.length - at);
    return out;
  }

  private static Object treeWithMax(Object map, long replica, long value) {
    long old = get(map, replica);
    if (old >= value) {
      // Also covers value <= 0 for an absent replica: zero entries are never stored.
      return map;
    }
    Object raised = put(map, replica, value, old == 0, value - old);
    if (raised instanceof Object[] halves) {
      return Node.over(halves);
    }
    return raised;
  }

  /**
   * {@code tree} with {@code replica} set to {@code value}, known to raise it by {@code delta}: the
   * new subtree, or an {@code Object[2]} of its two halves when it outgrew its capacity.
   */
  private static Object put(Object tree, long replica, long value, boolean added, long delta) {
    if (tree instanceof long[] pairs) {
      int i = indexOf(pairs, replica);
      long[] out = withPair(pairs, i, replica, value);
      if (i >= 0 || out.length <= 2 * LEAF_MAX) {
        return out;
      }
      int half = 2 * ((out.length >> 1) / 2);
      return new Object[] {
        Arrays.copyOfRange(out, 0, half), Arrays.copyOfRange(out, half, out.length)
      };
    }
    Node node = (Node) tree;
    int k = childFor(node, replica);
    Object kid = put(node.kids[k], replica, value, added, delta);
    if (!(kid instanceof Object[] halves)) {
      Object[] kids = node.kids.clone();
      kids[k] = kid;
      return node.raised(kids, added, delta);
    }
    Object[] kids = new Object[node.kids.length + 1];
    System.arraycopy(node.kids, 0, kids, 0, k);
    kids[k] = halves[0];
    kids[k + 1] = halves[1];
    System.arraycopy(node.kids, k + 1, kids, k + 2, node.kids.length - k - 1);
    if (kids.length <= FANOUT) {
      return node.raised(kids, added, delta);
    }
    int half = kids.length / 2;
    return new Object[] {
      Node.over(Arrays.copyOfRange(kids, 0, half)),
      Node.over(Arrays.copyOfRange(kids, half, kids.length))
    };
  }

  /** The pointwise maximum; returns {@code a} or {@code b} itself when one dominates. */
  static Object merge(Object a, Object b) {
    if (a == b) {
      return a;
    }
    if (b instanceof long[] pb) {
      if (pb.length == 0) {
        return a;
      }
      // A one-increment delta: the per-update case. (Into an empty map, b itself is the answer.)
      if (pb.length == 2 && !isEmpty(a)) {
        return withMax(a, pb[0], pb[1]);
      }
    }
    return mergeMany(a, b);
  }

  private static Object mergeMany(Object a, Object b) {
    if (isEmpty(a)) {
      return b;
    }
    int sa = size(a);
    int sb = size(b);
    if (a instanceof Node || b instanceof Node) {
      // Raise the larger map by the smaller one's entries when that touches less than a walk of
      // both would: O(small · log large) instead of O(small + large).
      if (sb <= sa && (long) sb * 8 <= sa) {
        return raiseBy(a, b);
      }
      if (sa < sb && (long) sa * 8 <= sb) {
        return raiseBy(b, a);
      }
    }
    return mergeFlat(flat(a), flat(b), a, b);
  }

  /** {@code large} raised by every entry of {@code small}; whichever dominates, if either does. */
  private static Object raiseBy(Object large, Object small) {
    long[] ps = flat(small);
    Object out = large;
    for (int i = 0; i < ps.length; i += 2) {
      out = withMax(out, ps[i], ps[i + 1]);
    }
    if (out == large || size(out) != size(small)) {
      return out;
    }
    // Same key set: small dominates if the maximum took its value everywhere.
    for (int i = 0; i < ps.length; i += 2) {
      if (get(large, ps[i]) > ps[i + 1]) {
        return out;
      }
    }
    return small;
  }

  private static Object mergeFlat(long[] a, long[] b, Object mapA, Object mapB) {
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
      return mapA;
    }
    if (bDominates) {
      return mapB;
    }
    return build(n == out.length ? out : Arrays.copyOf(out, n));
  }

  /** How {@code a} relates to {@code b} under the pointwise order. */
  static Causality compare(Object mapA, Object mapB) {
    long[] a = flat(mapA);
    long[] b = flat(mapB);
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

  /**
   * The pairs of {@code map} whose value exceeds {@code other}'s for their replica; {@code map}
   * itself if all do. Walks both maps in step, or looks each pair up in {@code other} when {@code
   * map} is much the smaller: no id is boxed either way.
   */
  static Object above(Object map, Object other) {
    long[] a = flat(map);
    long[] out = null;
    int n = 0;
    boolean walk = size(map) * 16 >= size(other);
    long[] b = walk ? flat(other) : null;
    int j = 0;
    for (int i = 0; i < a.length; i += 2) {
      long replica = a[i];
      long floor;
      if (walk) {
        while (j < b.length && Long.compareUnsigned(b[j], replica) < 0) {
          j += 2;
        }
        floor = j < b.length && b[j] == replica ? b[j + 1] : 0;
      } else {
        floor = get(other, replica);
      }
      if (a[i + 1] > floor) {
        if (out == null) {
          out = new long[a.length];
        }
        out[n++] = replica;
        out[n++] = a[i + 1];
      }
    }
    if (n == a.length) {
      return map;
    }
    return n == 0 ? EMPTY : build(Arrays.copyOf(out, n));
  }

  /** The pairs whose replica {@code keep} accepts; {@code map} itself if all are kept. */
  static Object filter(Object map, Predicate<ReplicaId> keep) {
    long[] pairs = flat(map);
    long[] out = new long[pairs.length];
    int n = 0;
    for (int i = 0; i < pairs.length; i += 2) {
      if (keep.test(ReplicaId.of(pairs[i]))) {
        out[n++] = pairs[i];
        out[n++] = pairs[i + 1];
      }
    }
    if (n == pairs.length) {
      return map;
    }
    return n == 0 ? EMPTY : build(Arrays.copyOf(out, n));
  }

  /** The sum of the values, or -1 if it passes {@code Long.MAX_VALUE} (values are all >= 0). */
  static long sumOrMinusOne(Object map) {
    if (map instanceof Node root) {
      return root.sumHi == 0 && root.sumLo >= 0 ? root.sumLo : -1;
    }
    long[] pairs = (long[]) map;
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
  static BigInteger sumBig(Object map) {
    if (map instanceof Node root) {
      BigInteger lo =
          BigInteger.valueOf(root.sumLo >>> 1).shiftLeft(1).add(BigInteger.valueOf(root.sumLo & 1));
      return BigInteger.valueOf(root.sumHi).shiftLeft(64).add(lo);
    }
    long[] pairs = (long[]) map;
    BigInteger sum = BigInteger.ZERO;
    for (int i = 1; i < pairs.length; i += 2) {
      sum = sum.add(BigInteger.valueOf(pairs[i]));
    }
    return sum;
  }

  /** Equal content, whatever the representations. */
  static boolean equal(Object a, Object b) {
    if (a == b) {
      return true;
    }
    if (size(a) != size(b)) {
      return false;
    }
    if (a instanceof Node x && b instanceof Node y && (x.sumLo != y.sumLo || x.sumHi != y.sumHi)) {
      return false;
    }
    return Arrays.equals(flat(a), flat(b));
  }

  /** The hash of the sorted pairs, whatever the representation. */
  static int hash(Object map) {
    return Arrays.hashCode(flat(map));
  }

  static SortedMap<ReplicaId, Long> toSortedMap(Object map) {
    long[] pairs = flat(map);
    TreeMap<ReplicaId, Long> out = new TreeMap<>();
    for (int i = 0; i < pairs.length; i += 2) {
      out.put(ReplicaId.of(pairs[i]), pairs[i + 1]);
    }
    return Collections.unmodifiableSortedMap(out);
  }

  static String toString(Object map, String separator) {
    long[] pairs = flat(map);
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

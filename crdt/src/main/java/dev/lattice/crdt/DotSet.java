package dev.lattice.crdt;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * A set of dots: the causal context of a delta, saying exactly which mutations' effects it carries.
 * A single mutation's delta holds one dot; a catch-up delta holds ranges.
 *
 * <p>Stored per replica as sorted disjoint ranges, so {@code 1..1000000} costs two longs. Equal
 * sets iterate and encode identically. Immutable and thread-safe.
 */
public final class DotSet {

  private static final DotSet EMPTY = new DotSet(Collections.emptySortedMap());

  private final SortedMap<ReplicaId, SeqRanges> byReplica;

  private DotSet(SortedMap<ReplicaId, SeqRanges> byReplica) {
    this.byReplica = byReplica;
  }

  /** The empty set. */
  public static DotSet empty() {
    return EMPTY;
  }

  /** The set holding just {@code dot}. */
  public static DotSet of(Dot dot) {
    TreeMap<ReplicaId, SeqRanges> map = new TreeMap<>();
    map.put(dot.replica(), SeqRanges.of(dot.sequence(), dot.sequence()));
    return new DotSet(Collections.unmodifiableSortedMap(map));
  }

  /** The set holding every dot of every range (ranges may overlap). */
  public static DotSet of(Collection<DotRange> ranges) {
    if (ranges.isEmpty()) {
      return EMPTY;
    }
    TreeMap<ReplicaId, long[]> bounds = new TreeMap<>();
    TreeMap<ReplicaId, Integer> used = new TreeMap<>();
    for (DotRange r : ranges) {
      int n = used.getOrDefault(r.replica(), 0);
      long[] b = bounds.get(r.replica());
      if (b == null || b.length < n + 2) {
        b = b == null ? new long[2] : Arrays.copyOf(b, 2 * b.length);
        bounds.put(r.replica(), b);
      }
      b[n] = r.first();
      b[n + 1] = r.last();
      used.put(r.replica(), n + 2);
    }
    TreeMap<ReplicaId, SeqRanges> map = new TreeMap<>();
    bounds.forEach(
        (replica, b) ->
            map.put(replica, SeqRanges.ofUnsorted(Arrays.copyOf(b, used.get(replica)))));
    return new DotSet(Collections.unmodifiableSortedMap(map));
  }

  /** The set of every dot a state with this version vector has seen. */
  public static DotSet of(VersionVector vector) {
    if (vector.isEmpty()) {
      return EMPTY;
    }
    TreeMap<ReplicaId, SeqRanges> map = new TreeMap<>();
    vector.entries().forEach((replica, seq) -> map.put(replica, SeqRanges.of(1, seq)));
    return new DotSet(Collections.unmodifiableSortedMap(map));
  }

  static DotSet ofRanges(Map<ReplicaId, SeqRanges> ranges) {
    TreeMap<ReplicaId, SeqRanges> map = new TreeMap<>();
    ranges.forEach(
        (replica, seqs) -> {
          if (!seqs.isEmpty()) {
            map.put(replica, seqs);
          }
        });
    return map.isEmpty() ? EMPTY : new DotSet(Collections.unmodifiableSortedMap(map));
  }

  SortedMap<ReplicaId, SeqRanges> byReplica() {
    return byReplica;
  }

  /** Whether the set holds no dot. */
  public boolean isEmpty() {
    return byReplica.isEmpty();
  }

  /** Whether the set holds {@code dot}. */
  public boolean contains(Dot dot) {
    SeqRanges seqs = byReplica.get(dot.replica());
    return seqs != null && seqs.contains(dot.sequence());
  }

  /** Whether every dot of {@code other} is in this set. */
  public boolean containsAll(DotSet other) {
    return containsAll(byReplica, other);
  }

  /** Whether the per-replica ranges {@code held} include every dot of {@code dots}. */
  static boolean containsAll(Map<ReplicaId, SeqRanges> held, DotSet dots) {
    for (Map.Entry<ReplicaId, SeqRanges> e : dots.byReplica.entrySet()) {
      SeqRanges mine = held.get(e.getKey());
      if (mine == null || !mine.containsAll(e.getValue())) {
        return false;
      }
    }
    return true;
  }

  /** The set of dots in either. */
  public DotSet union(DotSet other) {
    if (other.isEmpty()) {
      return this;
    }
    if (isEmpty()) {
      return other;
    }
    TreeMap<ReplicaId, SeqRanges> map = new TreeMap<>(byReplica);
    other.byReplica.forEach((replica, seqs) -> map.merge(replica, seqs, SeqRanges::union));
    return new DotSet(Collections.unmodifiableSortedMap(map));
  }

  /** The greatest sequence of {@code replica} in this set, 0 if none. */
  public long maxSequence(ReplicaId replica) {
    SeqRanges seqs = byReplica.get(replica);
    return seqs == null ? 0 : seqs.max();
  }

  /** The number of dots, saturating at {@link Long#MAX_VALUE}. Costs the number of ranges. */
  long dotCount() {
    long n = 0;
    for (SeqRanges seqs : byReplica.values()) {
      for (int i = 0; i < seqs.rangeCount(); i++) {
        n += seqs.last(i) - seqs.first(i) + 1;
        if (n < 0) {
          return Long.MAX_VALUE;
        }
      }
    }
    return n;
  }

  /** Whether some replica with a dot in this set passes {@code test}. */
  boolean anyReplica(Predicate<ReplicaId> test) {
    for (ReplicaId replica : byReplica.keySet()) {
      if (test.test(replica)) {
        return true;
      }
    }
    return false;
  }

  /** Every dot, in order; for sets whose {@link #dotCount()} is small. */
  void forEachDot(Consumer<Dot> action) {
    byReplica.forEach(
        (replica, seqs) -> {
          for (int i = 0; i < seqs.rangeCount(); i++) {
            for (long s = seqs.first(i); s <= seqs.last(i); s++) {
              action.accept(new Dot(replica, s));
              if (s == Long.MAX_VALUE) {
                break;
              }
            }
          }
        });
  }

  /** This set without the given dots, which must be sorted ascending. */
  DotSet minus(List<Dot> sortedDots) {
    if (sortedDots.isEmpty()) {
      return this;
    }
    TreeMap<ReplicaId, List<Long>> drop = new TreeMap<>();
    for (Dot d : sortedDots) {
      drop.computeIfAbsent(d.replica(), r -> new ArrayList<>()).add(d.sequence());
    }
    TreeMap<ReplicaId, SeqRanges> map = new TreeMap<>(byReplica);
    drop.forEach(
        (replica, seqs) -> {
          SeqRanges held = map.get(replica);
          if (held == null) {
            return;
          }
          long[] bounds = new long[2 * (held.rangeCount() + seqs.size())];
          int n = 0;
          int j = 0;
          for (int i = 0; i < held.rangeCount(); i++) {
            long first = held.first(i);
            long last = held.last(i);
            boolean open = true;
            while (j < seqs.size() && seqs.get(j) < first) {
              j++;
            }
            while (open && j < seqs.size() && seqs.get(j) <= last) {
              long cut = seqs.get(j++);
              if (cut > first) {
                bounds[n++] = first;
                bounds[n++] = cut - 1;
              }
              if (cut == last) {
                open = false;
              } else {
                first = cut + 1;
              }
            }
            if (open) {
              bounds[n++] = first;
              bounds[n++] = last;
            }
          }
          if (n == 0) {
            map.remove(replica);
          } else {
            map.put(replica, SeqRanges.ofUnsorted(Arrays.copyOf(bounds, n)));
          }
        });
    return map.isEmpty() ? EMPTY : new DotSet(Collections.unmodifiableSortedMap(map));
  }

  /** The dots of this set that {@code vector} has not seen. */
  public DotSet notIn(VersionVector vector) {
    return notIn(byReplica, vector);
  }

  /** The ranges of this set, sorted by replica then sequence, disjoint and non-adjacent. */
  public List<DotRange> ranges() {
    List<DotRange> out = new ArrayList<>();
    byReplica.forEach(
        (replica, seqs) -> {
          for (int i = 0; i < seqs.rangeCount(); i++) {
            out.add(new DotRange(replica, seqs.first(i), seqs.last(i)));
          }
        });
    return List.copyOf(out);
  }

  /** The dot, if this set holds exactly one. */
  public Optional<Dot> singleDot() {
    if (byReplica.size() != 1) {
      return Optional.empty();
    }
    Map.Entry<ReplicaId, SeqRanges> e = byReplica.entrySet().iterator().next();
    SeqRanges seqs = e.getValue();
    if (seqs.rangeCount() != 1 || seqs.first(0) != seqs.last(0)) {
      return Optional.empty();
    }
    return Optional.of(new Dot(e.getKey(), seqs.first(0)));
  }

  /** The largest vector all of whose dots this set holds (the gap-free prefixes). */
  public VersionVector versionVector() {
    return prefixes(byReplica);
  }

  /** The gap-free prefix of each replica's ranges, as a version vector. */
  static VersionVector prefixes(Map<ReplicaId, SeqRanges> ranges) {
    // No map of boxed prefixes in between: a document's context can name tens of thousands of
    // replicas, and this runs per SUBSCRIBE.
    return VersionVector.of(ranges, SeqRanges::contiguousPrefix);
  }

  /**
   * The dots of {@code ranges} (held sequences by replica) that {@code vector} has not seen: {@code
   * ofRanges(ranges).notIn(vector)} without building the whole set first.
   */
  static DotSet notIn(Map<ReplicaId, SeqRanges> ranges, VersionVector vector) {
    TreeMap<ReplicaId, SeqRanges> map = new TreeMap<>();
    ranges.forEach(
        (replica, seqs) -> {
          SeqRanges rest = seqs.above(vector.get(replica));
          if (!rest.isEmpty()) {
            map.put(replica, rest);
          }
        });
    return map.isEmpty() ? EMPTY : new DotSet(Collections.unmodifiableSortedMap(map));
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof DotSet other && other.byReplica.equals(byReplica);
  }

  @Override
  public int hashCode() {
    return byReplica.hashCode();
  }

  @Override
  public String toString() {
    return ranges().toString();
  }
}

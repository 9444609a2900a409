package dev.lattice.crdt;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The state shared by the causal CRDTs: a dot store mapping each live dot to a value (the paper's
 * {@code DotFun}), an index of the live dots by key, and the causal context, the exact set of dots
 * whose effects the state has seen (Almeida, Shoker, Baquero, "Delta State Replicated Data Types",
 * §6). A dot in the context without an entry was seen and then removed: that is how a remove
 * travels, and why a removed entry never comes back.
 *
 * <p>The join keeps an entry if both sides hold it, or if the other side has not seen its dot. It
 * works from the larger side and touches only the smaller side's entries and context dots (or the
 * larger side's entries, if the smaller context names more dots than those), so joining a small
 * delta costs {@code O(d log n)} for a delta of size {@code d} into a state of size {@code n}.
 * Because the context is an exact dot set, gaps included, joins of deltas in any order give the
 * same state: no causal delivery is needed for convergence.
 *
 * <p>Immutable and thread-safe when {@code V} is immutable.
 *
 * @param <K> the key entries are grouped by (the element, the map key)
 * @param <V> the entries' values
 */
final class DotStore<K extends Comparable<? super K>, V> {

  @SuppressWarnings({"rawtypes", "unchecked"})
  private static final DotStore EMPTY = new DotStore(PMap.empty(), PMap.empty(), DotSet.empty());

  private final PMap<Dot, V> entries;
  private final PMap<K, Dots> byKey;
  private final DotSet context;

  private DotStore(PMap<Dot, V> entries, PMap<K, Dots> byKey, DotSet context) {
    this.entries = entries;
    this.byKey = byKey;
    this.context = context;
  }

  @SuppressWarnings("unchecked")
  static <K extends Comparable<? super K>, V> DotStore<K, V> empty() {
    return (DotStore<K, V>) EMPTY;
  }

  /**
   * The store with these entries and context.
   *
   * @throws IllegalArgumentException if an entry's dot is not in the context
   */
  static <K extends Comparable<? super K>, V> DotStore<K, V> of(
      Map<Dot, V> entries, DotSet context, Function<V, K> keyOf) {
    DotStore<K, V> store = new DotStore<K, V>(PMap.<Dot, V>empty(), PMap.<K, Dots>empty(), context);
    for (Map.Entry<Dot, V> e : entries.entrySet()) {
      if (!context.contains(e.getKey())) {
        throw new IllegalArgumentException(
            "entry " + e.getKey() + " is not in the causal context " + context);
      }
      store = store.with(e.getKey(), e.getValue(), keyOf);
    }
    return store;
  }

  PMap<Dot, V> entries() {
    return entries;
  }

  /** Whether every live entry's dot is {@code replica}'s and its value passes {@code ok}. */
  boolean entriesOnlyFrom(ReplicaId replica, Predicate<V> ok) {
    for (Map.Entry<Dot, V> entry : entries) {
      if (!entry.getKey().replica().equals(replica) || !ok.test(entry.getValue())) {
        return false;
      }
    }
    return true;
  }

  DotSet context() {
    return context;
  }

  /** The live dots of {@code key}, ascending; empty if none. */
  List<Dot> dotsOf(K key) {
    Dots dots = byKey.get(key);
    return dots == null ? List.of() : dots.list();
  }

  /** The keys with a live dot, with their dots, in no particular order. */
  PMap<K, Dots> byKey() {
    return byKey;
  }

  /**
   * What the state type keeps with {@code key} ({@link Dots#attachment()}); null if the key has no
   * live dot or nothing is kept.
   */
  Object attachment(K key) {
    Dots dots = byKey.get(key);
    return dots == null ? null : dots.attachment;
  }

  /**
   * This store with {@code attachment} kept with {@code key}, whose dots in this store are {@code
   * dots} (as the caller just read them from {@link #byKey()}: not looked up again). Not part of
   * equality; see {@link Dots#attachment()}.
   */
  DotStore<K, V> withAttachment(K key, Dots dots, Object attachment) {
    assert byKey.get(key) == dots : "not the dots of " + key;
    return dots.attachment == attachment
        ? this
        : new DotStore<>(entries, byKey.put(key, dots.withAttachment(attachment)), context);
  }

  boolean isEmpty() {
    return context.isEmpty();
  }

  /**
   * The delta of a mutation with the fresh dot {@code dot}: the entry {@code dot -> value} if
   * {@code value} is not null, over the context {@code dot} plus the dots it supersedes.
   */
  static <K extends Comparable<? super K>, V> DotStore<K, V> delta(
      Dot dot, V value, List<Dot> superseded, Function<V, K> keyOf) {
    List<DotRange> ranges = new ArrayList<>(superseded.size() + 1);
    ranges.add(new DotRange(dot.replica(), dot.sequence(), dot.sequence()));
    for (Dot d : superseded) {
      ranges.add(new DotRange(d.replica(), d.sequence(), d.sequence()));
    }
    DotStore<K, V> delta =
        new DotStore<K, V>(PMap.<Dot, V>empty(), PMap.<K, Dots>empty(), DotSet.of(ranges));
    return value == null ? delta : delta.with(dot, value, keyOf);
  }

  /**
   * The delta of a mutation with the fresh dot {@code dot}: the entry {@code dot -> value} if
   * {@code value} is not null, over {@code context}, which holds {@code dot} and the dots the
   * mutation retracts.
   */
  static <K extends Comparable<? super K>, V> DotStore<K, V> delta(
      Dot dot, V value, DotSet context, Function<V, K> keyOf) {
    if (!context.contains(dot)) {
      throw new IllegalArgumentException("the context " + context + " lacks the dot " + dot);
    }
    DotStore<K, V> delta = new DotStore<K, V>(PMap.<Dot, V>empty(), PMap.<K, Dots>empty(), context);
    return value == null ? delta : delta.with(dot, value, keyOf);
  }

  /**
   * Whether this store is one leaf made at {@code dot}: its one live entry and its whole context
   * are {@code dot} (the form an OR-Map entry of a causal type holds, see {@link ORMap}).
   */
  boolean isLeafAt(Dot dot) {
    return entries.size() == 1 && entries.containsKey(dot) && context.dotCount() == 1;
  }

  /** The live entry at {@code dot} alone, over the context {@code dot}; null if there is none. */
  DotStore<K, V> leafAt(Dot dot, Function<V, K> keyOf) {
    V value = entries.get(dot);
    return value == null ? null : delta(dot, value, List.of(), keyOf);
  }

  /** This store with {@code extra} dots added to its context. */
  DotStore<K, V> withContext(DotSet extra) {
    return context.containsAll(extra) ? this : new DotStore<>(entries, byKey, context.union(extra));
  }

  /** Checks that a mutation's dot is new to this state. */
  void requireFresh(Dot dot, String type) {
    if (context.contains(dot)) {
      throw new IllegalArgumentException(
          type + " mutation dot " + dot + " was already used: dots must be fresh");
    }
  }

  private DotStore<K, V> with(Dot dot, V value, Function<V, K> keyOf) {
    return new DotStore<>(entries.put(dot, value), addDot(byKey, keyOf.apply(value), dot), context);
  }

  private static <K extends Comparable<? super K>> PMap<K, Dots> addDot(
      PMap<K, Dots> byKey, K key, Dot dot) {
    Dots dots = byKey.get(key);
    return byKey.put(key, dots == null ? Dots.of(dot) : dots.with(dot));
  }

  private static <K extends Comparable<? super K>> PMap<K, Dots> removeDot(
      PMap<K, Dots> byKey, K key, Dot dot) {
    Dots dots = byKey.get(key);
    if (dots == null) {
      return byKey;
    }
    Dots rest = dots.without(dot);
    if (rest == dots) {
      return byKey;
    }
    return rest == null ? byKey.remove(key) : byKey.put(key, rest);
  }

  /**
   * The live dots of one key: an ascending list while they are few (an element's dots, one per
   * concurrent add), a persistent set once they are many (an OR-Map key of single-leaf entries has
   * one per nested element), so that adding or removing one costs {@code O(log n)}, not a copy.
   * Immutable and thread-safe.
   */
  static final class Dots {
    private static final int SMALL = 16;

    private final List<Dot> small;
    private final PMap<Dot, Dot> large;
    private final Object attachment;

    private Dots(List<Dot> small, PMap<Dot, Dot> large, Object attachment) {
      this.small = small;
      this.large = large;
      this.attachment = attachment;
    }

    static Dots of(Dot dot) {
      return new Dots(List.of(dot), null, null);
    }

    /**
     * What the state type keeps with the key, derived from its entries (an OR-Map's joined value of
     * the key), or null. Kept here, not in a map of its own, so that a join that changes a key
     * walks one index to it, not two: in a large state each walk is a few cache misses. The dot
     * store carries it along unchanged when the key's dots change; the state type that keeps it
     * must update it for every key a join or a removal touched. Stores built from entries ({@link
     * #of}, {@link #delta}, a part taken by {@link #contributionsOf}) have none.
     */
    Object attachment() {
      return attachment;
    }

    Dots withAttachment(Object attachment) {
      return new Dots(small, large, attachment);
    }

    int size() {
      return small != null ? small.size() : large.size();
    }

    /** The dots, ascending; costs a sort of them once they are many. */
    List<Dot> list() {
      if (small != null) {
        return small;
      }
      ArrayList<Dot> out = new ArrayList<>(large.size());
      for (Map.Entry<Dot, Dot> e : large) {
        out.add(e.getKey());
      }
      out.sort(null);
      return List.copyOf(out);
    }

    Dots with(Dot dot) {
      if (small == null) {
        PMap<Dot, Dot> grown = large.put(dot, dot);
        return grown == large ? this : new Dots(null, grown, attachment);
      }
      if (small.size() >= SMALL) {
        PMap<Dot, Dot> set = PMap.empty();
        for (Dot d : small) {
          set = set.put(d, d);
        }
        return new Dots(null, set.put(dot, dot), attachment);
      }
      ArrayList<Dot> copy = new ArrayList<>(small.size() + 1);
      int i = 0;
      while (i < small.size() && small.get(i).compareTo(dot) < 0) {
        copy.add(small.get(i++));
      }
      if (i < small.size() && small.get(i).equals(dot)) {
        return this;
      }
      copy.add(dot);
      while (i < small.size()) {
        copy.add(small.get(i++));
      }
      return new Dots(List.copyOf(copy), null, attachment);
    }

    /** These dots less {@code dot}: this if absent, null if none is left. */
    Dots without(Dot dot) {
      if (small == null) {
        if (!large.containsKey(dot)) {
          return this;
        }
        PMap<Dot, Dot> rest = large.remove(dot);
        if (rest.size() > SMALL / 2) {
          return new Dots(null, rest, attachment);
        }
        ArrayList<Dot> few = new ArrayList<>(rest.size());
        for (Map.Entry<Dot, Dot> e : rest) {
          few.add(e.getKey());
        }
        few.sort(null);
        return new Dots(List.copyOf(few), null, attachment);
      }
      int at = small.indexOf(dot);
      if (at < 0) {
        return this;
      }
      if (small.size() == 1) {
        return null;
      }
      ArrayList<Dot> copy = new ArrayList<>(small);
      copy.remove(at);
      return new Dots(List.copyOf(copy), null, attachment);
    }
  }

  /**
   * What a {@link #join(DotStore, Function, Changes)} changed, relative to the side it built the
   * result from (its base, the larger): the base's entries it dropped and the other side's entries
   * it added. A state that keeps an index derived from its entries (an OR-Map's values by key)
   * updates the base's index with these, at the cost of the change, not of the state. Filled by one
   * join; confined to its caller.
   */
  static final class Changes<V> {
    boolean baseIsThis = true;
    final List<Dot> removedDots = new ArrayList<>();
    final List<V> removedValues = new ArrayList<>();
    final List<Dot> addedDots = new ArrayList<>();
    final List<V> addedValues = new ArrayList<>();
  }

  /** The join; returns one of the two when it is the result (by identity). */
  DotStore<K, V> join(DotStore<K, V> other, Function<V, K> keyOf) {
    return join(other, keyOf, null);
  }

  /**
   * The join, as {@link #join(DotStore, Function)}, reporting into {@code changes} (if not null)
   * which side it started from and what it removed from and added to that side.
   */
  DotStore<K, V> join(DotStore<K, V> other, Function<V, K> keyOf, Changes<V> changes) {
    if (other == this || other.isEmpty()) {
      return this;
    }
    if (isEmpty()) {
      if (changes != null) {
        changes.baseIsThis = false;
      }
      return other;
    }
    DotStore<K, V> base = entries.size() >= other.entries.size() ? this : other;
    if (changes != null) {
      changes.baseIsThis = base == this;
    }
    DotStore<K, V> small = base == this ? other : this;
    PMap<Dot, V> e = base.entries;
    PMap<K, Dots> k = base.byKey;
    // Entries of the base that the small side has seen and no longer holds, with their values.
    // Each lookup in a large state is a walk down cold trie nodes, a few cache misses, so it is
    // made once, and not at all for a dot the base has not seen (its entries' dots are all in its
    // context): a delta's own new dot costs no walk here.
    List<Dot> removed = new ArrayList<>();
    List<V> removedValues = new ArrayList<>();
    if (small.context.dotCount() <= base.entries.size()) {
      small.context.forEachDot(
          d -> {
            V held = base.context.contains(d) ? base.entries.get(d) : null;
            if (held != null && !small.entries.containsKey(d)) {
              removed.add(d);
              removedValues.add(held);
            }
          });
    } else {
      for (Map.Entry<Dot, V> entry : base.entries) {
        Dot d = entry.getKey();
        if (small.context.contains(d) && !small.entries.containsKey(d)) {
          removed.add(d);
          removedValues.add(entry.getValue());
        }
      }
    }
    for (int i = 0; i < removed.size(); i++) {
      Dot d = removed.get(i);
      k = removeDot(k, keyOf.apply(removedValues.get(i)), d);
      e = e.remove(d);
    }
    // Entries of the small side that the base has not seen (so does not hold: no lookup).
    for (Map.Entry<Dot, V> entry : small.entries) {
      Dot d = entry.getKey();
      if (!base.context.contains(d)) {
        e = e.put(d, entry.getValue());
        k = addDot(k, keyOf.apply(entry.getValue()), d);
        if (changes != null) {
          changes.addedDots.add(d);
          changes.addedValues.add(entry.getValue());
        }
      }
    }
    if (changes != null) {
      changes.removedDots.addAll(removed);
      changes.removedValues.addAll(removedValues);
    }
    DotSet c =
        base.context.containsAll(small.context) ? base.context : base.context.union(small.context);
    if (e == base.entries && c == base.context) {
      return base;
    }
    return new DotStore<>(e, k, c);
  }

  /**
   * The part of this state that {@code replicas}' mutations produced: their live entries, over the
   * context less the live entries of other replicas (so every removal this state has seen travels
   * with it, and no live entry of another replica is retracted). Empty if no replica of the context
   * passes. Walks the whole state.
   */
  DotStore<K, V> contributionsOf(Predicate<ReplicaId> replicas, Function<V, K> keyOf) {
    if (!context.anyReplica(replicas)) {
      return empty();
    }
    List<Dot> others = new ArrayList<>();
    PMap<Dot, V> e = PMap.<Dot, V>empty();
    PMap<K, Dots> k = PMap.<K, Dots>empty();
    for (Map.Entry<Dot, V> entry : entries) {
      Dot d = entry.getKey();
      if (replicas.test(d.replica())) {
        e = e.put(d, entry.getValue());
        k = addDot(k, keyOf.apply(entry.getValue()), d);
      } else {
        others.add(d);
      }
    }
    if (others.isEmpty()) {
      return this;
    }
    others.sort(null);
    return new DotStore<>(e, k, context.minus(others));
  }

  /**
   * This state without the entries at {@code sortedDots} and without those dots in its context: as
   * if the mutations that made them had never been seen. Costs {@code O(d log n)} plus the
   * context's ranges.
   */
  DotStore<K, V> without(List<Dot> sortedDots, Function<V, K> keyOf) {
    PMap<Dot, V> e = entries;
    PMap<K, Dots> k = byKey;
    for (Dot d : sortedDots) {
      V held = e.get(d);
      if (held != null) {
        k = removeDot(k, keyOf.apply(held), d);
        e = e.remove(d);
      }
    }
    DotSet c = context.minus(sortedDots);
    return c.isEmpty() ? empty() : new DotStore<>(e, k, c);
  }

  /** This state with every entry's value mapped; keys must not change. */
  <W> DotStore<K, W> mapValues(Function<V, W> f) {
    PMap<Dot, W> e = PMap.<Dot, W>empty();
    for (Map.Entry<Dot, V> entry : entries) {
      e = e.put(entry.getKey(), f.apply(entry.getValue()));
    }
    return new DotStore<>(e, byKey, context);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof DotStore<?, ?> other
        && other.entries.equals(entries)
        && other.context.equals(context);
  }

  @Override
  public int hashCode() {
    return 31 * entries.hashCode() + context.hashCode();
  }

  @Override
  public String toString() {
    return entries + " / " + context;
  }
}

package dev.lattice.crdt;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * An add-wins observed-remove set of {@link Value}s (the paper's AWORSet, §7.1): each add tags the
 * element with the add's dot; a remove retracts the dots of the element that its writer had seen.
 * An add concurrent with a remove therefore survives it, and a remove never removes an add it did
 * not observe. Re-adding an element replaces the element's dots the writer had seen by the new one,
 * so an element carries one dot per concurrent add, not one per add ever made.
 *
 * <p>A causal CRDT ({@link CausalCrdt}): no causal delivery needed. Merging a small delta costs
 * {@code O(d log n)} for a delta of {@code d} dots into a set of {@code n} elements (persistent
 * trees, nothing copied wholesale).
 *
 * <p>Immutable and thread-safe.
 */
public final class ORSet implements CausalCrdt<ORSet> {

  private static final Function<Value, Value> KEY = Function.identity();
  private static final ORSet EMPTY = new ORSet(DotStore.empty());

  private final DotStore<Value, Value> store;

  private ORSet(DotStore<Value, Value> store) {
    this.store = store;
  }

  private static ORSet wrap(DotStore<Value, Value> store) {
    return store.isEmpty() ? EMPTY : new ORSet(store);
  }

  /** The empty set that has seen nothing. */
  public static ORSet empty() {
    return EMPTY;
  }

  /**
   * The set with these live dots and this context, as a codec reads it back.
   *
   * @throws IllegalArgumentException if a dot is not in the context or tags two elements
   */
  public static ORSet of(Map<Value, ? extends Iterable<Dot>> elements, DotSet context) {
    TreeMap<Dot, Value> entries = new TreeMap<>();
    elements.forEach(
        (element, dots) -> {
          Objects.requireNonNull(element, "element");
          for (Dot dot : dots) {
            if (entries.put(dot, element) != null) {
              throw new IllegalArgumentException("OR-Set dot " + dot + " tags two elements");
            }
          }
        });
    return wrap(DotStore.of(entries, Objects.requireNonNull(context, "context"), KEY));
  }

  /** Adds {@code element} with the fresh dot {@code dot}. */
  public Mutation<ORSet> add(Dot dot, Value element) {
    Objects.requireNonNull(element, "element");
    store.requireFresh(dot, "OR-Set");
    return apply(DotStore.delta(dot, element, store.dotsOf(element), KEY));
  }

  /** Adds {@code element} with {@code replica}'s next dot. */
  public Mutation<ORSet> add(ReplicaId replica, Value element) {
    return add(nextDot(replica), element);
  }

  /**
   * Removes {@code element} as this state sees it: the delta's context holds the element's live
   * dots (and the fresh {@code dot}, so the remove is a mutation of its writer like any other).
   * Removing an absent element changes nothing but the context.
   */
  public Mutation<ORSet> remove(Dot dot, Value element) {
    Objects.requireNonNull(element, "element");
    store.requireFresh(dot, "OR-Set");
    return apply(DotStore.delta(dot, null, store.dotsOf(element), KEY));
  }

  /** Removes {@code element} with {@code replica}'s next dot. */
  public Mutation<ORSet> remove(ReplicaId replica, Value element) {
    return remove(nextDot(replica), element);
  }

  private Mutation<ORSet> apply(DotStore<Value, Value> delta) {
    return new Mutation<>(wrap(store.join(delta, KEY)), wrap(delta));
  }

  /** Whether {@code element} is in the set. */
  public boolean contains(Value element) {
    return store.byKey().containsKey(element);
  }

  /** The elements, in {@link Value} order. Costs the size of the set. */
  public SortedSet<Value> elements() {
    TreeSet<Value> out = new TreeSet<>();
    for (Map.Entry<Value, DotStore.Dots> e : store.byKey()) {
      out.add(e.getKey());
    }
    return Collections.unmodifiableSortedSet(out);
  }

  /** The elements with their live dots, in {@link Value} order. Costs the size of the set. */
  public SortedMap<Value, List<Dot>> entries() {
    TreeMap<Value, List<Dot>> out = new TreeMap<>();
    for (Map.Entry<Value, DotStore.Dots> e : store.byKey()) {
      out.put(e.getKey(), e.getValue().list());
    }
    return Collections.unmodifiableSortedMap(out);
  }

  /** The number of elements. */
  public int size() {
    return store.byKey().size();
  }

  /** The number of live dots (one per element, more after concurrent adds). */
  public int dotCount() {
    return store.entries().size();
  }

  /**
   * Whether this state is one leaf made at {@code dot}: its one live entry and its whole context
   * are {@code dot} (the form an OR-Map entry holds, see {@link ORMap}).
   */
  boolean singleLeafAt(Dot dot) {
    return store.isLeafAt(dot);
  }

  /** The live entry at {@code dot} alone over the context {@code dot}; null if none. */
  ORSet leafAt(Dot dot) {
    DotStore<Value, Value> leaf = store.leafAt(dot, KEY);
    return leaf == null ? null : new ORSet(leaf);
  }

  /**
   * This state as if the mutations of {@code sortedDots} had never been seen: their entries and
   * their context dots gone. On a join of single leaves this gives the join of the other leaves.
   */
  ORSet withoutDots(List<Dot> sortedDots) {
    return wrap(store.without(sortedDots, KEY));
  }

  @Override
  public DotSet context() {
    return store.context();
  }

  @Override
  public ORSet merge(ORSet other) {
    DotStore<Value, Value> joined = store.join(other.store, KEY);
    if (joined == store) {
      return this;
    }
    return joined == other.store ? other : new ORSet(joined);
  }

  @Override
  public boolean isEmpty() {
    return store.isEmpty();
  }

  @Override
  public ORSet contributionsOf(Predicate<ReplicaId> replicas) {
    DotStore<Value, Value> part = store.contributionsOf(replicas, KEY);
    return part == store ? this : wrap(part);
  }

  @Override
  public boolean liveOnlyFrom(ReplicaId replica) {
    return store.entriesOnlyFrom(replica, v -> true);
  }

  @Override
  public CrdtType type() {
    return CrdtType.OR_SET;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ORSet other && other.store.equals(store);
  }

  @Override
  public int hashCode() {
    return store.hashCode();
  }

  @Override
  public String toString() {
    List<String> parts = new ArrayList<>();
    for (Map.Entry<Value, DotStore.Dots> e : store.byKey()) {
      parts.add(e.getKey() + "@" + e.getValue().list());
    }
    return "ORSet" + parts + " / " + store.context();
  }
}

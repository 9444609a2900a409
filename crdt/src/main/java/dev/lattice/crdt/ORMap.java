package dev.lattice.crdt;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

/**
 * An observed-remove map from string keys to nested CRDTs of any {@link CrdtType}, OR-Maps
 * included. Each update of a key is an entry tagged with the update's dot that holds the key's
 * whole nested state as its writer left it, and supersedes the key's entries its writer had seen; a
 * remove retracts the entries its writer had seen. So a key updated concurrently with its removal
 * stays, holding what the concurrent updater wrote (the paper's ORMap keeps only the concurrent
 * update's own effects instead; with whole states per entry this map works for nested types that
 * are not causal, counters and LWW registers included). The value of a key is the join of its live
 * entries; concurrent updates therefore merge as their type merges.
 *
 * <p>Should concurrent updates give one key different types, the key's value is the join of the
 * entries of the first type in {@link CrdtType} declaration order; the next update through this map
 * supersedes them all. Nesting depth is not bounded here but by the codec ({@link
 * dev.lattice.crdt.codec.CodecLimits#maxCrdtDepth()}).
 *
 * <p>A causal CRDT ({@link CausalCrdt}): no causal delivery needed. Merging a small delta costs
 * {@code O(d log n)} for a delta of {@code d} entries into a map of {@code n} keys. Immutable and
 * thread-safe.
 */
public final class ORMap implements CausalCrdt<ORMap> {

  /** One update's entry: the key and the nested state its writer left. */
  record Entry(String key, Crdt<?> state) {
    Entry {
      Objects.requireNonNull(key, "key");
      Objects.requireNonNull(state, "state");
    }
  }

  private static final Function<Entry, String> KEY = Entry::key;
  private static final ORMap EMPTY = new ORMap(DotStore.empty());

  private final DotStore<String, Entry> store;

  private ORMap(DotStore<String, Entry> store) {
    this.store = store;
  }

  private static ORMap wrap(DotStore<String, Entry> store) {
    return store.isEmpty() ? EMPTY : new ORMap(store);
  }

  /** The empty map that has seen nothing. */
  public static ORMap empty() {
    return EMPTY;
  }

  /**
   * The map with these live entries (dot to key and nested state) and this context, as a codec
   * reads it back.
   *
   * @throws IllegalArgumentException if an entry's dot is not in the context
   */
  public static ORMap of(Map<Dot, Map.Entry<String, Crdt<?>>> entries, DotSet context) {
    TreeMap<Dot, Entry> copy = new TreeMap<>();
    entries.forEach((dot, e) -> copy.put(dot, new Entry(e.getKey(), e.getValue())));
    return wrap(DotStore.of(copy, Objects.requireNonNull(context, "context"), KEY));
  }

  /**
   * Changes the value of {@code key}, of type {@code kind}, with the fresh dot {@code dot}: {@code
   * change} gets the key's current state (the empty state if the key is absent) and returns the new
   * one. A nested causal mutation should use {@code dot} too.
   *
   * @throws FieldTypeMismatchException if the key holds another type
   */
  public <T extends Crdt<T>> Mutation<ORMap> update(
      Dot dot, String key, CrdtKind<T> kind, UnaryOperator<T> change) {
    Objects.requireNonNull(key, "key");
    store.requireFresh(dot, "OR-Map");
    Optional<Crdt<?>> current = get(key);
    if (current.isPresent() && current.get().type() != kind.type()) {
      throw new FieldTypeMismatchException(key, current.get().type(), kind.type());
    }
    T before = current.isPresent() ? kind.cast(current.get()) : kind.empty();
    T after = Objects.requireNonNull(change.apply(before), "changed state");
    DotStore<String, Entry> delta =
        DotStore.delta(dot, new Entry(key, after), store.dotsOf(key), KEY);
    // The nested state carries the dots of the updates it grew from: the map's context must hold
    // them too, so that the map's next dots stay fresh for nested causal mutations.
    if (after instanceof CausalCrdt<?> causal) {
      delta = delta.withContext(causal.context());
    }
    return apply(delta);
  }

  /** Removes {@code key} as this state sees it, with the fresh dot {@code dot}. */
  public Mutation<ORMap> remove(Dot dot, String key) {
    Objects.requireNonNull(key, "key");
    store.requireFresh(dot, "OR-Map");
    return apply(DotStore.delta(dot, null, store.dotsOf(key), KEY));
  }

  private Mutation<ORMap> apply(DotStore<String, Entry> delta) {
    return new Mutation<>(wrap(store.join(delta, KEY)), wrap(delta));
  }

  /** Whether {@code key} has a value. */
  public boolean containsKey(String key) {
    return store.byKey().containsKey(key);
  }

  /** The value of {@code key}: the join of its live entries (see the class comment). */
  public Optional<Crdt<?>> get(String key) {
    List<Dot> dots = store.dotsOf(key);
    if (dots.isEmpty()) {
      return Optional.empty();
    }
    if (dots.size() == 1) {
      return Optional.of(store.entries().get(dots.get(0)).state());
    }
    CrdtType type = null;
    for (Dot d : dots) {
      CrdtType t = store.entries().get(d).state().type();
      if (type == null || t.ordinal() < type.ordinal()) {
        type = t;
      }
    }
    Crdt<?> value = null;
    for (Dot d : dots) {
      Crdt<?> s = store.entries().get(d).state();
      if (s.type() == type) {
        value = value == null ? s : CrdtType.mergeStates(value, s);
      }
    }
    return Optional.of(value);
  }

  /** The keys with their values, in key order. Costs the size of the map. */
  public SortedMap<String, Crdt<?>> values() {
    TreeMap<String, Crdt<?>> out = new TreeMap<>();
    store.byKey().forEach((key, dots) -> out.put(key, get(key).orElseThrow()));
    return Collections.unmodifiableSortedMap(out);
  }

  /** The live entries: dot to key and the nested state that update left, in dot order. */
  public SortedMap<Dot, Map.Entry<String, Crdt<?>>> entries() {
    TreeMap<Dot, Map.Entry<String, Crdt<?>>> out = new TreeMap<>();
    store.entries().forEach((dot, e) -> out.put(dot, Map.entry(e.key(), e.state())));
    return Collections.unmodifiableSortedMap(out);
  }

  /** The number of keys. */
  public int size() {
    return store.byKey().size();
  }

  @Override
  public DotSet context() {
    return store.context();
  }

  @Override
  public ORMap merge(ORMap other) {
    DotStore<String, Entry> joined = store.join(other.store, KEY);
    if (joined == store) {
      return this;
    }
    return joined == other.store ? other : new ORMap(joined);
  }

  @Override
  public boolean isEmpty() {
    return store.isEmpty();
  }

  @Override
  public ORMap contributionsOf(Predicate<ReplicaId> replicas) {
    DotStore<String, Entry> part = store.contributionsOf(replicas, KEY);
    return part == store ? this : wrap(part);
  }

  @Override
  public boolean liveOnlyFrom(ReplicaId replica) {
    return store.entriesOnlyFrom(
        replica,
        entry ->
            entry.state() instanceof CausalCrdt<?> nested
                ? nested.liveOnlyFrom(replica)
                : entry.state().type().kind().onlyFromAny(entry.state(), replica));
  }

  @Override
  public CrdtType type() {
    return CrdtType.OR_MAP;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ORMap other && other.store.equals(store);
  }

  @Override
  public int hashCode() {
    return store.hashCode();
  }

  @Override
  public String toString() {
    List<String> parts = new ArrayList<>();
    store.entries().forEach((dot, e) -> parts.add(e.key() + "@" + dot + "=" + e.state()));
    return "ORMap" + parts + " / " + store.context();
  }
}

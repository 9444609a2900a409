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
 * included. Each update of a key is an entry tagged with the update's dot that holds its writer's
 * own part of the key's nested state ({@link Crdt#contributionsOf} of the writer: its counter
 * share, its register write, its set entries and the removals it observed), and supersedes that
 * writer's earlier entries of the key; other replicas' entries stay live. The value of a key is the
 * join of its live entries, so concurrent updates merge as their type merges, and a delta carries
 * one writer's part only: any number of replicas can write one key, each sending what is its own
 * (as a server's identity check demands), and a removal inside a nested causal value travels in the
 * remover's entry's context.
 *
 * <p>A remove of a key retracts the entries its writer had seen. A key updated concurrently with
 * its removal therefore stays, holding the concurrent updater's own part of the value, its earlier
 * contributions included (the paper's ORMap, Almeida et al. §7, keeps only the concurrent update's
 * effects; with one writer's part per entry this map also serves nested types that are not causal,
 * counters and LWW registers, as Akka's ORMap does).
 *
 * <p>Should concurrent updates give one key different types, the key's value is the join of the
 * entries of the first type in {@link CrdtType} declaration order; the next update through this map
 * supersedes the writer's own entries only. A server refuses a key given another type than it holds
 * ({@link #keyTypeConflict}), but servers sharing a store do not arbitrate keys where they become
 * durable as they do fields: a key's type is that of its live entries, which removes and superseded
 * entries change, so a store could only check it by mirroring this map's dot store; there this
 * order decides (docs/ARCHITECTURE.md, "Field types across servers"). Nesting depth is not bounded
 * here but by the codec ({@link dev.lattice.crdt.codec.CodecLimits#maxCrdtDepth()}).
 *
 * <p>A causal CRDT ({@link CausalCrdt}): no causal delivery needed. Merging a small delta costs
 * {@code O(d log n)} for a delta of {@code d} entries into a map of {@code n} keys; an update's
 * delta grows with its writer's part of the nested value. Immutable and thread-safe.
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
   * one. A nested causal mutation should use {@code dot} too. The new entry holds the part of the
   * new state that is {@code dot}'s replica's own, and supersedes that replica's entries of the
   * key.
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
    ReplicaId writer = dot.replica();
    T own = after.contributionsOf(writer::equals);
    List<Dot> superseded = new ArrayList<>();
    for (Dot d : store.dotsOf(key)) {
      if (d.replica().equals(writer)) {
        superseded.add(d);
      }
    }
    // The nested context stays in the entry, not in the map's context: a nested remove names the
    // dot of the element it retracts, which is also the dot of its adder's live map entry, and
    // must not retract that entry's other contributions.
    return apply(DotStore.delta(dot, new Entry(key, own), superseded, KEY));
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

  /**
   * The first key of {@code delta}'s live entries that this map holds with another type, nested
   * maps searched too, as the exception a refusal would carry ({@code path} names this map); empty
   * if none. A server calls this to keep the first type it holds for a key, as it does for fields:
   * merged, entries of two types would hide one writer's value. Costs the delta's entries.
   */
  public Optional<FieldTypeMismatchException> keyTypeConflict(String path, ORMap delta) {
    for (Map.Entry<Dot, Entry> e : delta.store.entries()) {
      String key = e.getValue().key();
      Crdt<?> incoming = e.getValue().state();
      Optional<Crdt<?>> held = get(key);
      if (held.isEmpty()) {
        continue;
      }
      if (held.get().type() != incoming.type()) {
        return Optional.of(
            new FieldTypeMismatchException(path + "." + key, held.get().type(), incoming.type()));
      }
      if (held.get() instanceof ORMap heldMap && incoming instanceof ORMap incomingMap) {
        Optional<FieldTypeMismatchException> nested =
            heldMap.keyTypeConflict(path + "." + key, incomingMap);
        if (nested.isPresent()) {
          return nested;
        }
      }
    }
    return Optional.empty();
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

  /**
   * {@inheritDoc} Nested causal states are consulted too: a nested context may name a replica's
   * dots (removals it observed) that this map has not seen as entries. Costs the size of the map.
   */
  @Override
  public Dot nextDot(ReplicaId replica) {
    long max = store.context().maxSequence(replica);
    for (Map.Entry<Dot, Entry> e : store.entries()) {
      if (e.getValue().state() instanceof CausalCrdt<?> nested) {
        max = Math.max(max, nested.nextDot(replica).sequence() - 1);
      }
    }
    return new Dot(replica, max + 1);
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

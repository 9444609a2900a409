package dev.lattice.crdt;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * An observed-remove map from string keys to nested CRDTs of any {@link CrdtType}, OR-Maps
 * included. Each update of a key is an entry tagged with the update's dot; the value of a key is
 * the join of its live entries, so concurrent updates merge as their type merges.
 *
 * <p>What an entry holds depends on the nested type. For a causal one ({@link CausalCrdt}: OR-Set,
 * MV-Register, OR-Map) it is a <em>single leaf</em>: the nested delta's one live entry, at the
 * update's own dot, over the nested context of that dot alone (one element, one register write, or
 * a nested map with one such entry, recursively); the nested delta's context goes into the map's.
 * Every nested leaf's dot is then its map entry's dot, so a nested removal (of an element, of the
 * writes a register write replaces, of a nested key) retracts map entries through the map's own
 * context, and an add sends one element however large the nested set is. For a counter or an LWW
 * register the entry holds its writer's own part ({@link Crdt#contributionsOf}) and supersedes that
 * writer's earlier entries of the key, whose part is O(1) anyway. Every delta carries one writer's
 * entries only, as a server's identity check demands.
 *
 * <p>A remove of a key retracts the entries its writer had seen. A key updated concurrently with
 * its removal therefore stays, holding only the concurrent update's effects for a causal nested
 * type (the paper's ORMap, Almeida et al. §7), and the concurrent updater's whole own part for a
 * counter or register (as Akka's ORMap). Removing a nested set's last element, or a nested map's
 * last key, leaves the key no entry: the key goes.
 *
 * <p>Entries in any other form (those of builds that held a causal value as its writer's whole
 * part, or a hostile client's) decode and join like any others: the join is the generic dot-store
 * join, so replicas converge. An update of a key that holds such an entry writes that earlier form
 * (the writer's own part, superseding its entries), whose removals travel in the nested context,
 * where a single-leaf removal could not reach an element held inside another entry.
 *
 * <p>Should concurrent updates give one key different types, the key's value is the join of the
 * entries of the first type in {@link CrdtType} declaration order. A server refuses a key given
 * another type than it holds ({@link #keyTypeConflict}), but servers sharing a store do not
 * arbitrate keys where they become durable as they do fields: a key's type is that of its live
 * entries, which removes and superseded entries change, so a store could only check it by mirroring
 * this map's dot store; there this order decides (docs/ARCHITECTURE.md, "Field types across
 * servers"). Nesting depth is not bounded here but by the codec ({@link
 * dev.lattice.crdt.codec.CodecLimits#maxCrdtDepth()}).
 *
 * <p>Each key's value is kept with the map (not part of its equality), updated by what each join or
 * mutation added and removed: a leaf in or out is joined into or taken out of the value by dot, any
 * other change of a key joins its entries again. Reading a key is a lookup, and merging a small
 * delta costs {@code O(d log n)} for a delta of {@code d} entries into a map of {@code n} entries
 * (plus, as for every causal type, the ranges of the contexts it touches).
 *
 * <p>A causal CRDT ({@link CausalCrdt}): no causal delivery needed. Immutable and thread-safe.
 */
public final class ORMap implements CausalCrdt<ORMap> {

  /** One update's entry: the key and the nested state its writer left. */
  record Entry(String key, Crdt<?> state) {
    Entry {
      Objects.requireNonNull(key, "key");
      Objects.requireNonNull(state, "state");
    }
  }

  /**
   * A key's value, the join of its live entries, and whether every one of them is a single leaf of
   * one causal type at its own dot (then entries in and out are joined into and taken out of the
   * value by dot; otherwise the value is joined again from the key's entries).
   */
  private record View(Crdt<?> value, boolean leaves) {}

  private static final Function<Entry, String> KEY = Entry::key;
  private static final ORMap EMPTY = new ORMap(DotStore.empty());

  // Each key's value is kept as its attachment in the store's key index (never part of equality),
  // updated by the change a join or a mutation made, so that reading a key does not join its
  // entries, one per element of a nested set, and a join walks one index to a key, not two.
  private final DotStore<String, Entry> store;

  private ORMap(DotStore<String, Entry> store) {
    this.store = store;
  }

  /** The map of {@code store}, its values joined from scratch: costs the entries. */
  private static ORMap wrap(DotStore<String, Entry> store) {
    if (store.isEmpty()) {
      return EMPTY;
    }
    DotStore<String, Entry> out = store;
    for (Map.Entry<String, DotStore.Dots> e : store.byKey()) {
      out = out.withAttachment(e.getKey(), e.getValue(), join(store, e.getKey()));
    }
    return new ORMap(out);
  }

  /** The kept value of {@code key} in {@code store}; null if the key has no live entry. */
  private static View view(DotStore<String, Entry> store, String key) {
    return (View) store.attachment(key);
  }

  /** The empty map that has seen nothing. */
  public static ORMap empty() {
    return EMPTY;
  }

  /**
   * The map with these live entries (dot to key and nested state) and this context, as a codec
   * reads it back. Entries in any form are taken (those of earlier builds too; see the class
   * comment).
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
   * change} gets the key's current state (the empty state if the key is absent) and returns its
   * mutation, which must use {@code dot} for a causal kind.
   *
   * <p>For a causal kind (OR-Set, MV-Register, OR-Map) the new entry is the nested delta's live
   * entry at {@code dot} alone, over the nested context {@code dot} (none if the nested delta has
   * no live entry, as for a nested remove), and the nested delta's context becomes the map delta's:
   * since every nested leaf's dot is its map entry's dot, what the nested mutation retracts are map
   * entries. The delta's size does not depend on the nested value's. For a key whose entries are
   * not all single leaves (written by an earlier build), and for the other kinds, the new entry
   * holds the part of the new state that is {@code dot}'s replica's own and supersedes that
   * replica's entries of the key.
   *
   * @throws FieldTypeMismatchException if the key holds another type
   * @throws IllegalArgumentException if a causal nested delta holds live entries of another dot
   */
  public <T extends Crdt<T>> Mutation<ORMap> update(
      Dot dot, String key, CrdtKind<T> kind, Function<? super T, Mutation<T>> change) {
    Objects.requireNonNull(key, "key");
    store.requireFresh(dot, "OR-Map");
    View view = view(store, key);
    if (view != null && view.value().type() != kind.type()) {
      throw new FieldTypeMismatchException(key, view.value().type(), kind.type());
    }
    T before = view != null ? kind.cast(view.value()) : kind.empty();
    Mutation<T> mutation = Objects.requireNonNull(change.apply(before), "mutation");
    CausalKind<?> causal = CausalKind.of(before);
    if (causal != null && (view == null || view.leaves())) {
      CausalCrdt<?> nested = (CausalCrdt<?>) mutation.delta();
      int live = causal.liveCountAny(nested);
      Crdt<?> leaf = causal.leafAtAny(nested, dot);
      if (live > (leaf == null ? 0 : 1)) {
        throw new IllegalArgumentException(
            "a nested " + kind.type() + " delta must hold live entries of dot " + dot + " only");
      }
      DotSet context = nested.context().union(DotSet.of(dot));
      return apply(DotStore.delta(dot, leaf == null ? null : new Entry(key, leaf), context, KEY));
    }
    T after = Objects.requireNonNull(mutation.state(), "changed state");
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
    ORMap d = wrap(delta);
    return new Mutation<>(merge(d), d);
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

  /**
   * The value of {@code key}: the join of its live entries (see the class comment), kept with the
   * map, so reading it costs a lookup.
   */
  public Optional<Crdt<?>> get(String key) {
    View view = view(store, key);
    return view == null ? Optional.empty() : Optional.of(view.value());
  }

  /** The keys with their values, in key order. Costs the number of keys. */
  public SortedMap<String, Crdt<?>> values() {
    TreeMap<String, Crdt<?>> out = new TreeMap<>();
    store.byKey().forEach((key, dots) -> out.put(key, ((View) dots.attachment()).value()));
    return Collections.unmodifiableSortedMap(out);
  }

  /** The live entries: dot to key and the nested state that update left, in dot order. */
  public SortedMap<Dot, Map.Entry<String, Crdt<?>>> entries() {
    TreeMap<Dot, Map.Entry<String, Crdt<?>>> out = new TreeMap<>();
    store.entries().forEach((dot, e) -> out.put(dot, Map.entry(e.key(), e.state())));
    return Collections.unmodifiableSortedMap(out);
  }

  /**
   * Whether the live entry at {@code dot} is a single leaf: its nested state is causal, holds one
   * live entry, at {@code dot}, over the nested context {@code dot} (nested maps recursively), as
   * every update of a causal kind through this build makes it. False if there is no entry at {@code
   * dot}.
   */
  public boolean isSingleLeaf(Dot dot) {
    Entry entry = store.entries().get(dot);
    return entry != null && singleLeaf(dot, entry.state());
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
    DotStore.Changes<Entry> changes = new DotStore.Changes<>();
    DotStore<String, Entry> joined = store.join(other.store, KEY, changes);
    if (joined == store) {
      return this;
    }
    if (joined == other.store) {
      return other;
    }
    // The joined store's key index is its base's, so each changed key still holds the base's
    // value, which refresh brings up to date.
    return new ORMap(
        refresh(
            joined,
            changes.removedDots,
            changes.removedValues,
            changes.addedDots,
            changes.addedValues));
  }

  /**
   * This map as if the updates of {@code sortedDots} had never been seen: their entries and their
   * context dots gone, the values of their keys updated to match.
   */
  ORMap withoutDots(List<Dot> sortedDots) {
    List<Dot> removedDots = new ArrayList<>();
    List<Entry> removedValues = new ArrayList<>();
    for (Dot d : sortedDots) {
      Entry held = store.entries().get(d);
      if (held != null) {
        removedDots.add(d);
        removedValues.add(held);
      }
    }
    DotStore<String, Entry> rest = store.without(sortedDots, KEY);
    if (rest.isEmpty()) {
      return EMPTY;
    }
    return new ORMap(refresh(rest, removedDots, removedValues, List.of(), List.of()));
  }

  /**
   * {@code result}, a store less the removed and plus the added entries whose keys still hold that
   * store's values, with those values updated: a key of single leaves takes leaves out by dot and
   * joins new ones in; any other key changed is joined again from its entries.
   */
  private static DotStore<String, Entry> refresh(
      DotStore<String, Entry> result,
      List<Dot> removedDots,
      List<Entry> removedValues,
      List<Dot> addedDots,
      List<Entry> addedValues) {
    String only = onlyKey(removedValues, addedValues);
    if (only != null) {
      // The common delta, one update or removal of one key: no grouping by key.
      return refreshKey(result, only, new ArrayList<>(removedDots), addedDots, addedValues);
    }
    TreeMap<String, List<Dot>> removedByKey = new TreeMap<>();
    for (int i = 0; i < removedDots.size(); i++) {
      removedByKey
          .computeIfAbsent(removedValues.get(i).key(), k -> new ArrayList<>())
          .add(removedDots.get(i));
    }
    TreeMap<String, List<Dot>> addedDotsByKey = new TreeMap<>();
    TreeMap<String, List<Entry>> addedByKey = new TreeMap<>();
    for (int i = 0; i < addedDots.size(); i++) {
      String key = addedValues.get(i).key();
      addedDotsByKey.computeIfAbsent(key, k -> new ArrayList<>()).add(addedDots.get(i));
      addedByKey.computeIfAbsent(key, k -> new ArrayList<>()).add(addedValues.get(i));
    }
    TreeSet<String> touched = new TreeSet<>(removedByKey.keySet());
    touched.addAll(addedByKey.keySet());
    DotStore<String, Entry> out = result;
    for (String key : touched) {
      out =
          refreshKey(
              out,
              key,
              removedByKey.getOrDefault(key, List.of()),
              addedDotsByKey.getOrDefault(key, List.of()),
              addedByKey.getOrDefault(key, List.of()));
    }
    return out;
  }

  /** The one key all of these entries have; null if they have none or several. */
  private static String onlyKey(List<Entry> removed, List<Entry> added) {
    String key = null;
    for (List<Entry> entries : List.of(removed, added)) {
      for (Entry e : entries) {
        if (key == null) {
          key = e.key();
        } else if (!key.equals(e.key())) {
          return null;
        }
      }
    }
    return key;
  }

  /**
   * {@code result} with the value of {@code key} brought up to date, given the dots of its entries
   * that went ({@code gone}, a list this may sort) and those that came with their entries.
   */
  private static DotStore<String, Entry> refreshKey(
      DotStore<String, Entry> result,
      String key,
      List<Dot> gone,
      List<Dot> addedDots,
      List<Entry> addedValues) {
    DotStore.Dots dots = result.byKey().get(key);
    if (dots == null) {
      return result; // its value went with its last dot
    }
    View view = (View) dots.attachment();
    View next = null;
    if (view == null || view.leaves()) {
      Crdt<?> value = view == null ? null : view.value();
      if (value != null && !gone.isEmpty()) {
        gone.sort(null);
        value = CausalKind.of(value).withoutDotsAny(value, gone);
      }
      boolean leaves = true;
      for (int i = 0; i < addedDots.size(); i++) {
        Crdt<?> leaf = addedValues.get(i).state();
        if (!singleLeaf(addedDots.get(i), leaf) || (value != null && value.type() != leaf.type())) {
          leaves = false;
          break;
        }
        value = value == null ? leaf : CrdtType.mergeStates(value, leaf);
      }
      if (leaves && value != null) {
        next = new View(value, true);
      }
    }
    return result.withAttachment(key, dots, next != null ? next : join(result, key));
  }

  /** The value of {@code key} in {@code store}, joined from its live entries (which it has). */
  private static View join(DotStore<String, Entry> store, String key) {
    List<Dot> dots = store.dotsOf(key);
    CrdtType type = null;
    boolean leaves = true;
    for (Dot d : dots) {
      Crdt<?> s = store.entries().get(d).state();
      CrdtType t = s.type();
      if (type != null && t != type) {
        leaves = false;
      }
      if (type == null || t.ordinal() < type.ordinal()) {
        type = t;
      }
      leaves &= singleLeaf(d, s);
    }
    Crdt<?> value = null;
    for (Dot d : dots) {
      Crdt<?> s = store.entries().get(d).state();
      if (s.type() == type) {
        value = value == null ? s : CrdtType.mergeStates(value, s);
      }
    }
    return new View(value, leaves);
  }

  /**
   * Whether {@code state}, held at {@code dot}, is one causal leaf made at {@code dot} (its kind's
   * {@link CausalKind#isSingleLeafAt}); false for a non-causal state. Costs the nesting depth.
   */
  static boolean singleLeaf(Dot dot, Crdt<?> state) {
    CausalKind<?> kind = CausalKind.of(state);
    return kind != null && kind.isSingleLeafAtAny(state, dot);
  }

  /**
   * Whether this map is one leaf made at {@code dot}: its one entry and its context are {@code
   * dot}, and the entry holds a non-causal state or a single leaf at {@code dot}.
   */
  boolean singleLeafAt(Dot dot) {
    if (!store.isLeafAt(dot)) {
      return false;
    }
    Crdt<?> nested = store.entries().get(dot).state();
    return CausalKind.of(nested) == null || singleLeaf(dot, nested);
  }

  /** The number of live entries. */
  int liveCount() {
    return store.entries().size();
  }

  /** The live entry at {@code dot} alone over the context {@code dot}; null if none. */
  ORMap leafAt(Dot dot) {
    DotStore<String, Entry> leaf = store.leafAt(dot, KEY);
    return leaf == null ? null : wrap(leaf);
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

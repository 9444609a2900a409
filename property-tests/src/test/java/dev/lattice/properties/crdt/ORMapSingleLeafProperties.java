package dev.lattice.properties.crdt;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.DotRange;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.MVRegister;
import dev.lattice.crdt.Mutation;
import dev.lattice.crdt.ORMap;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.codec.Codec;
import dev.lattice.crdt.codec.CrdtCodecs;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * What single-leaf OR-Map entries promise (see {@link ORMap}): an add to a nested set sends a delta
 * whose size does not depend on the set's, a key's kept value is exactly the join of its live
 * entries whatever was merged in which order (entries of earlier builds included), a concurrent key
 * removal leaves only the concurrent update's effects, a nested remove retracts only what it saw,
 * and a nested MV-Register reads the maximal concurrent writes.
 *
 * <p>The random histories come from a {@link Random} seeded by the property's drawn seed, so every
 * failure report names the seed that replays it.
 */
class ORMapSingleLeafProperties {

  private static final List<ReplicaId> REPLICAS =
      List.of(ReplicaId.of(1), ReplicaId.of(2), ReplicaId.of(3));
  private static final List<Value> ELEMENTS =
      List.of(Value.of("a"), Value.of("b"), Value.of(7L), Value.of("c"));
  private static final List<String> KEYS = List.of("tags", "who", "inner", "count");
  private static final CrdtKind<ORSet> SET = CrdtKind.of(ORSet.class);
  private static final CrdtKind<MVRegister> MV = CrdtKind.of(MVRegister.class);
  private static final CrdtKind<ORMap> MAP = CrdtKind.of(ORMap.class);
  private static final CrdtKind<GCounter> COUNTER = CrdtKind.of(GCounter.class);

  /** A writer id as {@link ReplicaId#random()} makes them: eight bytes on the wire. */
  private static final ReplicaId WRITER = ReplicaId.of(0x5eed_1a77_1ce5_0001L);

  /** The encoded UPDATE payload of the n-th add to a set nested in a map, by one writer. */
  private static int[] nestedAddSizes(int adds, boolean legacy) {
    Codec<DocumentDelta> codec = CrdtCodecs.defaults().documentDelta();
    ReplicaId writer = WRITER;
    Document doc = Document.create("d");
    int[] sizes = new int[adds + 1];
    for (int i = 1; i <= adds; i++) {
      Value element = Value.of("e" + i);
      DocumentDelta delta =
          legacy
              ? doc.mutate(
                  writer,
                  "m",
                  MAP,
                  (map, dot) -> legacyUpdate(map, dot, "files", SET, s -> s.add(dot, element)))
              : doc.mutateAt(writer, "m", List.of("files"), SET, (s, dot) -> s.add(dot, element));
      sizes[i] = codec.encode(delta).length;
    }
    return sizes;
  }

  /**
   * The encoded UPDATE payload of an add of {@code "e" + n} to a set nested in a map that is still
   * empty, by a writer whose earlier n - 1 edits went to another field: the same dot and element as
   * the n-th add to a set of n - 1 elements, without the elements.
   */
  private static int firstAddAtSequence(int n) {
    ReplicaId writer = WRITER;
    Document doc = Document.create("d");
    for (int i = 1; i < n; i++) {
      doc.incrementGCounter(writer, "other", 1);
    }
    Value element = Value.of("e" + n);
    DocumentDelta delta =
        doc.mutateAt(writer, "m", List.of("files"), SET, (s, dot) -> s.add(dot, element));
    return CrdtCodecs.defaults().documentDelta().encode(delta).length;
  }

  @Example
  void anAddToANestedSetSendsNoMoreThanTheSameAddToAnEmptySet() {
    int[] sizes = nestedAddSizes(2_000, false);
    // Only the dot's sequence and the element's text make a later add longer (a few bytes of
    // varints): an add to a set of 1,999 elements is exactly as long as one to an empty set.
    assertThat(sizes[100]).isEqualTo(firstAddAtSequence(100));
    assertThat(sizes[2_000]).isEqualTo(firstAddAtSequence(2_000));
    // Before single-leaf entries the same add carried the writer's whole part of the set.
    int[] legacy = nestedAddSizes(2_000, true);
    assertThat(legacy[1]).isEqualTo(sizes[1]);
    assertThat(legacy[2_000]).isGreaterThan(20 * sizes[2_000]);
    System.out.printf(
        "nested set add, UPDATE payload bytes: single-leaf 1st %d, 100th %d, 2000th %d;"
            + " whole part 1st %d, 100th %d, 2000th %d%n",
        sizes[1], sizes[100], sizes[2_000], legacy[1], legacy[100], legacy[2_000]);
  }

  @Property(tries = 300)
  void aKeysKeptValueIsTheJoinOfItsLiveEntriesWhateverTheDeliveryOrder(
      @ForAll long seed, @ForAll @IntRange(min = 1, max = 150) int steps) {
    Random r = new Random(seed);
    List<ORMap> states = new ArrayList<>(List.of(ORMap.empty(), ORMap.empty(), ORMap.empty()));
    List<ORMap> deltas = new ArrayList<>();
    for (int step = 0; step < steps; step++) {
      int i = r.nextInt(states.size());
      ORMap state = states.get(i);
      int action = r.nextInt(10);
      if (action < 6 || deltas.isEmpty()) {
        Mutation<ORMap> m = randomOp(r, state, next(state, REPLICAS.get(i), deltas));
        states.set(i, m.state());
        deltas.add(m.delta());
        assertThat(state.merge(m.delta())).isEqualTo(m.state());
      } else if (action < 9) {
        // A delta from anywhere, possibly again, possibly before the ones it followed.
        states.set(i, state.merge(deltas.get(r.nextInt(deltas.size()))));
      } else {
        states.set(i, state.merge(states.get(r.nextInt(states.size()))));
      }
      assertKeptValuesAreJoins(states.get(i));
    }
    ORMap all = ORMap.empty();
    for (ORMap d : deltas) {
      all = all.merge(d);
    }
    for (int i = 0; i < states.size(); i++) {
      ORMap caughtUp = states.get(i);
      List<ORMap> shuffled = new ArrayList<>(deltas);
      java.util.Collections.shuffle(shuffled, r);
      for (ORMap d : shuffled) {
        caughtUp = caughtUp.merge(d);
      }
      assertThat(caughtUp).isEqualTo(all);
      assertKeptValuesAreJoins(caughtUp);
      assertThat(caughtUp.values()).isEqualTo(all.values());
    }
  }

  @Property(tries = 50)
  void aNestedSetEmptiedElementByElementLeavesNoKey(
      @ForAll long seed, @ForAll @IntRange(min = 1, max = 80) int elements) {
    Random r = new Random(seed);
    ORMap map = ORMap.empty();
    List<Value> held = new ArrayList<>();
    for (int i = 0; i < elements; i++) {
      ReplicaId w = REPLICAS.get(r.nextInt(REPLICAS.size()));
      Dot dot = map.nextDot(w);
      Value e = Value.of("n" + i);
      map = map.update(dot, "tags", SET, s -> s.add(dot, e)).state();
      held.add(e);
    }
    java.util.Collections.shuffle(held, r);
    for (Value e : held) {
      assertThat(map.containsKey("tags")).isTrue();
      Dot dot = map.nextDot(REPLICAS.get(r.nextInt(REPLICAS.size())));
      map = map.update(dot, "tags", SET, s -> s.remove(dot, e)).state();
      assertKeptValuesAreJoins(map);
    }
    assertThat(map.containsKey("tags")).isFalse();
    assertThat(map.size()).isZero();
    assertThat(map.values()).isEmpty();
  }

  /**
   * A map whose key "tags" got at least {@code atLeast} adds (up to five more) of random elements
   * by random writers. The bound is drawn again at each step, as {@code r} dictates.
   */
  private static ORMap randomAdds(Random r, int atLeast) {
    ORMap base = ORMap.empty();
    for (int i = 0; i < atLeast + r.nextInt(6); i++) {
      ReplicaId w = REPLICAS.get(r.nextInt(REPLICAS.size()));
      Dot dot = base.nextDot(w);
      Value e = ELEMENTS.get(r.nextInt(ELEMENTS.size()));
      base = base.update(dot, "tags", SET, s -> s.add(dot, e)).state();
    }
    return base;
  }

  @Property(tries = 200)
  void aKeyRemovedConcurrentlyWithANestedAddKeepsOnlyThatAdd(@ForAll long seed) {
    Random r = new Random(seed);
    ReplicaId a = REPLICAS.get(0);
    ReplicaId b = REPLICAS.get(1);
    ORMap base = randomAdds(r, 1);
    ORMap removed = base.remove(base.nextDot(a), "tags").state();
    Dot dot = base.nextDot(b);
    Value added = Value.of("concurrent");
    ORMap updated = base.update(dot, "tags", SET, s -> s.add(dot, added)).state();
    ORSet tags = (ORSet) removed.merge(updated).get("tags").orElseThrow();
    assertThat(tags.elements()).containsExactly(added);
    assertThat(updated.merge(removed)).isEqualTo(removed.merge(updated));
  }

  @Property(tries = 200)
  void aNestedRemoveNeverRemovesAnAddItDidNotObserve(@ForAll long seed) {
    Random r = new Random(seed);
    ReplicaId a = REPLICAS.get(0);
    ReplicaId b = REPLICAS.get(1);
    ORMap base = randomAdds(r, 0);
    Value e = ELEMENTS.get(r.nextInt(ELEMENTS.size()));
    Dot removeDot = base.nextDot(a);
    ORMap removed = base.update(removeDot, "tags", SET, s -> s.remove(removeDot, e)).state();
    Dot addDot = base.nextDot(b);
    ORMap added = base.update(addDot, "tags", SET, s -> s.add(addDot, e)).state();
    ORMap merged = removed.merge(added);
    assertThat(((ORSet) merged.get("tags").orElseThrow()).contains(e)).isTrue();
    assertThat(removed.get("tags").map(t -> ((ORSet) t).contains(e)).orElse(false)).isFalse();
    assertKeptValuesAreJoins(merged);
  }

  @Property(tries = 200)
  void aNestedMvRegisterReadsTheMaximalConcurrentWrites(@ForAll long seed) {
    Random r = new Random(seed);
    List<ORMap> states = new ArrayList<>(List.of(ORMap.empty(), ORMap.empty(), ORMap.empty()));
    // The model: every write with the writes it replaced, and the writes each replica has seen;
    // a seen write is live unless a seen write replaced it.
    List<Dot> writeDots = new ArrayList<>();
    List<Value> writeValues = new ArrayList<>();
    List<Set<Dot>> replaced = new ArrayList<>();
    List<ORMap> deltas = new ArrayList<>();
    List<Set<Integer>> seen = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      seen.add(new TreeSet<>());
    }
    for (int step = 0; step < 25; step++) {
      int i = r.nextInt(3);
      int action = r.nextInt(3);
      if (action == 0 || deltas.isEmpty()) {
        ORMap state = states.get(i);
        Dot dot = next(state, REPLICAS.get(i), deltas);
        Value v = ELEMENTS.get(r.nextInt(ELEMENTS.size()));
        Mutation<ORMap> m = state.update(dot, "who", MV, reg -> reg.write(dot, v));
        states.set(i, m.state());
        deltas.add(m.delta());
        replaced.add(live(seen.get(i), writeDots, replaced).keySet());
        writeDots.add(dot);
        writeValues.add(v);
        seen.get(i).add(writeDots.size() - 1);
      } else if (action == 1) {
        int k = r.nextInt(deltas.size());
        states.set(i, states.get(i).merge(deltas.get(k)));
        seen.get(i).add(k);
      } else {
        int j = r.nextInt(3);
        states.set(i, states.get(i).merge(states.get(j)));
        seen.get(i).addAll(seen.get(j));
      }
      Map<Dot, Integer> expected = live(seen.get(i), writeDots, replaced);
      ORMap state = states.get(i);
      if (expected.isEmpty()) {
        assertThat(state.get("who")).isEmpty();
      } else {
        MVRegister who = (MVRegister) state.get("who").orElseThrow();
        TreeMap<Dot, Value> writes = new TreeMap<>();
        expected.forEach((d, w) -> writes.put(d, writeValues.get(w)));
        assertThat(who.writes()).isEqualTo(writes);
      }
      assertKeptValuesAreJoins(state);
    }
  }

  /** The seen writes that no seen write replaced, by dot, with their index. */
  private static Map<Dot, Integer> live(
      Set<Integer> seen, List<Dot> writeDots, List<Set<Dot>> replaced) {
    Map<Dot, Integer> out = new TreeMap<>();
    for (int w : seen) {
      boolean gone = false;
      for (int other : seen) {
        gone |= replaced.get(other).contains(writeDots.get(w));
      }
      if (!gone) {
        out.put(writeDots.get(w), w);
      }
    }
    return out;
  }

  /** A fresh dot of {@code replica}: past its dots in the state and in every delta made. */
  private static Dot next(ORMap state, ReplicaId replica, List<ORMap> deltas) {
    long max = state.nextDot(replica).sequence();
    for (ORMap d : deltas) {
      max = Math.max(max, d.nextDot(replica).sequence());
    }
    return new Dot(replica, max);
  }

  /**
   * A random update: nested set adds and removes, MV writes, a set inside a nested map, a counter,
   * a key removal, and updates in the form earlier builds sent (the writer's whole part).
   */
  private static Mutation<ORMap> randomOp(Random r, ORMap map, Dot dot) {
    String key = KEYS.get(r.nextInt(KEYS.size()));
    Value e = ELEMENTS.get(r.nextInt(ELEMENTS.size()));
    int kind = r.nextInt(12);
    if (kind == 0) {
      return map.remove(dot, key);
    }
    try {
      return switch (key) {
        case "tags" -> {
          // Many distinct elements too, so that a key holds more entries than its small index.
          Value t = r.nextInt(4) == 0 ? e : Value.of("n" + r.nextInt(60));
          Function<ORSet, Mutation<ORSet>> op =
              r.nextInt(4) == 0 ? s -> s.remove(dot, t) : s -> s.add(dot, t);
          yield kind == 1 ? legacyUpdate(map, dot, key, SET, op) : map.update(dot, key, SET, op);
        }
        case "who" -> map.update(dot, key, MV, reg -> reg.write(dot, e));
        case "inner" ->
            map.update(
                dot,
                key,
                MAP,
                m ->
                    r.nextInt(4) == 0
                        ? m.remove(dot, "s")
                        : m.update(
                            dot,
                            "s",
                            SET,
                            s -> r.nextInt(3) == 0 ? s.remove(dot, e) : s.add(dot, e)));
        default -> map.update(dot, key, COUNTER, g -> g.increment(dot.replica(), 1));
      };
    } catch (RuntimeException ex) {
      // A key whose concurrent updates gave it two types: the map refuses; remove it instead.
      return map.remove(dot, key);
    }
  }

  /**
   * An update as builds before single-leaf entries made it: one entry holding the writer's whole
   * part of the key's new value, over the writer's earlier entries of the key.
   */
  static <T extends Crdt<T>> Mutation<ORMap> legacyUpdate(
      ORMap map, Dot dot, String key, CrdtKind<T> kind, Function<T, Mutation<T>> change) {
    T before = map.get(key).map(kind::cast).orElse(kind.empty());
    T after = change.apply(before).state();
    T own = after.contributionsOf(dot.replica()::equals);
    List<DotRange> context = new ArrayList<>();
    context.add(new DotRange(dot.replica(), dot.sequence(), dot.sequence()));
    map.entries()
        .forEach(
            (d, entry) -> {
              if (entry.getKey().equals(key) && d.replica().equals(dot.replica())) {
                context.add(new DotRange(d.replica(), d.sequence(), d.sequence()));
              }
            });
    ORMap delta = ORMap.of(Map.of(dot, Map.entry(key, own)), DotSet.of(context));
    return new Mutation<>(map.merge(delta), delta);
  }

  /**
   * Every key's kept value, nested maps' included, equals the join of its live entries (the first
   * type's, in declaration order), and a map rebuilt from its entries reads the same.
   */
  static void assertKeptValuesAreJoins(ORMap map) {
    Map<String, List<Crdt<?>>> byKey = new TreeMap<>();
    map.entries()
        .forEach(
            (dot, e) ->
                byKey.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(e.getValue()));
    assertThat(map.values().keySet()).isEqualTo(byKey.keySet());
    assertThat(map.size()).isEqualTo(byKey.size());
    byKey.keySet().forEach(key -> assertThat(map.containsKey(key)).isTrue());
    byKey.forEach(
        (key, states) -> {
          CrdtType type = null;
          for (Crdt<?> s : states) {
            if (type == null || s.type().ordinal() < type.ordinal()) {
              type = s.type();
            }
          }
          Crdt<?> joined = null;
          for (Crdt<?> s : states) {
            if (s.type() == type) {
              joined = joined == null ? s : mergeAny(joined, s);
            }
          }
          Crdt<?> kept = map.get(key).orElseThrow();
          assertThat(kept).as("value of %s", key).isEqualTo(joined);
          if (kept instanceof ORMap nested) {
            assertKeptValuesAreJoins(nested);
          }
        });
    assertThat(ORMap.of(map.entries(), map.context()).values()).isEqualTo(map.values());
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static Crdt<?> mergeAny(Crdt a, Crdt b) {
    return (Crdt<?>) a.merge(b);
  }
}

package dev.lattice.properties.gen;

import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.MVRegister;
import dev.lattice.crdt.Mutation;
import dev.lattice.crdt.ORMap;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.PNCounter;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.properties.laws.Mutator;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;

/**
 * States of the causal CRDTs for the laws. A dot names one mutation everywhere, so states drawn
 * independently must not use one dot for different mutations: they are all taken from fixed, seeded
 * histories ({@link History}) in which the replicas of {@link CrdtArbitraries#REPLICAS} mutate,
 * receive each other's deltas in any order and with duplicates, and sync whole states. Any two of
 * these states are then views of one history, as in a real system.
 */
public final class CausalArbitraries {

  /** The elements sets use: few, so that adds and removes of one element collide. */
  public static final List<Value> ELEMENTS =
      List.of(Value.of("a"), Value.of("b"), Value.of(7L), Value.array(Value.of(true)));

  /** The keys maps use, each with its fixed nested type. */
  public static final List<String> KEYS = List.of("count", "tags", "nested", "who");

  private static final History<ORSet> SETS =
      History.run(ORSet.empty(), 11, 90, CausalArbitraries::setOp);
  private static final History<MVRegister> REGISTERS =
      History.run(MVRegister.empty(), 12, 90, CausalArbitraries::registerOp);
  private static final History<ORMap> MAPS =
      History.run(ORMap.empty(), 13, 90, CausalArbitraries::mapOp);

  private CausalArbitraries() {}

  /** A random OR-Set mutation with the given dot. */
  public static Mutation<ORSet> setOp(Random r, ORSet set, Dot dot) {
    Value e = ELEMENTS.get(r.nextInt(ELEMENTS.size()));
    return r.nextInt(3) == 0 ? set.remove(dot, e) : set.add(dot, e);
  }

  /** A random MV-Register write with the given dot. */
  public static Mutation<MVRegister> registerOp(Random r, MVRegister register, Dot dot) {
    return register.write(dot, ELEMENTS.get(r.nextInt(ELEMENTS.size())));
  }

  /** A random OR-Map mutation with the given dot: updates of each key's type, or a remove. */
  public static Mutation<ORMap> mapOp(Random r, ORMap map, Dot dot) {
    String key = KEYS.get(r.nextInt(KEYS.size()));
    if (r.nextInt(4) == 0) {
      return map.remove(dot, key);
    }
    return switch (key) {
      case "count" ->
          map.update(
              dot, key, CrdtKind.of(PNCounter.class), c -> c.add(dot.replica(), r.nextInt(7) - 3));
      case "tags" -> map.update(dot, key, CrdtKind.of(ORSet.class), s -> setOp(r, s, dot));
      case "nested" ->
          map.update(
              dot,
              key,
              CrdtKind.of(ORMap.class),
              m ->
                  r.nextBoolean()
                      ? m.update(
                          dot,
                          "inner",
                          CrdtKind.of(GCounter.class),
                          g -> g.increment(dot.replica(), 1))
                      : m.remove(dot, "inner"));
      default -> map.update(dot, key, CrdtKind.of(MVRegister.class), m -> registerOp(r, m, dot));
    };
  }

  /** OR-Set states: views of one history, and joins of up to three. */
  public static Arbitrary<ORSet> sets() {
    return views(SETS);
  }

  public static Arbitrary<MVRegister> registers() {
    return views(REGISTERS);
  }

  public static Arbitrary<ORMap> maps() {
    return views(MAPS);
  }

  /** The OR-Set history, for type-specific properties. */
  public static History<ORSet> setHistory() {
    return SETS;
  }

  /** Mutators with the next dot of a pool replica in the state they are applied to. */
  public static <T extends dev.lattice.crdt.CausalCrdt<T>> Arbitrary<Mutator<T>> mutators(
      String name, Op<T> op) {
    return Combinators.combine(CrdtArbitraries.replicas(), Arbitraries.longs())
        .as(
            (replica, seed) ->
                new Mutator<>(
                    name + "(" + replica + ", seed " + seed + ")",
                    (T state) -> op.apply(new Random(seed), state, state.nextDot(replica))));
  }

  private static <T extends Crdt<T>> Arbitrary<T> views(History<T> history) {
    Arbitrary<T> one = Arbitraries.of(history.views());
    return one.list()
        .ofMinSize(1)
        .ofMaxSize(3)
        .map(
            list -> {
              T joined = list.get(0);
              for (T t : list.subList(1, list.size())) {
                joined = joined.merge(t);
              }
              return joined;
            });
  }

  /** A mutation of a causal CRDT with a given fresh dot. */
  @FunctionalInterface
  public interface Op<T> {
    Mutation<T> apply(Random random, T state, Dot dot);
  }

  /**
   * A seeded history: replicas of the pool mutate their own state with fresh dots, merge deltas
   * from any replica in any order (duplicates included) and sometimes a whole state. Keeps every
   * state any replica passed through and every delta.
   */
  public static final class History<T extends Crdt<T>> {
    private final List<T> views;
    private final List<T> deltas;

    private History(List<T> views, List<T> deltas) {
      this.views = List.copyOf(views);
      this.deltas = List.copyOf(deltas);
    }

    public static <T extends Crdt<T>> History<T> run(T empty, long seed, int steps, Op<T> op) {
      Random r = new Random(seed);
      List<ReplicaId> replicas = CrdtArbitraries.REPLICAS;
      List<T> states = new ArrayList<>();
      long[] seqs = new long[replicas.size()];
      for (int i = 0; i < replicas.size(); i++) {
        states.add(empty);
      }
      List<T> views = new ArrayList<>(List.of(empty));
      List<T> deltas = new ArrayList<>();
      for (int step = 0; step < steps; step++) {
        int i = r.nextInt(replicas.size());
        int what = r.nextInt(10);
        T next;
        if (what < 6 || deltas.isEmpty()) {
          Mutation<T> m = op.apply(r, states.get(i), new Dot(replicas.get(i), ++seqs[i]));
          deltas.add(m.delta());
          next = m.state();
        } else if (what < 9) {
          next = states.get(i).merge(deltas.get(r.nextInt(deltas.size())));
        } else {
          next = states.get(i).merge(states.get(r.nextInt(states.size())));
        }
        states.set(i, next);
        views.add(next);
      }
      views.addAll(deltas);
      return new History<>(views, deltas);
    }

    /** Every state of every replica, and every delta. */
    public List<T> views() {
      return views;
    }

    public List<T> deltas() {
      return deltas;
    }
  }
}

package dev.lattice.crdt;

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
 * A multi-value register (the paper's MVReg, §7.2): a write replaces exactly the writes its writer
 * had seen, so after merging, the register holds every maximal concurrent write and the application
 * decides among them. Its state is a dot store of writes and a causal context.
 *
 * <p>A causal CRDT ({@link CausalCrdt}): no causal delivery needed. Immutable and thread-safe.
 */
public final class MVRegister implements CausalCrdt<MVRegister> {

  private static final Function<Value, Value> KEY = Function.identity();
  private static final MVRegister EMPTY = new MVRegister(DotStore.empty());

  private final DotStore<Value, Value> store;

  private MVRegister(DotStore<Value, Value> store) {
    this.store = store;
  }

  private static MVRegister wrap(DotStore<Value, Value> store) {
    return store.isEmpty() ? EMPTY : new MVRegister(store);
  }

  /** The register that has seen nothing. */
  public static MVRegister empty() {
    return EMPTY;
  }

  /**
   * The register with these live writes and this context, as a codec reads it back.
   *
   * @throws IllegalArgumentException if a write's dot is not in the context
   */
  public static MVRegister of(Map<Dot, Value> writes, DotSet context) {
    writes.forEach(
        (dot, value) -> {
          Objects.requireNonNull(dot, "dot");
          Objects.requireNonNull(value, "value");
        });
    return wrap(DotStore.of(writes, Objects.requireNonNull(context, "context"), KEY));
  }

  /**
   * Writes {@code value} with the fresh dot {@code dot}, replacing every write this state holds.
   */
  public Mutation<MVRegister> write(Dot dot, Value value) {
    Objects.requireNonNull(value, "value");
    store.requireFresh(dot, "MV-Register");
    DotStore<Value, Value> delta = DotStore.delta(dot, value, List.copyOf(writes().keySet()), KEY);
    return new Mutation<>(wrap(store.join(delta, KEY)), wrap(delta));
  }

  /** Writes {@code value} with {@code replica}'s next dot. */
  public Mutation<MVRegister> write(ReplicaId replica, Value value) {
    return write(nextDot(replica), value);
  }

  /** The distinct values of the maximal concurrent writes, in {@link Value} order. */
  public SortedSet<Value> values() {
    TreeSet<Value> out = new TreeSet<>();
    store.byKey().forEach((value, dots) -> out.add(value));
    return Collections.unmodifiableSortedSet(out);
  }

  /** The live writes by dot. */
  public SortedMap<Dot, Value> writes() {
    TreeMap<Dot, Value> out = new TreeMap<>();
    store.entries().forEach(out::put);
    return Collections.unmodifiableSortedMap(out);
  }

  /**
   * Whether this state is one leaf made at {@code dot}: its one live entry and its whole context
   * are {@code dot} (the form an OR-Map entry holds, see {@link ORMap}).
   */
  boolean singleLeafAt(Dot dot) {
    return store.isLeafAt(dot);
  }

  /** The number of live dots. */
  int liveCount() {
    return store.entries().size();
  }

  /** The live entry at {@code dot} alone over the context {@code dot}; null if none. */
  MVRegister leafAt(Dot dot) {
    DotStore<Value, Value> leaf = store.leafAt(dot, KEY);
    return leaf == null ? null : new MVRegister(leaf);
  }

  /**
   * This state as if the mutations of {@code sortedDots} had never been seen: their entries and
   * their context dots gone. On a join of single leaves this gives the join of the other leaves.
   */
  MVRegister withoutDots(List<Dot> sortedDots) {
    return wrap(store.without(sortedDots, KEY));
  }

  @Override
  public DotSet context() {
    return store.context();
  }

  @Override
  public MVRegister merge(MVRegister other) {
    DotStore<Value, Value> joined = store.join(other.store, KEY);
    if (joined == store) {
      return this;
    }
    return joined == other.store ? other : new MVRegister(joined);
  }

  @Override
  public boolean isEmpty() {
    return store.isEmpty();
  }

  @Override
  public MVRegister contributionsOf(Predicate<ReplicaId> replicas) {
    DotStore<Value, Value> part = store.contributionsOf(replicas, KEY);
    return part == store ? this : wrap(part);
  }

  @Override
  public boolean liveOnlyFrom(ReplicaId replica) {
    return store.entriesOnlyFrom(replica, v -> true);
  }

  @Override
  public CrdtType type() {
    return CrdtType.MV_REGISTER;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof MVRegister other && other.store.equals(store);
  }

  @Override
  public int hashCode() {
    return store.hashCode();
  }

  @Override
  public String toString() {
    return "MVRegister" + store;
  }
}

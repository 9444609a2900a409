package dev.lattice.crdt;

import java.util.List;

/**
 * The kind of a causal type ({@link CausalCrdt}): besides what every kind says, the operations an
 * {@link ORMap} needs to hold a value of this type as single leaves, one entry per nested dot (see
 * the class comment there). A fourth causal type joins OR-Maps by implementing these four, so the
 * map names no nested type.
 *
 * <p>Package-private on purpose: single leaves are how an OR-Map stores values, not something
 * callers build. Kinds are stateless singletons and thread-safe.
 *
 * @param <T> the state class
 */
abstract class CausalKind<T extends CausalCrdt<T>> extends CrdtKind<T> {

  CausalKind(Class<T> stateClass) {
    super(stateClass);
  }

  @Override
  public final boolean isCausal() {
    return true;
  }

  /**
   * Whether {@code state} is one leaf made at {@code dot}: its one live entry and its whole context
   * are {@code dot}, and for a map whose entry holds a causal state, that state is one such leaf
   * too. Costs the nesting depth.
   */
  abstract boolean isSingleLeafAt(T state, Dot dot);

  /** The number of live entries (dots) at the top level of {@code state}. */
  abstract int liveCount(T state);

  /**
   * The live entry of {@code state} at {@code dot} alone, over the context {@code dot}; null if
   * none.
   */
  abstract T leafAt(T state, Dot dot);

  /**
   * {@code state} as if the mutations of {@code sortedDots} had never been seen: their entries and
   * their context dots gone. On a join of single leaves this is the join of the other leaves.
   */
  abstract T withoutDots(T state, List<Dot> sortedDots);

  /** The causal kind of {@code state}'s type; null if the type is not causal. */
  static CausalKind<?> of(Crdt<?> state) {
    return state.type().kind() instanceof CausalKind<?> causal ? causal : null;
  }

  /** {@link #isSingleLeafAt} of a state of this kind given untyped. */
  final boolean isSingleLeafAtAny(Crdt<?> state, Dot dot) {
    return isSingleLeafAt(cast(state), dot);
  }

  /** {@link #liveCount} of a state of this kind given untyped. */
  final int liveCountAny(Crdt<?> state) {
    return liveCount(cast(state));
  }

  /** {@link #leafAt} of a state of this kind given untyped. */
  final T leafAtAny(Crdt<?> state, Dot dot) {
    return leafAt(cast(state), dot);
  }

  /** {@link #withoutDots} of a state of this kind given untyped. */
  final T withoutDotsAny(Crdt<?> state, List<Dot> sortedDots) {
    return withoutDots(cast(state), sortedDots);
  }
}

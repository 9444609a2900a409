package dev.lattice.crdt;

import java.util.Objects;

/**
 * The result of a delta-mutator: the new state and the delta that, joined into the old state,
 * yields it ({@code old.merge(delta).equals(state)}). Ship the delta; keep the state.
 *
 * <p>Immutable and thread-safe when {@code T} is.
 */
public record Mutation<T>(T state, T delta) {
  public Mutation {
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(delta, "delta");
  }
}

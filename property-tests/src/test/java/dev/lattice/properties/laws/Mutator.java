package dev.lattice.properties.laws;

import dev.lattice.crdt.Mutation;
import java.util.function.Function;

/**
 * A delta-mutator of a CRDT, with a readable label so that a shrunk counterexample says which
 * operation it applied (for example {@code increment(0000000000000001, 7)}).
 *
 * @param label what the mutator does, shown in failure reports
 * @param apply the mutator itself: old state in, new state and delta out
 * @param <T> the CRDT type
 */
public record Mutator<T>(String label, Function<T, Mutation<T>> apply) {

  /** Applies the mutator to {@code state}. */
  public Mutation<T> applyTo(T state) {
    return apply.apply(state);
  }

  @Override
  public String toString() {
    return label;
  }
}

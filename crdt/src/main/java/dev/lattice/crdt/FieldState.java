package dev.lattice.crdt;

import java.util.Objects;

/**
 * One field of a document or a delta: its CRDT state and, for each replica whose mutations changed
 * it, the sequence number of the latest such mutation ({@code touched}). The touched vector is what
 * lets a document hand a peer exactly the fields it lacks.
 *
 * <p>Immutable and thread-safe.
 */
public record FieldState(Crdt<?> state, VersionVector touched) {

  public FieldState {
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(touched, "touched");
  }

  /** The field's CRDT type. */
  public CrdtType type() {
    return state.type();
  }

  /**
   * The join of two states of one field.
   *
   * @throws FieldTypeMismatchException if the types differ ({@code name} is for the message)
   */
  FieldState merge(String name, FieldState other) {
    if (other.type() != type()) {
      throw new FieldTypeMismatchException(name, type(), other.type());
    }
    Crdt<?> merged = CrdtType.mergeStates(state, other.state);
    VersionVector mergedTouched = touched.merge(other.touched);
    if (merged == state && mergedTouched == touched) {
      return this;
    }
    return new FieldState(merged, mergedTouched);
  }
}

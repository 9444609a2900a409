package dev.lattice.client;

import dev.lattice.crdt.Value;
import java.util.Objects;
import java.util.Set;

/**
 * What changed in one field of a {@link ChangeEvent}: for an OR-Set, the elements that appeared and
 * went; for an MV-Register, the values that appeared and went; for an OR-Map, the keys that
 * appeared, went, or whose nested value changed. Counters and LWW registers report the field name
 * only (read the new value from the handle); so does a field whose type changed.
 *
 * <p>Immutable and thread-safe.
 *
 * @param field the field's name
 * @param added elements or values now present that were not
 * @param removed elements or values no longer present
 * @param addedKeys map keys now present that were not
 * @param removedKeys map keys no longer present
 * @param updatedKeys map keys present before and after whose nested value changed
 */
public record FieldChange(
    String field,
    Set<Value> added,
    Set<Value> removed,
    Set<String> addedKeys,
    Set<String> removedKeys,
    Set<String> updatedKeys) {

  /**
   * @throws NullPointerException if a component is null
   */
  public FieldChange {
    Objects.requireNonNull(field, "field");
    added = Set.copyOf(added);
    removed = Set.copyOf(removed);
    addedKeys = Set.copyOf(addedKeys);
    removedKeys = Set.copyOf(removedKeys);
    updatedKeys = Set.copyOf(updatedKeys);
  }

  /** A change of {@code field} with no detail (a counter, an LWW register). */
  public static FieldChange of(String field) {
    return new FieldChange(field, Set.of(), Set.of(), Set.of(), Set.of(), Set.of());
  }
}

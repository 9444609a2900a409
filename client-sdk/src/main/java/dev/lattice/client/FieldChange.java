package dev.lattice.client;

import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.MVRegister;
import dev.lattice.crdt.ORMap;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.Value;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

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

  /**
   * The change of {@code field} from {@code before} to {@code after}, either empty for an absent
   * field. Costs the size of the two states for sets, registers and maps.
   */
  static FieldChange between(String field, Optional<Crdt<?>> before, Optional<Crdt<?>> after) {
    Crdt<?> was = before.orElse(null);
    Crdt<?> now = after.orElse(null);
    if (now instanceof ORSet set && (was == null || was instanceof ORSet)) {
      return values(field, was == null ? Set.of() : ((ORSet) was).elements(), set.elements());
    }
    if (now instanceof MVRegister mv && (was == null || was instanceof MVRegister)) {
      return values(field, was == null ? Set.of() : ((MVRegister) was).values(), mv.values());
    }
    if (now instanceof ORMap map && (was == null || was instanceof ORMap)) {
      SortedMap<String, Crdt<?>> old = was == null ? new TreeMap<>() : ((ORMap) was).values();
      SortedMap<String, Crdt<?>> fresh = map.values();
      Set<String> addedKeys = new TreeSet<>();
      Set<String> updatedKeys = new TreeSet<>();
      for (Map.Entry<String, Crdt<?>> e : fresh.entrySet()) {
        Crdt<?> prior = old.get(e.getKey());
        if (prior == null) {
          addedKeys.add(e.getKey());
        } else if (!prior.equals(e.getValue())) {
          updatedKeys.add(e.getKey());
        }
      }
      Set<String> removedKeys = new TreeSet<>(old.keySet());
      removedKeys.removeAll(fresh.keySet());
      return new FieldChange(field, Set.of(), Set.of(), addedKeys, removedKeys, updatedKeys);
    }
    if (now == null && was != null) {
      // Gone as a whole (a refused edit undone): everything it held went.
      return between(field, before, Optional.of(was.type().empty()));
    }
    return of(field);
  }

  private static FieldChange values(String field, Set<Value> before, SortedSet<Value> after) {
    Set<Value> added = new TreeSet<>(after);
    added.removeAll(before);
    Set<Value> removed = new TreeSet<>(before);
    removed.removeAll(after);
    return new FieldChange(field, added, removed, Set.of(), Set.of(), Set.of());
  }
}

package dev.lattice.client.internal;

import dev.lattice.client.FieldChange;
import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.MVRegister;
import dev.lattice.crdt.ORMap;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.Value;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Computes the {@link FieldChange} a change event carries. Lives here rather than as a factory on
 * the record so that the API package exposes no constructor beyond the record's own. Stateless.
 */
public final class FieldChanges {

  private FieldChanges() {}

  /**
   * The change of {@code field} from {@code before} to {@code after}, either empty for an absent
   * field. Costs the size of the two states for sets, registers and maps.
   */
  public static FieldChange between(
      String field, Optional<Crdt<?>> before, Optional<Crdt<?>> after) {
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
    return FieldChange.of(field);
  }

  private static FieldChange values(String field, Set<Value> before, SortedSet<Value> after) {
    Set<Value> added = new TreeSet<>(after);
    added.removeAll(before);
    Set<Value> removed = new TreeSet<>(before);
    removed.removeAll(after);
    return new FieldChange(field, added, removed, Set.of(), Set.of(), Set.of());
  }
}

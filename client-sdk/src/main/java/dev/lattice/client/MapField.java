package dev.lattice.client;

import dev.lattice.client.internal.FieldPaths;
import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.ORMap;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * An observed-remove map (OR-Map) from string keys to nested fields, a field of a {@link
 * LatticeDocument} or a value inside another map. Each key's value is reached through a handle of
 * its type ({@link #counter}, {@link #register}, {@link #set}, {@link #mvRegister}, {@link #map}),
 * which creates the key on its first edit; a key's type is fixed like a field's. A remove takes
 * away the key as this client has seen it: an update made concurrently elsewhere keeps the key,
 * with what that replica wrote. Change events name the keys that appeared, went or changed ({@link
 * FieldChange#addedKeys()}, {@link FieldChange#removedKeys()}, {@link FieldChange#updatedKeys()}).
 *
 * <p>Thread-safe; reads are local and immediate, edits apply locally at once and queue for the
 * server (through the outbox, offline included).
 */
public final class MapField {

  private static final CrdtKind<ORMap> KIND = CrdtKind.of(ORMap.class);

  private final LatticeDocument document;
  private final String name;
  private final List<String> keys;

  MapField(LatticeDocument document, String name, List<String> keys) {
    this.document = document;
    this.name = name;
    this.keys = List.copyOf(keys);
  }

  /** The field's name (of the top-level field, for a map inside a map). */
  public String name() {
    return name;
  }

  /** The grow-only counter at {@code key}. */
  public CounterField counter(String key) {
    return new CounterField(document, name, FieldPaths.append(keys, checkKey(key)));
  }

  /** The last-writer-wins register at {@code key}. */
  public RegisterField register(String key) {
    return new RegisterField(document, name, FieldPaths.append(keys, checkKey(key)));
  }

  /** The OR-Set at {@code key}. */
  public SetField set(String key) {
    return new SetField(document, name, FieldPaths.append(keys, checkKey(key)));
  }

  /** The multi-value register at {@code key}. */
  public MVRegisterField mvRegister(String key) {
    return new MVRegisterField(document, name, FieldPaths.append(keys, checkKey(key)));
  }

  /** The nested map at {@code key}. */
  public MapField map(String key) {
    return new MapField(document, name, FieldPaths.append(keys, checkKey(key)));
  }

  /**
   * Removes {@code key} as this client sees it.
   *
   * @throws dev.lattice.crdt.FieldTypeMismatchException if the field (or the map key) exists with
   *     another type
   * @throws LocalStateException if the edit cannot be stored (nothing applied)
   * @throws IllegalStateException if the client is closed
   */
  public void remove(String key) {
    checkKey(key);
    document.editAt(name, keys, KIND, key.length(), (m, dot) -> m.remove(dot, key));
  }

  /** Whether {@code key} has a value. */
  public boolean containsKey(String key) {
    return document.state().stateAt(name, keys, KIND).map(m -> m.containsKey(key)).orElse(false);
  }

  /** The keys with a value, in order (a copy). */
  public SortedSet<String> keys() {
    return document
        .state()
        .stateAt(name, keys, KIND)
        .map(m -> Collections.unmodifiableSortedSet(new TreeSet<>(m.values().keySet())))
        .orElseGet(() -> Collections.unmodifiableSortedSet(new TreeSet<>()));
  }

  /** The value at {@code key} as a CRDT state (read-only), for keys of any type. */
  public java.util.Optional<Crdt<?>> get(String key) {
    return document.state().stateAt(name, keys, KIND).flatMap(m -> m.get(key));
  }

  /** The number of keys. */
  public int size() {
    return document.state().stateAt(name, keys, KIND).map(ORMap::size).orElse(0);
  }

  private static String checkKey(String key) {
    Objects.requireNonNull(key, "key");
    return key;
  }

  @Override
  public String toString() {
    return "MapField[" + FieldPaths.describe(name, keys) + "=" + keys() + "]";
  }
}

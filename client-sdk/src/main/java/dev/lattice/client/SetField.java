package dev.lattice.client;

import dev.lattice.client.internal.FieldPaths;
import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.codec.CrdtCodecs;
import java.util.List;
import java.util.Objects;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * An add-wins observed-remove set of {@link Value}s (OR-Set), a field of a {@link LatticeDocument}
 * or a value inside a {@link MapField}. A remove takes away the adds this client has seen; an add
 * made concurrently elsewhere survives it, and a removed element never comes back by itself. Change
 * events say which elements were added and removed ({@link FieldChange#added()}, {@link
 * FieldChange#removed()}).
 *
 * <p>Thread-safe; reads are local and immediate, edits apply locally at once and queue for the
 * server (through the outbox, offline included).
 */
public final class SetField {

  private static final CrdtKind<ORSet> KIND = CrdtKind.of(ORSet.class);
  private static final CrdtCodecs CODECS = CrdtCodecs.defaults();

  private final LatticeDocument document;
  private final String name;
  private final List<String> keys;

  SetField(LatticeDocument document, String name, List<String> keys) {
    this.document = document;
    this.name = name;
    this.keys = List.copyOf(keys);
  }

  /** The field's name (of the top-level field, for a set inside a map). */
  public String name() {
    return name;
  }

  /**
   * Adds {@code element}.
   *
   * @throws IllegalArgumentException if the change could not fit the server's largest frame
   * @throws dev.lattice.crdt.FieldTypeMismatchException if the field (or the map key) exists with
   *     another type
   * @throws LocalStateException if the edit cannot be stored (nothing applied)
   * @throws IllegalStateException if the client is closed
   */
  public void add(Value element) {
    Objects.requireNonNull(element, "element");
    document.editAt(
        name, keys, KIND, CODECS.value().encode(element).length, (s, dot) -> s.add(dot, element));
  }

  /**
   * Removes {@code element} as this client sees it; removing an absent element changes nothing
   * others can see.
   *
   * @throws dev.lattice.crdt.FieldTypeMismatchException if the field (or the map key) exists with
   *     another type
   * @throws LocalStateException if the edit cannot be stored (nothing applied)
   * @throws IllegalStateException if the client is closed
   */
  public void remove(Value element) {
    Objects.requireNonNull(element, "element");
    document.editAt(
        name,
        keys,
        KIND,
        CODECS.value().encode(element).length,
        (s, dot) -> s.remove(dot, element));
  }

  /** Whether {@code element} is in the set. */
  public boolean contains(Value element) {
    return document.state().stateAt(name, keys, KIND).map(s -> s.contains(element)).orElse(false);
  }

  /** The elements, in {@link Value} order (a copy). */
  public SortedSet<Value> elements() {
    return document
        .state()
        .stateAt(name, keys, KIND)
        .map(ORSet::elements)
        .orElseGet(() -> java.util.Collections.unmodifiableSortedSet(new TreeSet<>()));
  }

  /** The number of elements. */
  public int size() {
    return document.state().stateAt(name, keys, KIND).map(ORSet::size).orElse(0);
  }

  @Override
  public String toString() {
    return "SetField[" + FieldPaths.describe(name, keys) + "=" + elements() + "]";
  }
}

package dev.lattice.client;

import dev.lattice.client.internal.FieldPaths;
import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.MVRegister;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.codec.CrdtCodecs;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * A multi-value register (MV-Register), a field of a {@link LatticeDocument} or a value inside a
 * {@link MapField}: a write replaces the values this client has seen, and concurrent writes are all
 * kept until a later write replaces them, so the application sees the conflict and resolves it
 * (unlike {@link RegisterField}, where one write silently wins).
 *
 * <p>Thread-safe; reads are local and immediate, writes apply locally at once and queue for the
 * server (through the outbox, offline included).
 */
public final class MVRegisterField {

  private static final CrdtKind<MVRegister> KIND = CrdtKind.of(MVRegister.class);
  private static final CrdtCodecs CODECS = CrdtCodecs.defaults();

  private final LatticeDocument document;
  private final String name;
  private final List<String> keys;

  MVRegisterField(LatticeDocument document, String name, List<String> keys) {
    this.document = document;
    this.name = name;
    this.keys = List.copyOf(keys);
  }

  /** The field's name (of the top-level field, for a register inside a map). */
  public String name() {
    return name;
  }

  /**
   * Writes {@code value}, replacing every value this client holds.
   *
   * @throws IllegalArgumentException if the change could not fit the server's largest frame
   * @throws dev.lattice.crdt.FieldTypeMismatchException if the field (or the map key) exists with
   *     another type
   * @throws LocalStateException if the edit cannot be stored (nothing applied)
   * @throws IllegalStateException if the client is closed
   */
  public void write(Value value) {
    Objects.requireNonNull(value, "value");
    document.editAt(
        name, keys, KIND, CODECS.value().encode(value).length, (m, dot) -> m.write(dot, value));
  }

  /** The current values: one, several after concurrent writes, none if nobody wrote. */
  public SortedSet<Value> values() {
    return document
        .state()
        .stateAt(name, keys, KIND)
        .map(MVRegister::values)
        .orElseGet(() -> Collections.unmodifiableSortedSet(new TreeSet<>()));
  }

  @Override
  public String toString() {
    return "MVRegisterField[" + FieldPaths.describe(name, keys) + "=" + values() + "]";
  }
}

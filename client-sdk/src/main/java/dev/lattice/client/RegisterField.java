package dev.lattice.client;

import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.codec.CrdtCodecs;
import java.util.Objects;
import java.util.Optional;

/**
 * A last-writer-wins register field of a {@link LatticeDocument}, holding a {@link Value}. Writes
 * are stamped with the client's hybrid logical clock (corrected against the server's clock), always
 * after the write the field holds locally (even one too far ahead for the clock to accept), so a
 * write made after seeing a value is never lost to it; of concurrent writes the one with the
 * greater (timestamp, replica id) wins on every replica.
 *
 * <p>Thread-safe; reads are local and immediate, writes apply locally at once and queue for the
 * server.
 */
public final class RegisterField {

  private static final CrdtCodecs CODECS = CrdtCodecs.defaults();

  private final LatticeDocument document;
  private final String name;

  RegisterField(LatticeDocument document, String name) {
    this.document = document;
    this.name = name;
  }

  /** The field's name. */
  public String name() {
    return name;
  }

  /**
   * Writes {@code value}.
   *
   * @throws IllegalArgumentException if the change could not fit the server's largest frame
   *     (nothing applied)
   * @throws dev.lattice.crdt.FieldTypeMismatchException if the field exists with another type
   * @throws LocalStateException if the edit cannot be stored (nothing applied)
   * @throws IllegalStateException if the client is closed
   */
  public void set(Value value) {
    Objects.requireNonNull(value, "value");
    int valueBytes = CODECS.value().encode(value).length;
    document.edit(
        name,
        CrdtType.LWW_REGISTER,
        valueBytes,
        // Stamped after the field's current write, under the document's lock: when that write is
        // too far ahead for the clock to accept (a clock set back), clock.now() would stamp below
        // it and the write would lose on every replica without a word.
        (Document d) ->
            d.setRegister(
                document.me(),
                name,
                value,
                d.registerTimestamp(name)
                    .map(document.clock()::nowAfter)
                    .orElseGet(document.clock()::now)));
  }

  /**
   * The current value; empty for a register nobody wrote.
   *
   * @throws dev.lattice.crdt.FieldTypeMismatchException if the field exists with another type
   */
  public Optional<Value> get() {
    return document.state().registerValue(name);
  }

  @Override
  public String toString() {
    return "RegisterField[" + name + "=" + get().map(Value::toString).orElse("unset") + "]";
  }
}

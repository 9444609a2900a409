package dev.lattice.client;

import dev.lattice.client.internal.FieldPaths;
import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.LWWRegister;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.codec.CrdtCodecs;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;

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

  private static final CrdtKind<LWWRegister> KIND = CrdtKind.of(LWWRegister.class);

  private final LatticeDocument document;
  private final String name;
  private final List<String> keys;

  RegisterField(LatticeDocument document, String name) {
    this(document, name, List.of());
  }

  /** The register at {@code keys} inside the map field {@code name}. */
  RegisterField(LatticeDocument document, String name, List<String> keys) {
    this.document = document;
    this.name = name;
    this.keys = List.copyOf(keys);
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
    if (!keys.isEmpty()) {
      // Stamped after the key's current write, as below.
      document.editAt(
          name,
          keys,
          KIND,
          valueBytes,
          (r, dot) ->
              r.set(
                  value,
                  r.timestamp().map(document.clock()::nowAfter).orElseGet(document.clock()::now),
                  document.me()));
      return;
    }
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
    if (!keys.isEmpty()) {
      return document.state().stateAt(name, keys, KIND).flatMap(LWWRegister::value);
    }
    return document.state().registerValue(name);
  }

  /**
   * The current value as a string; empty for a register nobody wrote.
   *
   * @throws IllegalStateException if the register holds another kind of value (named in the
   *     message); nothing converts implicitly
   * @throws dev.lattice.crdt.FieldTypeMismatchException if the field exists with another type
   */
  public Optional<String> asString() {
    return typed(Value.StringValue.class, "a string").map(Value.StringValue::value);
  }

  /**
   * The current value as a 64-bit integer; empty for a register nobody wrote.
   *
   * @throws IllegalStateException if the register holds another kind of value, a float included
   * @throws dev.lattice.crdt.FieldTypeMismatchException if the field exists with another type
   */
  public OptionalLong asLong() {
    return typed(Value.IntegerValue.class, "an integer")
        .map(v -> OptionalLong.of(v.value()))
        .orElse(OptionalLong.empty());
  }

  /**
   * The current value as a 64-bit float; empty for a register nobody wrote.
   *
   * @throws IllegalStateException if the register holds another kind of value, an integer included
   * @throws dev.lattice.crdt.FieldTypeMismatchException if the field exists with another type
   */
  public OptionalDouble asDouble() {
    return typed(Value.FloatValue.class, "a float")
        .map(v -> OptionalDouble.of(v.value()))
        .orElse(OptionalDouble.empty());
  }

  /**
   * The current value as a boolean; empty for a register nobody wrote.
   *
   * @throws IllegalStateException if the register holds another kind of value
   * @throws dev.lattice.crdt.FieldTypeMismatchException if the field exists with another type
   */
  public Optional<Boolean> asBoolean() {
    return typed(Value.BooleanValue.class, "a boolean").map(Value.BooleanValue::value);
  }

  /**
   * The current value as bytes (a copy); empty for a register nobody wrote.
   *
   * @throws IllegalStateException if the register holds another kind of value
   * @throws dev.lattice.crdt.FieldTypeMismatchException if the field exists with another type
   */
  public Optional<byte[]> asBytes() {
    return typed(Value.BinaryValue.class, "binary").map(Value.BinaryValue::bytes);
  }

  private <T extends Value> Optional<T> typed(Class<T> kind, String wanted) {
    Optional<Value> value = get();
    if (value.isPresent() && !kind.isInstance(value.get())) {
      throw new IllegalStateException(
          "register '"
              + name
              + "' of document '"
              + document.id()
              + "' holds "
              + describe(value.get())
              + ", not "
              + wanted);
    }
    return value.map(kind::cast);
  }

  /** By {@link Value#kind()}, the rank of each kind in the value order. */
  private static final String[] KINDS = {
    "nil", "a boolean", "an integer", "a float", "a string", "binary", "an array", "a map"
  };

  private static String describe(Value value) {
    int kind = value.kind();
    String name = kind >= 0 && kind < KINDS.length ? KINDS[kind] : "a value";
    return name + " (" + value + ")";
  }

  @Override
  public String toString() {
    return "RegisterField["
        + FieldPaths.describe(name, keys)
        + "="
        + get().map(Value::toString).orElse("unset")
        + "]";
  }
}

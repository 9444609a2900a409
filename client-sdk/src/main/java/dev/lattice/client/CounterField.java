package dev.lattice.client;

import dev.lattice.client.internal.FieldPaths;
import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.GCounter;
import java.util.List;

/**
 * A grow-only counter field (G-Counter) of a {@link LatticeDocument}: every replica's increments
 * add up, concurrent ones included.
 *
 * <p>Thread-safe; reads are local and immediate, {@link #increment} applies locally at once and
 * queues the change for the server.
 */
public final class CounterField {

  private static final CrdtKind<GCounter> KIND = CrdtKind.of(GCounter.class);

  private final LatticeDocument document;
  private final String name;
  private final List<String> keys;

  CounterField(LatticeDocument document, String name) {
    this(document, name, List.of());
  }

  /** The counter at {@code keys} inside the map field {@code name}. */
  CounterField(LatticeDocument document, String name, List<String> keys) {
    this.document = document;
    this.name = name;
    this.keys = List.copyOf(keys);
  }

  /** The field's name. */
  public String name() {
    return name;
  }

  /**
   * Adds {@code amount}.
   *
   * @throws IllegalArgumentException if {@code amount} is negative
   * @throws ArithmeticException if the counter would overflow (nothing applied)
   * @throws dev.lattice.crdt.FieldTypeMismatchException if the field exists with another type
   * @throws LocalStateException if the edit cannot be stored (nothing applied)
   * @throws IllegalStateException if the client is closed
   */
  public void increment(long amount) {
    if (amount < 0) {
      throw new IllegalArgumentException(
          "a G-Counter only grows; increment of '" + name + "' by " + amount + " refused");
    }
    if (!keys.isEmpty()) {
      document.editAt(name, keys, KIND, 0, (g, dot) -> g.increment(document.me(), amount));
      return;
    }
    document.edit(
        name,
        CrdtType.G_COUNTER,
        0,
        (Document d) -> d.incrementGCounter(document.me(), name, amount));
  }

  /** Adds one. */
  public void increment() {
    increment(1);
  }

  /**
   * The current value; 0 for a field nobody wrote. Reads either kind of counter (only writes insist
   * on this handle's type).
   *
   * @throws dev.lattice.crdt.FieldTypeMismatchException if the field is a register
   */
  public long value() {
    if (!keys.isEmpty()) {
      return document.state().stateAt(name, keys, KIND).map(GCounter::value).orElse(0L);
    }
    return document.state().counterValue(name);
  }

  @Override
  public String toString() {
    return "CounterField[" + FieldPaths.describe(name, keys) + "=" + value() + "]";
  }
}

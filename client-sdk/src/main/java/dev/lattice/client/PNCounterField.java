package dev.lattice.client;

import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Document;

/**
 * A counter field that goes up and down (PN-Counter) of a {@link LatticeDocument}: every replica's
 * increments and decrements add up, concurrent ones included.
 *
 * <p>Thread-safe; reads are local and immediate, edits apply locally at once and queue for the
 * server.
 */
public final class PNCounterField {

  private final LatticeDocument document;
  private final String name;

  PNCounterField(LatticeDocument document, String name) {
    this.document = document;
    this.name = name;
  }

  /** The field's name. */
  public String name() {
    return name;
  }

  /**
   * Adds {@code amount}, which may be negative.
   *
   * @throws ArithmeticException if the counter would overflow (nothing applied)
   * @throws dev.lattice.crdt.FieldTypeMismatchException if the field exists with another type
   * @throws LocalStateException if the edit cannot be stored (nothing applied)
   * @throws IllegalStateException if the client is closed
   */
  public void increment(long amount) {
    document.edit(
        name, CrdtType.PN_COUNTER, 0, (Document d) -> d.addPNCounter(document.me(), name, amount));
  }

  /** Adds one. */
  public void increment() {
    increment(1);
  }

  /**
   * Subtracts {@code amount}, which may be negative.
   *
   * @throws ArithmeticException if {@code amount} is {@link Long#MIN_VALUE} or the counter would
   *     overflow (nothing applied)
   */
  public void decrement(long amount) {
    increment(Math.negateExact(amount));
  }

  /** Subtracts one. */
  public void decrement() {
    increment(-1);
  }

  /**
   * The current value; 0 for a field nobody wrote. Reads either kind of counter (only writes insist
   * on this handle's type).
   *
   * @throws dev.lattice.crdt.FieldTypeMismatchException if the field is a register
   */
  public long value() {
    return document.state().counterValue(name);
  }

  @Override
  public String toString() {
    return "PNCounterField[" + name + "=" + value() + "]";
  }
}

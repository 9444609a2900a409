package dev.lattice.server.hub;

import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.codec.CrdtCodecs;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A server-side change to one document, collected by application code and applied by {@link
 * Hub#edit} as one update of the server's own replica: the same checks, durability and fan-out as a
 * client's update.
 *
 * <pre>{@code
 * hub.edit("board-1", e -> e.increment("views", 1).set("title", Value.of("Q3 plan")));
 * }</pre>
 *
 * <p>Not thread-safe: filled by the thread that runs the edit callback, then read by the hub.
 */
public final class DocumentEdit {

  /** One field change. */
  record Op(String field, CrdtType type, long amount, Value value) {}

  private final List<Op> ops = new ArrayList<>();
  private final Map<String, CrdtType> types = new HashMap<>();

  private final int maxFieldBytes;

  /** An edit whose field name and value, encoded, may take at most {@code maxFieldBytes}. */
  DocumentEdit(int maxFieldBytes) {
    this.maxFieldBytes = maxFieldBytes;
  }

  /**
   * Adds {@code amount} to the G-Counter {@code field}, creating it if absent.
   *
   * @throws IllegalArgumentException if {@code amount} is negative, or this edit already gives
   *     {@code field} another type
   */
  public DocumentEdit increment(String field, long amount) {
    if (amount < 0) {
      throw new IllegalArgumentException(
          "a G-Counter only grows; increment of '" + field + "' by " + amount);
    }
    return add(new Op(field, CrdtType.G_COUNTER, amount, null));
  }

  /**
   * Adds {@code amount}, which may be negative, to the PN-Counter {@code field}, creating it if
   * absent.
   *
   * @throws IllegalArgumentException if this edit already gives {@code field} another type
   */
  public DocumentEdit add(String field, long amount) {
    return add(new Op(field, CrdtType.PN_COUNTER, amount, null));
  }

  /**
   * Writes {@code value} to the register {@code field}, stamped with the server's clock.
   *
   * @throws IllegalArgumentException if this edit already gives {@code field} another type, or the
   *     field name and value are too large to reach clients in one frame
   */
  public DocumentEdit set(String field, Value value) {
    Objects.requireNonNull(value, "value");
    Objects.requireNonNull(field, "field");
    long bytes =
        (long) field.getBytes(StandardCharsets.UTF_8).length
            + CrdtCodecs.defaults().value().encode(value).length;
    if (bytes > maxFieldBytes) {
      // Every subscriber would be sent it; a field no frame can carry would break them all.
      throw new IllegalArgumentException(
          "field '"
              + field
              + "' with this value takes "
              + bytes
              + " bytes; a field must fit one frame, at most "
              + maxFieldBytes
              + " bytes");
    }
    return add(new Op(field, CrdtType.LWW_REGISTER, 0, value));
  }

  private DocumentEdit add(Op op) {
    Objects.requireNonNull(op.field(), "field");
    CrdtType previous = types.putIfAbsent(op.field(), op.type());
    if (previous != null && previous != op.type()) {
      throw new IllegalArgumentException(
          "field '" + op.field() + "' is a " + previous + " in this edit, not a " + op.type());
    }
    ops.add(op);
    return this;
  }

  List<Op> ops() {
    return List.copyOf(ops);
  }

  Map<String, CrdtType> types() {
    return Map.copyOf(types);
  }
}

package dev.lattice.server.spi;

import dev.lattice.crdt.Value;
import java.util.function.Consumer;

/**
 * A server-side change to one document, collected by application code and applied by {@code
 * LatticeServer.edit} as one update of the server's own replica: the same checks, durability and
 * fan-out as a client's update.
 *
 * <pre>{@code
 * server.edit("board-1", e -> e.increment("views", 1).set("title", Value.of("Q3 plan")));
 * server.edit("board-1", e -> e.addToSet("tags", Value.of("urgent"))
 *     .inMap("card-7", card -> card.set("title", Value.of("Fix")).removeFromSet("tags", old)));
 * }</pre>
 *
 * <p>Inside {@link #inMap}, field names are the OR-Map's keys, and the nested edit offers the same
 * operations, nested maps included. Each operation is its own mutation of the server's replica, in
 * the order given; the edit as a whole is one update.
 *
 * <p>The server hands one to an edit or seed callback ({@code LatticeServer.edit}, {@link
 * LatticeExtension.Seed}) and reads it when the callback returns: record edits in the callback, on
 * its thread, and do not keep the edit. Not thread-safe.
 */
public interface DocumentEdit {

  /**
   * Adds {@code amount} to the G-Counter {@code field}, creating it if absent.
   *
   * @throws IllegalArgumentException if {@code amount} is negative, or this edit already gives
   *     {@code field} another type
   */
  DocumentEdit increment(String field, long amount);

  /**
   * Adds {@code amount}, which may be negative, to the PN-Counter {@code field}, creating it if
   * absent.
   *
   * @throws IllegalArgumentException if this edit already gives {@code field} another type
   */
  DocumentEdit add(String field, long amount);

  /**
   * Writes {@code value} to the register {@code field}, stamped with the server's clock.
   *
   * @throws IllegalArgumentException if this edit already gives {@code field} another type, or the
   *     field name and value are too large to reach clients in one frame
   */
  DocumentEdit set(String field, Value value);

  /**
   * Adds {@code element} to the OR-Set {@code field}, creating it if absent.
   *
   * @throws IllegalArgumentException if this edit already gives {@code field} another type, or the
   *     field name and element are too large to reach clients in one frame
   */
  DocumentEdit addToSet(String field, Value element);

  /**
   * Removes {@code element} from the OR-Set {@code field} as the server holds it: adds the server
   * has not seen yet survive.
   *
   * @throws IllegalArgumentException if this edit already gives {@code field} another type
   */
  DocumentEdit removeFromSet(String field, Value element);

  /**
   * Writes {@code value} to the MV-Register {@code field}, replacing the values the server holds.
   *
   * @throws IllegalArgumentException if this edit already gives {@code field} another type, or the
   *     field name and value are too large to reach clients in one frame
   */
  DocumentEdit writeMVRegister(String field, Value value);

  /**
   * Edits the OR-Map {@code field}, creating it if absent: {@code keys} gets an edit whose field
   * names are the map's keys.
   *
   * @throws IllegalArgumentException if this edit already gives {@code field} another type, or
   *     {@code keys} does
   */
  DocumentEdit inMap(String field, Consumer<DocumentEdit> keys);

  /**
   * Removes {@code key} from the OR-Map {@code field} as the server holds it: concurrent updates of
   * the key the server has not seen keep it.
   *
   * @throws IllegalArgumentException if this edit already gives {@code field} another type
   */
  DocumentEdit removeFromMap(String field, String key);
}

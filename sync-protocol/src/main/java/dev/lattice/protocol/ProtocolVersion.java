package dev.lattice.protocol;

import java.util.OptionalInt;

/**
 * The protocol versions this build speaks, and the negotiation rule: the server picks the highest
 * version in both the client's range and its own. Versions are major versions: within one, messages
 * only grow by trailing fields that older peers ignore.
 *
 * <p>Constants and pure functions only; thread-safe.
 */
public final class ProtocolVersion {

  /** The lowest version this build speaks. */
  public static final int MIN = 1;

  /**
   * The highest version this build speaks. Version 2 adds SUBSCRIBE's document alias and the
   * compact UPDATE_OWN message (docs/PROTOCOL.md, "What changed in version 2").
   */
  public static final int MAX = 2;

  private ProtocolVersion() {}

  /**
   * The version to use with a client offering {@code [clientMin, clientMax]}: the highest in both
   * that range and {@code [MIN, MAX]}, or empty if there is none (or the range is empty).
   */
  public static OptionalInt negotiate(int clientMin, int clientMax) {
    return negotiate(clientMin, clientMax, MIN, MAX);
  }

  /**
   * The highest version in both {@code [clientMin, clientMax]} and {@code [serverMin, serverMax]},
   * or empty if the ranges do not meet or either is empty.
   */
  public static OptionalInt negotiate(int clientMin, int clientMax, int serverMin, int serverMax) {
    if (clientMin > clientMax || serverMin > serverMax) {
      return OptionalInt.empty();
    }
    int high = Math.min(clientMax, serverMax);
    int low = Math.max(clientMin, serverMin);
    return high >= low ? OptionalInt.of(high) : OptionalInt.empty();
  }
}

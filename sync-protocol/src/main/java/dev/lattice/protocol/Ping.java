package dev.lattice.protocol;

import dev.lattice.hlc.HlcTimestamp;

/**
 * PING, both ways: a heartbeat, answered by {@link Pong} with the same nonce. The sender's HLC time
 * lets the receiver see the sender's clock; the PONG's time lets the sender estimate the offset of
 * the responder's clock.
 *
 * <p>Immutable and thread-safe.
 *
 * @param nonce any value, echoed by the PONG
 * @param time the sender's HLC time when it sent the PING
 */
public record Ping(long nonce, HlcTimestamp time) implements Message {

  /**
   * @throws NullPointerException if {@code time} is null
   */
  public Ping {
    Checks.notNull("PING", "time", time);
  }

  @Override
  public MessageType messageType() {
    return MessageType.PING;
  }
}

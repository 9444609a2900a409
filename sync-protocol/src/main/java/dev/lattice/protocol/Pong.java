package dev.lattice.protocol;

import dev.lattice.hlc.HlcTimestamp;

/**
 * PONG, both ways: the answer to a {@link Ping}. The receiver of the PONG estimates the responder's
 * clock offset as {@code time - (pingSent + pongReceived) / 2} in physical milliseconds.
 *
 * <p>Immutable and thread-safe.
 *
 * @param nonce the PING's nonce
 * @param time the responder's HLC time when it answered
 */
public record Pong(long nonce, HlcTimestamp time) implements Message {

  /**
   * @throws NullPointerException if {@code time} is null
   */
  public Pong {
    Checks.notNull("PONG", "time", time);
  }

  @Override
  public MessageType messageType() {
    return MessageType.PONG;
  }
}

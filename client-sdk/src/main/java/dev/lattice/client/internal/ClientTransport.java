package dev.lattice.client.internal;

import dev.lattice.protocol.Message;

/**
 * What the {@link ClientSession} asks of the network: open a connection, send messages on it, close
 * it. Each connection is named by a generation number chosen by the session; the transport reports
 * back through {@link ClientSession#onOpen}, {@link ClientSession#onMessage} and {@link
 * ClientSession#onClosed} with that number, on the session's thread.
 *
 * <p>Called only from the session's thread.
 */
public interface ClientTransport {

  /** Opens connection {@code generation}; reports its opening, or its failure as a close. */
  void connect(long generation);

  /**
   * {@link #connect(long)} with the credentials of this connection (null for none), which a
   * transport able to set upgrade headers also sends as {@code Authorization: Bearer}. A refusal of
   * the upgrade is reported as a close: 401 as 4002 (UNAUTHORIZED), 403 as 1008 (POLICY_VIOLATION).
   * By default the credentials go in HELLO only.
   */
  default void connect(long generation, String credentials) {
    connect(generation);
  }

  /** Sends {@code message} on connection {@code generation}, after the messages sent before. */
  void send(long generation, Message message);

  /** Closes connection {@code generation} after the messages already sent; reports nothing. */
  void close(long generation, int code, String reason);
}

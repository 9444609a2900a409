package dev.lattice.server.session;

/**
 * Told what every {@link ServerSession} of a factory receives and sends, for metrics: frame sizes,
 * the error codes it answers with and the close codes it closes with. Every method has a no-op
 * default.
 *
 * <p>Called from network and hub threads of many sessions at once: implementations are thread-safe
 * and quick (some calls run under a session's output lock).
 */
public interface SessionObserver {

  /** A no-op observer. */
  SessionObserver NONE = new SessionObserver() {};

  /** A binary frame of {@code bytes} arrived from the client. */
  default void frameReceived(int bytes) {}

  /** A frame of {@code bytes} was handed to the transport. */
  default void frameSent(int bytes) {}

  /** An ERROR with the protocol error {@code code} was sent. */
  default void errorSent(int code) {}

  /** The session closed its connection with {@code closeCode}. */
  default void closedByServer(int closeCode) {}
}

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

  /**
   * The server closed a connection with {@code closeCode}: the session (a refusal, idle timeout,
   * rate limit) or its transport (slow consumer, server shutdown). Once per connection.
   */
  default void closedByServer(int closeCode) {}

  /**
   * A close with {@code closeCode} was not answered within the close grace (the peer never read up
   * to the close frame, which queues behind every frame sent before it), so the connection was
   * dropped: the peer saw no close frame, only the end of the TCP connection (1006).
   */
  default void closeCut(int closeCode) {}
}

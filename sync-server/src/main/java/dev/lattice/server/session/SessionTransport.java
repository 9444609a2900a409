package dev.lattice.server.session;

import dev.lattice.server.spi.SessionConfig;

/**
 * Where a {@link ServerSession} puts its output: the one WebSocket connection it serves. The
 * transport adapter implements it.
 *
 * <p>The session calls these methods from several threads, but never two at a time: {@link
 * #sendFrame} is called under the session's output lock, and {@link #close} once, after the last
 * {@code sendFrame} has returned. So implementations need no locking of their own for ordering.
 * Neither method may block.
 */
public interface SessionTransport {

  /**
   * Queues one binary frame for the peer. Never blocks: an adapter whose outgoing queue passes its
   * byte bound closes the connection ({@link dev.lattice.protocol.CloseCodes#SLOW_CONSUMER}).
   */
  void sendFrame(byte[] frame);

  /**
   * Closes the connection with a WebSocket close code and a reason of at most 123 UTF-8 bytes.
   * Called at most once per session. The adapter reports the end of the connection with {@link
   * ServerSession#onClosed()}, which it may do before this method returns.
   */
  void close(int code, String reason);

  /**
   * Stop reading frames from the peer until {@link #resumeReading()}: the session has {@link
   * SessionConfig#maxPendingUpdates()} UPDATEs awaiting replies. A frame already read may still
   * arrive. Called from the session's executor, possibly while another thread is in {@link
   * #sendFrame}; pause and resume calls alternate, starting with a pause. The default reads on.
   */
  default void pauseReading() {}

  /** Read frames again after {@link #pauseReading()}. Same threading as {@link #pauseReading}. */
  default void resumeReading() {}
}

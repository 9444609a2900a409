package dev.lattice.server;

import dev.lattice.protocol.CloseCodes;
import dev.lattice.server.session.ServerSession;
import dev.lattice.server.session.SessionFactory;
import dev.lattice.server.session.SessionTransport;
import java.nio.ByteBuffer;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;

/**
 * The thin Jetty adapter for one WebSocket connection: it feeds the connection's frames to a {@link
 * ServerSession} and implements the session's {@link SessionTransport}.
 *
 * <p><b>Reads</b> are demand-driven: one frame is demanded at open and one more after each frame
 * (binary, text, ping, pong) has been handed to the session, which never blocks, unless the session
 * paused reading ({@link #pauseReading}: too many of its UPDATEs await the store); the owed demand
 * is then made by {@link #resumeReading}, so a client that outruns the store is held back by TCP,
 * not by queues in the server. PINGs are answered here: Jetty leaves that to a listener that
 * receives them.
 *
 * <p><b>Writes</b> use {@link Session#sendBinary} with a completion callback; the bytes queued but
 * not yet written are counted. A frame that would take the queue past {@code maxQueuedBytes} while
 * other frames are still waiting closes the connection with 4003 SLOW_CONSUMER instead (a single
 * frame larger than the bound is still sent when the queue is empty). The close frame queues behind
 * the pending frames, so the session is told at once ({@link ServerSession#onClosed()}) and the
 * connection is cut after {@link #CLOSE_GRACE_MILLIS} if the peer never reads up to it.
 *
 * <p>Thread-safety: Jetty delivers events one at a time; {@link #sendFrame} and {@link #close} may
 * come from any thread (never two at once, per {@link SessionTransport}); {@link #shutDown} from
 * the server's closing thread. State is atomics and volatiles.
 *
 * <p>Public only because Jetty invokes listener methods through public method handles (a
 * package-private endpoint fails the upgrade with 500); its constructor is package-private and it
 * is not part of the API.
 */
public final class WebSocketConnection implements Session.Listener, SessionTransport {

  /** How long a close may wait for the peer before the connection is cut. */
  static final long CLOSE_GRACE_MILLIS = 5_000;

  private final SessionFactory sessions;
  private final long maxQueuedBytes;
  private final Set<WebSocketConnection> open;
  private final ScheduledExecutorService timer;
  private final AtomicLong queuedBytes = new AtomicLong();
  private final AtomicBoolean closing = new AtomicBoolean();
  private final AtomicBoolean readingPaused = new AtomicBoolean();
  private final AtomicBoolean demandOwed = new AtomicBoolean();
  private final CompletableFuture<Void> ended = new CompletableFuture<>();
  private volatile Session socket;
  private volatile ServerSession session;

  WebSocketConnection(
      SessionFactory sessions,
      long maxQueuedBytes,
      Set<WebSocketConnection> open,
      ScheduledExecutorService timer) {
    this.sessions = sessions;
    this.maxQueuedBytes = maxQueuedBytes;
    this.open = open;
    this.timer = timer;
  }

  /** Completes when the connection has ended, however it ended. */
  CompletableFuture<Void> ended() {
    return ended;
  }

  /** Bytes handed to Jetty and not yet written (or failed). */
  long queuedBytes() {
    return queuedBytes.get();
  }

  // ------------------------------------------------------------------ Jetty events

  @Override
  public void onWebSocketOpen(Session socket) {
    this.socket = socket;
    open.add(this);
    this.session = sessions.open(this);
    socket.demand();
  }

  @Override
  public void onWebSocketBinary(ByteBuffer payload, Callback callback) {
    byte[] frame = new byte[payload.remaining()];
    payload.get(frame);
    callback.succeed();
    session.onFrame(frame);
    demand();
  }

  @Override
  public void onWebSocketText(String text) {
    session.onText();
    demand();
  }

  @Override
  public void onWebSocketPing(ByteBuffer payload) {
    // A listener that handles PINGs answers them itself: Jetty sends no PONG then.
    Session s = socket;
    if (s != null) {
      s.sendPong(payload, Callback.NOOP);
    }
    demand();
  }

  @Override
  public void onWebSocketPong(ByteBuffer payload) {
    demand();
  }

  @Override
  public void onWebSocketError(Throwable cause) {
    onEnded();
  }

  @Override
  public void onWebSocketClose(int statusCode, String reason) {
    onEnded();
  }

  /**
   * Demands the next frame unless reading is paused, also after our close frame went out: the
   * peer's close reply must be read for Jetty to end the connection. Each side sets its own flag
   * before it looks at the other's, and whoever clears {@link #demandOwed} demands, so a resume
   * racing with a frame is never lost and Jetty is never asked twice for one frame.
   */
  private void demand() {
    demandOwed.set(true);
    if (!readingPaused.get() || closing.get()) {
      demandNow();
    }
  }

  private void demandNow() {
    if (demandOwed.compareAndSet(true, false)) {
      Session s = socket;
      if (s != null && !ended.isDone()) {
        s.demand();
      }
    }
  }

  @Override
  public void pauseReading() {
    readingPaused.set(true);
  }

  @Override
  public void resumeReading() {
    readingPaused.set(false);
    demandNow();
  }

  private void onEnded() {
    open.remove(this);
    closing.set(true);
    ServerSession s = session;
    if (s != null) {
      s.onClosed();
    }
    ended.complete(null);
  }

  // ------------------------------------------------------------------ SessionTransport

  @Override
  public void sendFrame(byte[] frame) {
    if (closing.get()) {
      return;
    }
    long length = frame.length;
    long queued = queuedBytes.addAndGet(length);
    if (queued > maxQueuedBytes && queued > length) {
      queuedBytes.addAndGet(-length);
      closeAndTell(
          CloseCodes.SLOW_CONSUMER, "slow consumer: more than " + maxQueuedBytes + " bytes queued");
      return;
    }
    socket.sendBinary(
        ByteBuffer.wrap(frame),
        Callback.from(() -> queuedBytes.addAndGet(-length), e -> queuedBytes.addAndGet(-length)));
  }

  @Override
  public void close(int code, String reason) {
    closeSocket(code, reason);
  }

  /** Closes with 1001 because the server is shutting down. */
  void shutDown() {
    closeAndTell(CloseCodes.GOING_AWAY, "server shutting down");
  }

  /** Closes the socket and tells the session now, from another thread (no session lock held). */
  private void closeAndTell(int code, String reason) {
    if (closeSocket(code, reason)) {
      ServerSession s = session;
      if (s != null) {
        timer.execute(s::onClosed);
      }
    }
  }

  private boolean closeSocket(int code, String reason) {
    if (!closing.compareAndSet(false, true)) {
      return false;
    }
    Session s = socket;
    if (s == null) {
      return false;
    }
    s.close(code, reason, Callback.from(() -> {}, e -> s.disconnect()));
    timer.schedule(
        () -> {
          if (!ended.isDone()) {
            s.disconnect();
          }
        },
        CLOSE_GRACE_MILLIS,
        TimeUnit.MILLISECONDS);
    return true;
  }
}

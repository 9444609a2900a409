package dev.lattice.server;

import dev.lattice.protocol.CloseCodes;
import dev.lattice.server.auth.AuthResult;
import dev.lattice.server.hub.WriteBatch;
import dev.lattice.server.session.ServerSession;
import dev.lattice.server.session.SessionFactory;
import dev.lattice.server.session.SessionObserver;
import dev.lattice.server.session.SessionTransport;
import java.nio.ByteBuffer;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.common.WebSocketSession;
import org.eclipse.jetty.websocket.core.CoreSession;
import org.eclipse.jetty.websocket.core.Frame;
import org.eclipse.jetty.websocket.core.OpCode;

/**
 * The thin Jetty adapter for one WebSocket connection: it feeds the connection's frames to a {@link
 * ServerSession} and implements the session's {@link SessionTransport}.
 *
 * <p><b>Reads</b> are demand-driven: one frame is demanded at open and one more after each binary
 * or text frame has been handed to the session, which never blocks, unless the session paused
 * reading ({@link #pauseReading}: too many of its UPDATEs await the store); the owed demand is then
 * made by {@link #resumeReading}, so a client that outruns the store is held back by TCP, not by
 * queues in the server. WebSocket PINGs and PONGs are left to Jetty, which answers a PING and
 * demands the next frame itself for a listener without {@code onWebSocketPing}/{@code
 * onWebSocketPong}; not having them also spares the two method handles Jetty would bind to every
 * connection.
 *
 * <p><b>Writes</b> go to Jetty's core session with a completion callback; the bytes queued but not
 * yet written are counted. A frame sent inside a {@link WriteBatch} (a document's round) is queued
 * without a flush and the batch flushes the connection once at its end, so a round's frames for one
 * connection leave in one write. A frame that would take the queue past {@code maxQueuedBytes}
 * while other frames are still waiting closes the connection with 4003 SLOW_CONSUMER instead (a
 * single frame larger than the bound is still sent when the queue is empty). The close frame queues
 * behind the pending frames (WebSocket has no way to send it first), so the session is told at once
 * ({@link ServerSession#onClosed()}) and the connection is cut after the close grace if the peer
 * never reads up to it: a reader stalled for longer than the grace sees the TCP connection end
 * (1006) rather than 4003. Every close is reported to the {@link SessionObserver} once, and every
 * cut too ({@link SessionObserver#closeCut}).
 *
 * <p>Thread-safety: Jetty delivers events one at a time; {@link #sendFrame} and {@link #close} may
 * come from any thread (never two at once, per {@link SessionTransport}); {@link #shutDown} from
 * the server's closing thread; {@link #flushBatch} from any thread (Jetty's flusher is locked).
 * State is volatiles, updated atomically through field updaters.
 *
 * <p>Public only because Jetty invokes listener methods through public method handles (a
 * package-private endpoint fails the upgrade with 500); its constructor is package-private and it
 * is not part of the API.
 */
public final class WebSocketConnection
    implements Session.Listener, SessionTransport, WriteBatch.Flushable {

  /** How long a close may wait for the peer before the connection is cut, by default. */
  static final long CLOSE_GRACE_MILLIS = 5_000;

  private final SessionFactory sessions;
  private final CompletionStage<AuthResult> upgradeAuth;
  private final long maxQueuedBytes;
  private final Set<WebSocketConnection> open;
  private final ScheduledExecutorService timer;
  private final SessionObserver observer;
  private final long closeGraceMillis;
  private final ByteRate byteRate;
  // Field updaters rather than AtomicLong/AtomicBoolean objects: two objects fewer (40 B) on
  // every connection, most of which are idle.
  private static final AtomicLongFieldUpdater<WebSocketConnection> QUEUED_BYTES =
      AtomicLongFieldUpdater.newUpdater(WebSocketConnection.class, "queuedBytes");
  private static final AtomicIntegerFieldUpdater<WebSocketConnection> CLOSING =
      AtomicIntegerFieldUpdater.newUpdater(WebSocketConnection.class, "closing");
  private static final AtomicIntegerFieldUpdater<WebSocketConnection> DEMAND_OWED =
      AtomicIntegerFieldUpdater.newUpdater(WebSocketConnection.class, "demandOwed");

  private volatile long queuedBytes;
  private volatile int closing; // 0, then 1 once closing
  private volatile boolean readingPaused;
  private volatile int demandOwed; // 1 while a frame's demand waits for resumeReading
  private final CompletableFuture<Void> ended = new CompletableFuture<>();
  private volatile Session socket;
  // Jetty's core session under the API one: only it can queue a frame without flushing it.
  private volatile CoreSession core;
  private volatile ServerSession session;

  WebSocketConnection(
      SessionFactory sessions,
      CompletionStage<AuthResult> upgradeAuth,
      long maxQueuedBytes,
      Set<WebSocketConnection> open,
      ScheduledExecutorService timer,
      SessionObserver observer,
      long closeGraceMillis,
      long bytesInPerSecond,
      long bytesInBurst) {
    this.sessions = sessions;
    this.upgradeAuth = upgradeAuth;
    this.maxQueuedBytes = maxQueuedBytes;
    this.open = open;
    this.timer = timer;
    this.observer = observer;
    this.closeGraceMillis = closeGraceMillis;
    this.byteRate = new ByteRate(bytesInPerSecond, bytesInBurst, System.nanoTime());
  }

  /** Completes when the connection has ended, however it ended. */
  CompletableFuture<Void> ended() {
    return ended;
  }

  /** Bytes handed to Jetty and not yet written (or failed). */
  long queuedBytes() {
    return queuedBytes;
  }

  // ------------------------------------------------------------------ Jetty events

  @Override
  public void onWebSocketOpen(Session socket) {
    this.socket = socket;
    if (socket instanceof WebSocketSession api) {
      this.core = api.getCoreSession();
    }
    open.add(this);
    this.session = sessions.open(this, upgradeAuth);
    socket.demand();
  }

  @Override
  public void onWebSocketBinary(ByteBuffer payload, Callback callback) {
    byte[] frame = new byte[payload.remaining()];
    payload.get(frame);
    callback.succeed();
    session.onFrame(frame);
    demandWithin(frame.length);
  }

  @Override
  public void onWebSocketText(String text) {
    session.onText();
    demandWithin(text.length());
  }

  /**
   * Demands the next frame now, or once the byte rate has paid for this one: a client over {@code
   * bytesInPerSecond} is held back by TCP. Jetty delivers one frame per demand, so nothing is read
   * meanwhile, and a resume of reading cannot demand early ({@link #demandOwed} is only set here).
   */
  private void demandWithin(int bytes) {
    long waitNanos = byteRate.take(bytes, System.nanoTime());
    if (waitNanos <= 0 || closing != 0) {
      demand();
    } else {
      timer.schedule(this::demand, waitNanos, TimeUnit.NANOSECONDS);
    }
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
    demandOwed = 1;
    if (!readingPaused || closing != 0) {
      demandNow();
    }
  }

  private void demandNow() {
    if (DEMAND_OWED.compareAndSet(this, 1, 0)) {
      Session s = socket;
      if (s != null && !ended.isDone()) {
        s.demand();
      }
    }
  }

  @Override
  public void pauseReading() {
    readingPaused = true;
  }

  @Override
  public void resumeReading() {
    readingPaused = false;
    demandNow();
  }

  private void onEnded() {
    open.remove(this);
    closing = 1;
    ServerSession s = session;
    if (s != null) {
      s.onClosed();
    }
    ended.complete(null);
  }

  // ------------------------------------------------------------------ SessionTransport

  @Override
  public void sendFrame(byte[] frame) {
    if (closing != 0) {
      return;
    }
    long length = frame.length;
    long queued = QUEUED_BYTES.addAndGet(this, length);
    if (queued > maxQueuedBytes && queued > length) {
      QUEUED_BYTES.addAndGet(this, -length);
      closeAndTell(
          CloseCodes.SLOW_CONSUMER, "slow consumer: more than " + maxQueuedBytes + " bytes queued");
      return;
    }
    CoreSession c = core;
    if (c == null) {
      socket.sendBinary(
          ByteBuffer.wrap(frame),
          Callback.from(
              () -> QUEUED_BYTES.addAndGet(this, -length),
              e -> QUEUED_BYTES.addAndGet(this, -length)));
      return;
    }
    // Inside a write batch (a document's round) the frame is queued unflushed, and Jetty's flusher
    // gathers the connection's frames of the round (its ACK, the fan-out) into one write when the
    // batch flushes. Elsewhere it is written at once, after anything queued before it.
    c.sendFrame(
        new Frame(OpCode.BINARY).setPayload(ByteBuffer.wrap(frame)),
        org.eclipse.jetty.util.Callback.from(
            () -> QUEUED_BYTES.addAndGet(this, -length),
            e -> QUEUED_BYTES.addAndGet(this, -length)),
        WriteBatch.join(this));
  }

  @Override
  public void flushBatch() {
    CoreSession c = core;
    if (c != null) {
      c.flush(org.eclipse.jetty.util.Callback.NOOP);
    }
  }

  @Override
  public void close(int code, String reason) {
    closeSocket(code, reason);
  }

  /** Closes with 1001 because the server is shutting down. */
  void shutDown() {
    closeAndTell(CloseCodes.GOING_AWAY, "server shutting down");
  }

  /**
   * Closes the socket, counts the close (the session, which counts its own closes, does not know of
   * this one) and tells the session now, from another thread (no session lock held).
   */
  private void closeAndTell(int code, String reason) {
    if (closeSocket(code, reason)) {
      observer.closedByServer(code);
      ServerSession s = session;
      if (s != null) {
        timer.execute(s::onClosed);
      }
    }
  }

  private boolean closeSocket(int code, String reason) {
    if (!CLOSING.compareAndSet(this, 0, 1)) {
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
            observer.closeCut(code);
            s.disconnect();
          }
        },
        closeGraceMillis,
        TimeUnit.MILLISECONDS);
    return true;
  }

  /**
   * Bytes in per second as a token bucket that may go into debt: a frame is always taken (it has
   * arrived), and the debt says how long to wait before reading the next. Used from Jetty's event
   * thread of the connection, one frame at a time.
   */
  static final class ByteRate {
    private final long perSecond;
    private final long burst;
    private long credit;
    private long lastNanos;

    ByteRate(long perSecond, long burst, long nowNanos) {
      this.perSecond = perSecond;
      this.burst = burst;
      this.credit = burst;
      this.lastNanos = nowNanos;
    }

    /** Takes {@code bytes}; returns how many nanoseconds to wait before the next frame, or 0. */
    long take(int bytes, long nowNanos) {
      long elapsed = Math.max(0, nowNanos - lastNanos);
      lastNanos = nowNanos;
      // In doubles: nanoseconds times bytes per second overflows a long within hours.
      double refill = Math.min((double) burst - credit, elapsed * (double) perSecond / 1e9);
      credit = Math.min(burst, credit + (long) refill) - bytes;
      return credit >= 0 ? 0 : (long) Math.ceil(-credit * 1e9 / perSecond);
    }
  }
}

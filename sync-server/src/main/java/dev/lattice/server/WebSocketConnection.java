package dev.lattice.server;

import dev.lattice.protocol.CloseCodes;
import dev.lattice.server.hub.WriteBatch;
import dev.lattice.server.session.Handshake;
import dev.lattice.server.session.ServerSession;
import dev.lattice.server.session.SessionFactory;
import dev.lattice.server.session.SessionObserver;
import dev.lattice.server.session.SessionTransport;
import dev.lattice.server.spi.AuthResult;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.websocket.core.CloseStatus;
import org.eclipse.jetty.websocket.core.CoreSession;
import org.eclipse.jetty.websocket.core.Frame;
import org.eclipse.jetty.websocket.core.FrameHandler;
import org.eclipse.jetty.websocket.core.OpCode;
import org.eclipse.jetty.websocket.core.exception.MessageTooLargeException;

/**
 * The thin Jetty adapter for one WebSocket connection: a {@link FrameHandler} on Jetty's core
 * WebSocket API that feeds the connection's messages to a {@link ServerSession} and implements the
 * session's {@link SessionTransport}.
 *
 * <p>Core rather than Jetty's {@code Session.Listener} API: the listener layer keeps the whole HTTP
 * upgrade request (and what hangs off it) alive for the life of the connection, plus message sinks
 * and method handles, which made most of an idle connection's heap. Here a connection holds its
 * core session, its {@link ServerSession} and a few counters; the price is doing by hand the little
 * the listener layer did: answering PINGs, joining a fragmented message (within {@code
 * maxMessageBytes}, else 1009) and copying each message out of Jetty's pooled buffer.
 *
 * <p><b>Reads</b> are demand-driven: one frame is demanded at open and one more after each frame
 * has been handled; a message is handed to the session, which never blocks, when its last fragment
 * arrives. Reading stops while the session paused it ({@link #pauseReading}: too many of its
 * UPDATEs await the store); the owed demand is then made by {@link #resumeReading}, so a client
 * that outruns the store is held back by TCP, not by queues in the server. Every frame, PINGs
 * included, is paid for from the connection's byte rate before the next is read.
 *
 * <p><b>Writes</b> go to the core session with a completion callback; the bytes queued but not yet
 * written are counted. A frame sent inside a {@link WriteBatch} (a document's round) is queued
 * without a flush and the batch flushes the connection once at its end, so a round's frames for one
 * connection leave in one write. A frame that would take the queue past {@code maxQueuedBytes}
 * while other frames are still waiting closes the connection with 4003 SLOW_CONSUMER instead (a
 * single frame larger than the bound is still sent when the queue is empty). The close frame queues
 * behind the pending frames (WebSocket has no way to send it first), so the session is told at once
 * ({@link ServerSession#onClosed(int, String)}) and the connection is cut after the close grace if
 * the peer never reads up to it: a reader stalled for longer than the grace sees the TCP connection
 * end (1006) rather than 4003. Every close is reported to the {@link SessionObserver} once, and
 * every cut too ({@link SessionObserver#closeCut}).
 *
 * <p>Thread-safety: Jetty delivers events one at a time; {@link #sendFrame} and {@link #close} may
 * come from any thread (never two at once, per {@link SessionTransport}); {@link #shutDown} from
 * the server's closing thread; {@link #flushBatch} from any thread (Jetty's flusher is locked).
 * State is volatiles, updated atomically through field updaters; the message being joined is
 * confined to Jetty's event thread.
 */
final class WebSocketConnection implements FrameHandler, SessionTransport, WriteBatch.Flushable {

  /** How long a close may wait for the peer before the connection is cut, by default. */
  static final long CLOSE_GRACE_MILLIS = 5_000;

  private static final byte[] EMPTY = new byte[0];

  private final SessionFactory sessions;
  // What the upgrade showed, for the connect hook.
  private final Handshake handshake;
  private final CompletionStage<AuthResult> upgradeAuth;
  // The upgrade's token for the session's hooks; dropped once the session has it.
  private Optional<String> upgradeToken;
  private final long maxQueuedBytes;
  private final int maxMessageBytes;
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
  private static final AtomicReferenceFieldUpdater<WebSocketConnection, Runnable> ON_END =
      AtomicReferenceFieldUpdater.newUpdater(WebSocketConnection.class, Runnable.class, "onEnd");

  private volatile long queuedBytes;
  private volatile int closing; // 0, then 1 once closing
  private volatile boolean readingPaused;
  private volatile int demandOwed; // 1 while a frame's demand waits for resumeReading
  private volatile int ended; // 0, then 1 once the connection has ended
  // What the server does once the connection ends (give the address its slot back); null once run.
  private volatile Runnable onEnd;
  // Made only when somebody waits for the end (a shutdown): a future and its dependent on every
  // connection cost about 90 B, most connections being idle and ending without a waiter.
  private volatile CompletableFuture<Void> endedFuture;
  private volatile CoreSession socket;
  private volatile ServerSession session;
  // A fragmented message being joined (Jetty's event thread only); null between messages.
  private byte[] partial;
  private int partialLength;
  private boolean partialIsText;

  WebSocketConnection(
      SessionFactory sessions,
      Handshake handshake,
      Optional<String> upgradeToken,
      CompletionStage<AuthResult> upgradeAuth,
      long maxQueuedBytes,
      int maxMessageBytes,
      Set<WebSocketConnection> open,
      ScheduledExecutorService timer,
      SessionObserver observer,
      long closeGraceMillis,
      long bytesInPerSecond,
      long bytesInBurst) {
    this.sessions = sessions;
    this.handshake = handshake;
    this.upgradeAuth = upgradeAuth;
    this.upgradeToken = upgradeToken;
    this.maxQueuedBytes = maxQueuedBytes;
    this.maxMessageBytes = maxMessageBytes;
    this.open = open;
    this.timer = timer;
    this.observer = observer;
    this.closeGraceMillis = closeGraceMillis;
    this.byteRate = new ByteRate(bytesInPerSecond, bytesInBurst, System.nanoTime());
  }

  /** Completes when the connection has ended, however it ended. */
  CompletableFuture<Void> ended() {
    CompletableFuture<Void> f;
    synchronized (this) {
      f = endedFuture;
      if (f == null) {
        f = new CompletableFuture<>();
        endedFuture = f;
      }
    }
    // Read after publishing the future: an end that did not see it has already set the flag.
    if (ended != 0) {
      f.complete(null);
    }
    return f;
  }

  /**
   * Runs {@code action} once the connection has ended, however it ended (at once if it has); set
   * before the connection opens. Replaces any earlier action.
   */
  void onEnd(Runnable action) {
    onEnd = Objects.requireNonNull(action, "action");
    if (ended != 0) {
      runOnEnd();
    }
  }

  private void runOnEnd() {
    Runnable action = ON_END.getAndSet(this, null);
    if (action != null) {
      action.run();
    }
  }

  /** Bytes handed to Jetty and not yet written (or failed). */
  long queuedBytes() {
    return queuedBytes;
  }

  // ------------------------------------------------------------------ Jetty events

  @Override
  public void onOpen(CoreSession socket, Callback callback) {
    this.socket = socket;
    open.add(this);
    this.session = sessions.open(this, upgradeToken, upgradeAuth, handshake);
    upgradeToken = null;
    callback.succeeded();
    socket.demand();
  }

  @Override
  public void onFrame(Frame frame, Callback callback) {
    switch (frame.getOpCode()) {
      case OpCode.BINARY, OpCode.TEXT, OpCode.CONTINUATION -> onData(frame, callback);
      case OpCode.PING -> {
        int length = frame.getPayloadLength();
        ByteBuffer payload = frame.hasPayload() ? BufferUtil.copy(frame.getPayload()) : null;
        callback.succeeded();
        send(new Frame(OpCode.PONG).setPayload(payload), length, false);
        demandWithin(length);
      }
      case OpCode.PONG -> {
        int length = frame.getPayloadLength();
        callback.succeeded();
        demandWithin(length);
      }
        // Jetty answers the peer's close once the callback completes, then reports onClosed.
      default -> callback.succeeded();
    }
  }

  /**
   * One data frame: a whole message goes to the session at once; fragments are joined first, within
   * {@code maxMessageBytes} (the frame size bound alone would let fragments add up to any size).
   * Jetty has already checked the order of fragments.
   */
  private void onData(Frame frame, Callback callback) {
    int length = frame.getPayloadLength();
    boolean text =
        frame.getOpCode() == OpCode.TEXT
            || (frame.getOpCode() == OpCode.CONTINUATION && partialIsText);
    if (frame.isFin() && partial == null) {
      byte[] message = EMPTY;
      if (!text && length > 0) {
        message = new byte[length];
        frame.getPayload().get(message);
      }
      callback.succeeded();
      deliver(message, text);
    } else {
      if ((long) partialLength + length > maxMessageBytes) {
        partial = null;
        callback.failed(
            new MessageTooLargeException(
                "message larger than " + maxMessageBytes + " bytes in fragments"));
        return;
      }
      if (partial == null) {
        partial = text ? EMPTY : new byte[Math.min(maxMessageBytes, Math.max(2 * length, 256))];
        partialLength = 0;
        partialIsText = text;
      }
      if (!text && length > 0) {
        if (partial.length < partialLength + length) {
          partial =
              Arrays.copyOf(
                  partial, (int) Math.min(maxMessageBytes, 2L * (partialLength + length)));
        }
        frame.getPayload().get(partial, partialLength, length);
      }
      partialLength += length;
      callback.succeeded();
      if (frame.isFin()) {
        byte[] message = text ? EMPTY : Arrays.copyOf(partial, partialLength);
        partial = null;
        partialLength = 0;
        deliver(message, text);
      }
    }
    demandWithin(length);
  }

  private void deliver(byte[] message, boolean text) {
    if (text) {
      session.onText();
    } else {
      session.onFrame(message);
    }
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
  public void onError(Throwable cause, Callback callback) {
    // onClosed follows, with the status Jetty derived from the error.
    callback.succeeded();
  }

  @Override
  public void onClosed(CloseStatus closeStatus, Callback callback) {
    onEnded(closeStatus.getCode(), closeStatus.getReason());
    callback.succeeded();
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
      CoreSession s = socket;
      if (s != null && ended == 0) {
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

  private void onEnded(int code, String reason) {
    open.remove(this);
    closing = 1;
    ServerSession s = session;
    if (s != null) {
      s.onClosed(code, reason);
    }
    ended = 1;
    runOnEnd();
    CompletableFuture<Void> f = endedFuture;
    if (f != null) {
      f.complete(null);
    }
  }

  // ------------------------------------------------------------------ SessionTransport

  @Override
  public void sendFrame(byte[] frame) {
    if (closing != 0) {
      return;
    }
    // Inside a write batch (a document's round) the frame is queued unflushed, and Jetty's flusher
    // gathers the connection's frames of the round (its ACK, the fan-out) into one write when the
    // batch flushes. Elsewhere it is written at once, after anything queued before it.
    send(
        new Frame(OpCode.BINARY).setPayload(ByteBuffer.wrap(frame)),
        frame.length,
        WriteBatch.join(this));
  }

  /** Queues a frame within the byte bound, or closes with SLOW_CONSUMER. */
  private void send(Frame frame, long length, boolean batch) {
    long queued = QUEUED_BYTES.addAndGet(this, length);
    if (queued > maxQueuedBytes && queued > length) {
      QUEUED_BYTES.addAndGet(this, -length);
      closeAndTell(
          CloseCodes.SLOW_CONSUMER, "slow consumer: more than " + maxQueuedBytes + " bytes queued");
      return;
    }
    socket.sendFrame(
        frame,
        Callback.from(
            () -> QUEUED_BYTES.addAndGet(this, -length),
            e -> QUEUED_BYTES.addAndGet(this, -length)),
        batch);
  }

  @Override
  public void flushBatch() {
    CoreSession s = socket;
    if (s != null) {
      s.flush(Callback.NOOP);
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
        timer.execute(() -> s.onClosed(code, reason));
      }
    }
  }

  private boolean closeSocket(int code, String reason) {
    if (!CLOSING.compareAndSet(this, 0, 1)) {
      return false;
    }
    CoreSession s = socket;
    if (s == null) {
      return false;
    }
    s.close(code, reason, Callback.from(() -> {}, e -> s.abort()));
    timer.schedule(
        () -> {
          if (ended == 0) {
            observer.closeCut(code);
            s.abort();
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

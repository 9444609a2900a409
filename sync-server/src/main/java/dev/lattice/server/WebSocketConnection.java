package dev.lattice.server;

import dev.lattice.protocol.CloseCodes;
import dev.lattice.server.hub.WriteBatch;
import dev.lattice.server.session.Handshake;
import dev.lattice.server.session.ServerSession;
import dev.lattice.server.session.SessionFactory;
import dev.lattice.server.session.SessionObserver;
import dev.lattice.server.session.SessionTransport;
import dev.lattice.server.spi.AuthResult;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;
import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.ByteBufferPool;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.RetainableByteBuffer;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;

/**
 * One WebSocket connection (RFC 6455, server side) on Jetty's core I/O: it parses the client's
 * frames itself, feeds the messages to a {@link ServerSession} and implements the session's {@link
 * SessionTransport}. {@link WebSocketUpgrade} validates the upgrade and hands the socket over.
 *
 * <p>Our own connection rather than Jetty's websocket-core: that keeps about a kilobyte of state
 * per connection (locks, adders, flusher queues, the upgrade request) that an idle connection does
 * not need, and declares its reads blocking, so Jetty woke another thread for every readable
 * socket. This connection's reads never block (the session hands every message off), so it declares
 * {@link InvocationType#NON_BLOCKING} and Jetty runs them on the selecting thread.
 *
 * <p><b>Reads</b> are frame by frame: each complete frame, PINGs included, is paid for from the
 * connection's byte rate before the next is parsed, and a connection over its rate is read again
 * only once the rate allows; nothing is read meanwhile, so the client is held back by TCP. Reading
 * also stops while the session paused it ({@link #pauseReading}: too many of its UPDATEs await the
 * store) until {@link #resumeReading}; a frame already parsed still arrives. A message goes to the
 * session when its last fragment arrives, copied out of the read buffer (unmasked straight into its
 * own array); fragments are joined within {@code maxMessageBytes}, else the connection closes with
 * 1009, as does a larger frame. Client frames must be masked, control frames short and whole,
 * opcodes known and fragments in order, else 1002. PINGs are answered; a text message goes to the
 * session as such (which closes with 4000). The read buffer is pooled and given back whenever the
 * socket has no more to read, so an idle connection holds none.
 *
 * <p><b>Writes</b> are queued here and written with one gathering write at a time; the bytes queued
 * but not yet written are counted. A frame sent inside a {@link WriteBatch} (a document's round) is
 * queued without a write and the batch flushes the connection once at its end, so a round's frames
 * for one connection leave in one write. A frame that would take the queue past {@code
 * maxQueuedBytes} while other frames are still waiting closes the connection with 4003
 * SLOW_CONSUMER instead (a single frame larger than the bound is still sent when the queue is
 * empty). The close frame queues behind the pending frames, so the session is told at once ({@link
 * ServerSession#onClosed(int, String)}) and the connection is cut after the close grace if the peer
 * never reads up to it: a reader stalled for longer than the grace sees the TCP connection end
 * (1006) rather than 4003. Every close is reported to the {@link SessionObserver} once, and every
 * cut too ({@link SessionObserver#closeCut}).
 *
 * <p><b>Closing.</b> A close from the peer is answered with the same code and the socket closed
 * once the answer is written; a close of ours waits for the peer's answer (reading goes on, paused
 * or not), then closes the socket; after a protocol error the socket closes once our close frame is
 * written. The end of the socket, however it came, reports the first close code known (ours or the
 * peer's; 1006 if none) to the session, once.
 *
 * <p>Thread-safety: reading is owned by one thread at a time (Jetty's, or the one resuming it) and
 * handed over through {@link #readOwner}; the frame parser's fields are confined to the owner.
 * {@link #sendFrame} and {@link #close} may come from any thread (never two at once, per {@link
 * SessionTransport}); {@link #flushBatch}, {@link #shutDown} and write completions from any thread.
 * The write queue and the close flags are guarded by this object's monitor; counters are volatiles
 * updated through field updaters.
 */
final class WebSocketConnection extends AbstractConnection
    implements Connection.UpgradeTo, SessionTransport, WriteBatch.Flushable, Callback {

  /** How long a close may wait for the peer before the connection is cut, by default. */
  static final long CLOSE_GRACE_MILLIS = 5_000;

  /** What every connection of one server shares, so that each holds one reference to it. */
  record Shared(
      SessionFactory sessions,
      long maxQueuedBytes,
      int maxMessageBytes,
      Set<WebSocketConnection> open,
      ScheduledExecutorService timer,
      SessionObserver observer,
      long closeGraceMillis,
      long bytesInPerSecond,
      long bytesInBurst,
      ByteBufferPool buffers) {}

  static final int OP_CONTINUATION = 0x0;
  static final int OP_TEXT = 0x1;
  static final int OP_BINARY = 0x2;
  static final int OP_CLOSE = 0x8;
  static final int OP_PING = 0x9;
  static final int OP_PONG = 0xA;

  private static final int READ_BUFFER_BYTES = 4096;
  // Frames up to this size are copied behind their header: one buffer of the gathering write
  // rather than two. Most frames (ACKs, small deltas) are this small.
  private static final int COPY_BELOW = 512;
  private static final byte[] EMPTY = new byte[0];
  private static final int NO_CLOSE = 0;
  private static final int ABNORMAL = 1006;
  private static final int NO_STATUS = 1005;
  private static final int PROTOCOL_ERROR = 1002;

  private static final AtomicLongFieldUpdater<WebSocketConnection> QUEUED_BYTES =
      AtomicLongFieldUpdater.newUpdater(WebSocketConnection.class, "queuedBytes");
  private static final AtomicIntegerFieldUpdater<WebSocketConnection> CLOSING =
      AtomicIntegerFieldUpdater.newUpdater(WebSocketConnection.class, "closing");
  private static final AtomicIntegerFieldUpdater<WebSocketConnection> READ_OWNER =
      AtomicIntegerFieldUpdater.newUpdater(WebSocketConnection.class, "readOwner");
  private static final AtomicIntegerFieldUpdater<WebSocketConnection> ENDED =
      AtomicIntegerFieldUpdater.newUpdater(WebSocketConnection.class, "ended");
  private static final AtomicReferenceFieldUpdater<WebSocketConnection, Runnable> ON_END =
      AtomicReferenceFieldUpdater.newUpdater(WebSocketConnection.class, Runnable.class, "onEnd");

  private final Shared shared;
  // What the upgrade showed, for the session's hooks; dropped once the session has them.
  private Handshake handshake;
  private CompletionStage<AuthResult> upgradeAuth;
  private Optional<String> upgradeToken;

  private volatile long queuedBytes;
  private volatile int closing; // 0, then 1 once a close was sent or received
  private volatile boolean readingPaused;
  // 1 while a thread reads or Jetty holds our fill interest; 0 while reading is paused.
  private volatile int readOwner;
  private volatile int ended; // 0, then 1 once the connection has ended
  // What the server does once the connection ends (give the address its slot back); null once run.
  private volatile Runnable onEnd;
  // Made only when somebody waits for the end (a shutdown), most connections ending without one.
  private volatile CompletableFuture<Void> endedFuture;
  private volatile ServerSession session;

  // The byte rate: a token bucket that may go into debt (read owner only).
  private long rateCredit;
  private long rateNanos;

  // ---- the parser (read owner only)
  private RetainableByteBuffer in;
  private boolean inputDone; // a close frame, an unparseable frame or EOF: nothing more is parsed
  private boolean failed; // the peer broke the protocol: only its close frame is read now
  private int frameRemaining = -1; // payload bytes still to come; -1 between frames
  private int frameLength;
  private int frameOpcode; // the opcode, with 0x80 when FIN
  private int frameMask;
  private byte[] frameData; // where the payload goes, null to drop it (text)
  private int frameOffset;
  private byte[] partial; // the message being joined; null between messages
  private int partialLength;
  private boolean partialIsText;

  // ---- the write queue and the close (guarded by this)
  private ArrayList<ByteBuffer> out;
  private long outBytes; // payload bytes in out
  private long writingBytes; // payload bytes of the write in flight
  private boolean writing;
  private boolean closeQueued; // our close frame is in out or in flight
  private boolean closeInFlight; // our close frame is in the write in flight
  private boolean closeWritten;
  private boolean closeReceived;
  private boolean closeAfterWrite; // a protocol error: no answer is awaited
  private int closeCode = NO_CLOSE; // the first close known, ours or the peer's
  private String closeReason;

  WebSocketConnection(
      EndPoint endPoint,
      Executor executor,
      Shared shared,
      Handshake handshake,
      Optional<String> upgradeToken,
      CompletionStage<AuthResult> upgradeAuth) {
    super(endPoint, executor);
    this.shared = shared;
    this.handshake = handshake;
    this.upgradeToken = upgradeToken;
    this.upgradeAuth = upgradeAuth;
    this.rateCredit = shared.bytesInBurst();
    this.rateNanos = System.nanoTime();
    this.readOwner = 1; // the thread that opens the connection starts reading
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

  /** Bytes queued and not yet written (or failed). */
  long queuedBytes() {
    return queuedBytes;
  }

  /** Whether a read buffer is held; for tests, from the thread that reads. */
  boolean holdsReadBuffer() {
    return in != null;
  }

  @Override
  public InvocationType getInvocationType() {
    // Both the reads (Jetty asks the connection) and the write completions (this is their callback)
    // only parse, hand off and queue.
    return InvocationType.NON_BLOCKING;
  }

  // ------------------------------------------------------------------ opening

  @Override
  public void onUpgradeTo(ByteBuffer buffer) {
    // Frames the client sent right behind its upgrade request, read with it.
    if (buffer != null && buffer.hasRemaining()) {
      in = shared.buffers().acquire(Math.max(READ_BUFFER_BYTES, buffer.remaining()), false);
      ByteBuffer b = in.getByteBuffer();
      BufferUtil.clear(b);
      BufferUtil.append(b, buffer);
    }
  }

  @Override
  public void onOpen() {
    super.onOpen();
    // No idle timeout of Jetty's: the session's idle timer (PING, then 4004) closes a quiet
    // connection, and a close the peer never answers is cut after the grace.
    getEndPoint().setIdleTimeout(0);
    shared.open().add(this);
    session = shared.sessions().open(this, upgradeToken, upgradeAuth, handshake);
    upgradeToken = null;
    upgradeAuth = null;
    handshake = null;
    read();
  }

  // ------------------------------------------------------------------ reading

  @Override
  public void onFillable() {
    read();
  }

  @Override
  protected void onFillInterestedFailed(Throwable cause) {
    // The socket closed while we waited for bytes: we own reading, so the buffer is ours to free.
    releaseBuffer();
    super.onFillInterestedFailed(cause);
  }

  /**
   * Parses what the buffer holds and reads more, until the socket has nothing more (then Jetty is
   * asked to call back), reading pauses, the byte rate makes it wait, or the input ends. Runs only
   * in the thread that owns reading.
   */
  private void read() {
    try {
      while (!inputDone) {
        RetainableByteBuffer buffer = in;
        if (buffer != null && buffer.hasRemaining()) {
          int frameBytes = parse(buffer.getByteBuffer());
          if (frameBytes >= 0) {
            if (inputDone) {
              break; // a close frame: the buffer goes back below
            }
            if (!readOn(frameBytes)) {
              return;
            }
            continue;
          }
          if (inputDone) {
            break;
          }
        }
        if (buffer == null) {
          buffer = shared.buffers().acquire(READ_BUFFER_BYTES, false);
          BufferUtil.clear(buffer.getByteBuffer());
          in = buffer;
        } else {
          BufferUtil.compact(buffer.getByteBuffer());
        }
        int filled = getEndPoint().fill(buffer.getByteBuffer());
        if (filled == 0) {
          if (!buffer.hasRemaining()) {
            releaseBuffer();
          }
          fillInterested();
          return;
        }
        if (filled < 0) {
          inputDone = true;
          releaseBuffer();
          synchronized (this) {
            if (closeCode == NO_CLOSE) {
              closeCode = ABNORMAL;
              closeReason = "connection ended without a close frame";
            }
          }
          getEndPoint().close();
          return;
        }
      }
      releaseBuffer();
    } catch (Throwable x) {
      inputDone = true;
      releaseBuffer();
      getEndPoint().close(x);
    }
  }

  /**
   * After a frame of {@code bytes}: whether to read on now. Otherwise reading waits for the byte
   * rate (a timer reads on) or stops until {@link #resumeReading} (ownership given up).
   */
  private boolean readOn(int bytes) {
    if (closing == 0) {
      long now = System.nanoTime();
      long waitNanos = takeRate(bytes, now);
      if (waitNanos > 0) {
        shared.timer().schedule(this::readAfterWait, waitNanos, TimeUnit.NANOSECONDS);
        return false;
      }
    }
    return !readingPaused || closing != 0 || keepsReadingAfterPause();
  }

  private void readAfterWait() {
    if (!readingPaused || closing != 0 || keepsReadingAfterPause()) {
      getExecutor().execute(this::read);
    }
  }

  /**
   * Gives up reading while paused, freeing an empty buffer; takes it back (true) if a resume or a
   * close came meanwhile. Each side sets its own flag before it looks at the other's, and whoever
   * wins {@link #readOwner} reads, so a resume racing with a frame is never lost and never reads
   * twice.
   */
  private boolean keepsReadingAfterPause() {
    RetainableByteBuffer buffer = in;
    if (buffer != null && !buffer.hasRemaining()) {
      releaseBuffer();
    }
    readOwner = 0;
    return (!readingPaused || closing != 0) && READ_OWNER.compareAndSet(this, 0, 1);
  }

  @Override
  public void pauseReading() {
    readingPaused = true;
  }

  @Override
  public void resumeReading() {
    readingPaused = false;
    wakeReader();
  }

  /** Reads on if reading was given up (paused). */
  private void wakeReader() {
    if (READ_OWNER.compareAndSet(this, 0, 1)) {
      getExecutor().execute(this::read);
    }
  }

  private void releaseBuffer() {
    RetainableByteBuffer buffer = in;
    if (buffer != null) {
      in = null;
      buffer.release();
    }
  }

  /**
   * Takes {@code bytes} from the byte rate, a token bucket that may go into debt: a frame is always
   * taken (it has arrived), and the debt says how many nanoseconds to wait before the next (0 for
   * none).
   */
  long takeRate(int bytes, long nowNanos) {
    long perSecond = shared.bytesInPerSecond();
    long burst = shared.bytesInBurst();
    long elapsed = Math.max(0, nowNanos - rateNanos);
    rateNanos = nowNanos;
    // In doubles: nanoseconds times bytes per second overflows a long within hours.
    double refill = Math.min((double) burst - rateCredit, elapsed * (double) perSecond / 1e9);
    rateCredit = Math.min(burst, rateCredit + (long) refill) - bytes;
    return rateCredit >= 0 ? 0 : (long) Math.ceil(-rateCredit * 1e9 / perSecond);
  }

  /**
   * Parses from {@code b} (in flush mode) as far as it goes: returns the payload length of a frame
   * completed (and handled), or -1 if more bytes are needed (or the input is done). A header split
   * across reads stays in the buffer until it is whole.
   */
  private int parse(ByteBuffer b) {
    if (frameRemaining < 0 && !parseHeader(b)) {
      return -1;
    }
    int n = Math.min(frameRemaining, b.remaining());
    if (n > 0) {
      int from = frameLength - frameRemaining;
      if (frameData != null) {
        unmask(b, frameData, frameOffset + from, n, frameMask, from);
      } else {
        b.position(b.position() + n);
      }
      frameRemaining -= n;
    }
    if (frameRemaining > 0) {
      return -1;
    }
    frameRemaining = -1;
    int length = frameLength;
    byte[] data = frameData;
    frameData = null;
    if (frameOpcode >= 0) {
      onFrame(frameOpcode & 0x0F, (frameOpcode & 0x80) != 0, data, length);
    }
    return length;
  }

  private static void unmask(ByteBuffer src, byte[] dst, int at, int n, int mask, int maskIndex) {
    if (src.hasArray()) {
      byte[] a = src.array();
      int p = src.arrayOffset() + src.position();
      for (int i = 0; i < n; i++) {
        dst[at + i] = (byte) (a[p + i] ^ (mask >>> (8 * (3 - ((maskIndex + i) & 3)))));
      }
      src.position(src.position() + n);
    } else {
      for (int i = 0; i < n; i++) {
        dst[at + i] = (byte) (src.get() ^ (mask >>> (8 * (3 - ((maskIndex + i) & 3)))));
      }
    }
  }

  /**
   * Reads a whole frame header from {@code b} and sets the frame up; false if more is needed. A
   * frame that breaks the protocol closes the connection and is skipped, as is every frame after it
   * but a close: the peer's answer to our close is still read.
   */
  private boolean parseHeader(ByteBuffer b) {
    int available = b.remaining();
    if (available < 2) {
      return false;
    }
    int p = b.position();
    int b0 = b.get(p) & 0xFF;
    int b1 = b.get(p + 1) & 0xFF;
    int lengthBits = b1 & 0x7F;
    boolean masked = (b1 & 0x80) != 0;
    int headerLength = 2 + (lengthBits == 126 ? 2 : lengthBits == 127 ? 8 : 0) + (masked ? 4 : 0);
    if (available < headerLength) {
      return false;
    }
    long length;
    if (lengthBits == 126) {
      length = b.getShort(p + 2) & 0xFFFF;
    } else if (lengthBits == 127) {
      length = b.getLong(p + 2);
    } else {
      length = lengthBits;
    }
    if (length < 0 || length > Integer.MAX_VALUE) {
      // Not even skippable: nothing after it can be parsed.
      inputDone = true;
      fail(PROTOCOL_ERROR, "frame length out of range");
      return false;
    }
    int opcode = b0 & 0x0F;
    boolean fin = (b0 & 0x80) != 0;
    int max = shared.maxMessageBytes();
    byte[] data = null;
    int offset = 0;
    int error = 0;
    String why = null;
    if (!masked) {
      error = PROTOCOL_ERROR;
      why = "client frames must be masked";
    } else if ((b0 & 0x70) != 0) {
      error = PROTOCOL_ERROR;
      why = "reserved bits set without an extension";
    } else if (failed && opcode != OP_CLOSE) {
      error = -1; // skipped: the connection is closing over an earlier error
    } else {
      switch (opcode) {
        case OP_CLOSE, OP_PING, OP_PONG -> {
          if (!fin || length > 125) {
            error = PROTOCOL_ERROR;
            why = "control frames must be whole and at most 125 bytes";
          } else {
            data = length == 0 ? EMPTY : new byte[(int) length];
          }
        }
        case OP_BINARY, OP_TEXT -> {
          if (partial != null) {
            error = PROTOCOL_ERROR;
            why = "a new message began inside a fragmented one";
          } else if (length > max) {
            error = CloseCodes.TOO_BIG;
            why = "frame larger than " + max + " bytes";
          } else if (fin) {
            data = opcode == OP_TEXT || length == 0 ? null : new byte[(int) length];
          } else {
            boolean text = opcode == OP_TEXT;
            partial = text ? EMPTY : new byte[Math.min(max, (int) Math.max(2 * length, 256))];
            partialLength = 0;
            partialIsText = text;
            data = text ? null : partial;
          }
        }
        case OP_CONTINUATION -> {
          if (partial == null) {
            error = PROTOCOL_ERROR;
            why = "a continuation frame with no message to continue";
          } else if (partialLength + length > max) {
            error = CloseCodes.TOO_BIG;
            why = "message larger than " + max + " bytes in fragments";
          } else {
            if (!partialIsText && partial.length < partialLength + length) {
              partial = Arrays.copyOf(partial, (int) Math.min(max, 2L * (partialLength + length)));
            }
            data = partialIsText ? null : partial;
            offset = partialLength;
          }
        }
        default -> {
          error = PROTOCOL_ERROR;
          why = "unknown opcode " + opcode;
        }
      }
    }
    b.position(p + headerLength);
    frameLength = (int) length;
    frameRemaining = (int) length;
    frameMask = masked ? b.getInt(p + headerLength - 4) : 0;
    frameOffset = offset;
    if (error != 0) {
      frameOpcode = -1; // skipped
      frameData = null;
      if (error > 0) {
        fail(error, why);
      }
    } else {
      frameOpcode = opcode | (fin ? 0x80 : 0);
      frameData = data;
    }
    return true;
  }

  /** One whole frame, unmasked into {@code data} (the message's array when fragmented). */
  private void onFrame(int opcode, boolean fin, byte[] data, int length) {
    switch (opcode) {
      case OP_BINARY, OP_TEXT -> {
        if (partial == null) {
          deliver(opcode == OP_TEXT ? null : data == null ? EMPTY : data);
        } else {
          partialLength += length;
        }
      }
      case OP_CONTINUATION -> {
        partialLength += length;
        if (fin) {
          byte[] message = partialIsText ? null : Arrays.copyOf(partial, partialLength);
          partial = null;
          partialLength = 0;
          deliver(message);
        }
      }
      case OP_PING -> {
        if (closing == 0) {
          send(OP_PONG, data, true);
        }
      }
      case OP_CLOSE -> onCloseFrame(data);
      default -> {} // PONG: nothing to do
    }
  }

  /** A whole message: binary, or null for a text one. */
  private void deliver(byte[] message) {
    if (message == null) {
      session.onText();
    } else {
      session.onFrame(message);
    }
  }

  private void onCloseFrame(byte[] payload) {
    int code;
    String reason;
    if (payload.length == 0) {
      code = NO_STATUS;
      reason = "";
    } else {
      code = payload.length < 2 ? 0 : ((payload[0] & 0xFF) << 8) | (payload[1] & 0xFF);
      if (!validCloseCode(code)) {
        inputDone = true;
        fail(PROTOCOL_ERROR, "invalid close frame");
        return;
      }
      reason = new String(payload, 2, payload.length - 2, StandardCharsets.UTF_8);
    }
    inputDone = true;
    boolean answer = CLOSING.compareAndSet(this, 0, 1);
    boolean closeNow;
    synchronized (this) {
      closeReceived = true;
      if (closeCode == NO_CLOSE) {
        closeCode = code;
        closeReason = reason;
      }
      if (answer) {
        queueClose(code == NO_STATUS ? NO_CLOSE : code, "");
      }
      closeNow = closeWritten;
    }
    if (closeNow) {
      getEndPoint().close();
    } else if (answer) {
      flush();
      cutAfterGrace(code, false);
    }
  }

  private static boolean validCloseCode(int code) {
    return (code >= 1000 && code <= 1003)
        || (code >= 1007 && code <= 1014)
        || (code >= 3000 && code <= 4999);
  }

  /**
   * A protocol error (or a frame too big): closes with {@code code}; from now on only a close frame
   * is read (the peer's answer), and the socket closes once both closes have passed, or at once
   * after our close is written if the input cannot be parsed on ({@link #inputDone}).
   */
  private void fail(int code, String reason) {
    failed = true;
    partial = null;
    boolean closeNow;
    synchronized (this) {
      closeAfterWrite |= inputDone;
      closeNow = closeWritten && inputDone;
    }
    if (closeNow) {
      getEndPoint().close(); // our close went out before: no answer awaited now
    } else {
      closeSocket(code, reason);
    }
  }

  // ------------------------------------------------------------------ the end

  @Override
  public void onClose(Throwable cause) {
    super.onClose(cause);
    if (READ_OWNER.compareAndSet(this, 0, 1)) {
      releaseBuffer(); // reading was paused: nobody else will free it
    }
    if (!ENDED.compareAndSet(this, 0, 1)) {
      return;
    }
    shared.open().remove(this);
    closing = 1;
    int code;
    String reason;
    synchronized (this) {
      if (closeCode == NO_CLOSE) {
        closeCode = ABNORMAL;
        closeReason = cause == null ? "connection ended" : "connection ended: " + cause;
      }
      code = closeCode;
      reason = closeReason;
    }
    ServerSession s = session;
    if (s != null) {
      s.onClosed(code, reason);
    }
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
    // Inside a write batch (a document's round) the frame is queued unwritten and the batch flushes
    // the connection's frames of the round (its ACK, the fan-out) in one write when it closes.
    send(OP_BINARY, frame, !WriteBatch.join(this));
  }

  /** Queues a frame within the byte bound, or closes with SLOW_CONSUMER. */
  private void send(int opcode, byte[] payload, boolean flushNow) {
    long length = payload.length;
    long queued = QUEUED_BYTES.addAndGet(this, length);
    if (queued > shared.maxQueuedBytes() && queued > length) {
      QUEUED_BYTES.addAndGet(this, -length);
      closeAndTell(
          CloseCodes.SLOW_CONSUMER,
          "slow consumer: more than " + shared.maxQueuedBytes() + " bytes queued");
      return;
    }
    synchronized (this) {
      if (closeQueued) {
        QUEUED_BYTES.addAndGet(this, -length);
        return;
      }
      queue(opcode, payload);
      outBytes += length;
    }
    if (flushNow) {
      flush();
    }
  }

  /** Appends an unmasked frame to {@link #out}; under this object's monitor. */
  private void queue(int opcode, byte[] payload) {
    int length = payload.length;
    int headerLength = length < 126 ? 2 : length <= 0xFFFF ? 4 : 10;
    boolean copy = length <= COPY_BELOW;
    ByteBuffer header = ByteBuffer.allocate(headerLength + (copy ? length : 0));
    header.put((byte) (0x80 | opcode));
    if (length < 126) {
      header.put((byte) length);
    } else if (length <= 0xFFFF) {
      header.put((byte) 126).putShort((short) length);
    } else {
      header.put((byte) 127).putLong(length);
    }
    if (copy) {
      header.put(payload);
    }
    header.flip();
    if (out == null) {
      out = new ArrayList<>(4);
    }
    out.add(header);
    if (!copy) {
      out.add(ByteBuffer.wrap(payload));
    }
  }

  /** Queues our close frame; under this object's monitor. {@code code} NO_CLOSE sends none. */
  private void queueClose(int code, String reason) {
    closeQueued = true;
    byte[] payload = EMPTY;
    if (code != NO_CLOSE) {
      byte[] text = reason.getBytes(StandardCharsets.UTF_8);
      int n = Math.min(text.length, 123);
      payload = new byte[2 + n];
      payload[0] = (byte) (code >>> 8);
      payload[1] = (byte) code;
      System.arraycopy(text, 0, payload, 2, n);
    }
    queue(OP_CLOSE, payload);
  }

  @Override
  public void flushBatch() {
    flush();
  }

  /** Starts a write of everything queued, unless a write is in flight (its completion will). */
  private void flush() {
    ByteBuffer[] buffers;
    synchronized (this) {
      if (writing || out == null || out.isEmpty()) {
        return;
      }
      buffers = out.toArray(new ByteBuffer[0]);
      out = null;
      writing = true;
      writingBytes = outBytes;
      outBytes = 0;
      closeInFlight = closeQueued && !closeWritten;
    }
    getEndPoint().write(this, buffers);
  }

  /** A write completed. */
  @Override
  public void succeeded() {
    boolean closeNow = false;
    long done;
    synchronized (this) {
      writing = false;
      done = writingBytes;
      writingBytes = 0;
      if (closeInFlight) {
        closeInFlight = false;
        closeWritten = true;
        closeNow = closeReceived || closeAfterWrite;
      }
    }
    QUEUED_BYTES.addAndGet(this, -done);
    if (closeNow) {
      getEndPoint().close();
    } else {
      flush();
    }
  }

  /** A write failed: the socket is gone or going. */
  @Override
  public void failed(Throwable cause) {
    long done;
    synchronized (this) {
      writing = false;
      done = writingBytes + outBytes;
      writingBytes = 0;
      outBytes = 0;
      out = null;
    }
    QUEUED_BYTES.addAndGet(this, -done);
    getEndPoint().close(cause);
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
      shared.observer().closedByServer(code);
      ServerSession s = session;
      if (s != null) {
        shared.timer().execute(() -> s.onClosed(code, reason));
      }
    }
  }

  private boolean closeSocket(int code, String reason) {
    if (!CLOSING.compareAndSet(this, 0, 1)) {
      return false;
    }
    synchronized (this) {
      if (closeCode == NO_CLOSE) {
        closeCode = code;
        closeReason = reason;
      }
      queueClose(code, reason);
    }
    flush();
    // The peer's answer must be read for the close to complete, paused or not.
    wakeReader();
    cutAfterGrace(code, true);
    return true;
  }

  /**
   * Cuts the connection if it has not ended within the close grace; counts the cut if the close was
   * ours.
   */
  private void cutAfterGrace(int code, boolean ours) {
    shared
        .timer()
        .schedule(
            () -> {
              if (ended == 0) {
                if (ours) {
                  shared.observer().closeCut(code);
                }
                getEndPoint().close(new IOException("close not completed within the grace"));
              }
            },
            shared.closeGraceMillis(),
            TimeUnit.MILLISECONDS);
  }
}

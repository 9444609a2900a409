package dev.lattice.load;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Hello;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.protocol.OwnUpdate;
import dev.lattice.protocol.Ping;
import dev.lattice.protocol.Pong;
import dev.lattice.protocol.ProtocolVersion;
import dev.lattice.protocol.Subscribe;
import dev.lattice.protocol.Sync;
import dev.lattice.protocol.Update;
import dev.lattice.protocol.Welcome;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One raw-protocol connection (docs/PROTOCOL.md) over the JDK's {@link WebSocket}: binary frames
 * encoded with {@link MessageCodec}. It does the handshake (HELLO, WELCOME), answers SUBSCRIBE with
 * the SYNC it waits for, answers the server's PINGs (so an idle subscriber is not closed with 4004)
 * and hands every other message to its {@link Receiver}, stamped with {@link System#nanoTime()} as
 * the last byte of the frame arrived.
 *
 * <p>It offers protocol versions 1 to {@link #MAX_VERSION} (2 unless the system property {@code
 * lattice.load.protocolVersion} says 1). On a version 2 connection {@link #subscribe} names a
 * document alias and {@link #sendUpdate} sends a single mutation of the connection's own replica as
 * UPDATE_OWN; it counts the bytes of the updates it sends, so a run can report bytes per update.
 *
 * <p>Thread-safety: {@link #send} may be called from any thread (sends are serialised, as the JDK
 * WebSocket allows one pending send at a time); the receiver is called on the WebSocket's receive
 * thread, one message at a time, in arrival order.
 */
final class ProtocolConnection implements WebSocket.Listener, AutoCloseable {

  /** Gets every message the connection does not handle itself. */
  interface Receiver {
    void onMessage(Message message, long receivedNanos);
  }

  /**
   * The answer to a SUBSCRIBE and what it cost: {@link #subscribeSince}.
   *
   * @param sync the SYNC
   * @param nanos from just before the SUBSCRIBE was handed to the socket until the SYNC was decoded
   *     (by then every frame before it, such as the parts of a catch-up too large for one frame,
   *     had been handed to the receiver)
   * @param frames frames received in that time, the SYNC included, PINGs not
   * @param bytes their encoded bytes (WebSocket message payloads)
   * @param wireBytes the same with each frame's WebSocket header (a server frame has no mask)
   */
  record Synced(Sync sync, long nanos, long frames, long bytes, long wireBytes) {}

  /** Received-frame counters as they stood when a SYNC was decoded. */
  private record Arrival(Sync sync, long decodedNanos, long frames, long bytes, long wireBytes) {}

  private static final MessageCodec CODEC = MessageCodec.defaults();

  /** The highest protocol version offered: {@code -Dlattice.load.protocolVersion=1} forces v1. */
  static final int MAX_VERSION =
      Integer.getInteger("lattice.load.protocolVersion", ProtocolVersion.MAX);

  /** The longest wait for the server's closes when a run ends. */
  static final Duration CLOSE_WAIT = Duration.ofSeconds(2);

  private final Receiver receiver;
  private final Duration timeout;
  private final HybridLogicalClock clock = new HybridLogicalClock();
  private final CompletableFuture<Welcome> welcome = new CompletableFuture<>();
  private final CompletableFuture<Integer> closed = new CompletableFuture<>();
  private final Map<Long, CompletableFuture<Arrival>> subscribing = new ConcurrentHashMap<>();
  private final ByteArrayOutputStream partial = new ByteArrayOutputStream();
  private final Object sendLock = new Object();
  private final Map<String, Integer> aliases = new ConcurrentHashMap<>();
  private final AtomicLong updatesSent = new AtomicLong();
  private final AtomicLong updateBytes = new AtomicLong(); // on the wire
  // Frames other than PING received, their payload and wire bytes: the receive thread writes.
  private final AtomicLong framesReceived = new AtomicLong();
  private final AtomicLong bytesReceived = new AtomicLong();
  private final AtomicLong wireBytesReceived = new AtomicLong();
  private final ReplicaId replica;
  private volatile int version = ProtocolVersion.MIN;
  private volatile WebSocket socket;

  private ProtocolConnection(Receiver receiver, Duration timeout, ReplicaId replica) {
    this.receiver = receiver;
    this.timeout = timeout;
    this.replica = replica;
  }

  /**
   * Connects, says HELLO as {@code replica} and waits for WELCOME.
   *
   * @throws LoadException if that does not happen within {@code timeout}
   */
  static ProtocolConnection open(
      HttpClient http, URI uri, ReplicaId replica, Receiver receiver, Duration timeout) {
    ProtocolConnection c = new ProtocolConnection(receiver, timeout, replica);
    try {
      WebSocket.Builder builder = http.newWebSocketBuilder().connectTimeout(timeout);
      UpgradeToken.get().ifPresent(t -> builder.header("Authorization", "Bearer " + t));
      c.socket = builder.buildAsync(uri, c).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      c.send(
          new Hello(
              ProtocolVersion.MIN,
              MAX_VERSION,
              replica,
              Optional.empty(),
              Optional.of("lattice-load")));
      c.version = c.await(c.welcome, "WELCOME").version();
      return c;
    } catch (ExecutionException | TimeoutException e) {
      c.close();
      throw new LoadException("could not connect to " + uri + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      c.close();
      throw new LoadException("interrupted while connecting to " + uri, e);
    } catch (RuntimeException e) {
      c.close();
      throw e;
    }
  }

  /**
   * Subscribes to {@code documentId} with an empty vector and waits for the SYNC.
   *
   * @throws LoadException on an ERROR, a close, or no SYNC within the timeout
   */
  Sync subscribe(long requestId, String documentId) {
    return subscribeSince(requestId, documentId, VersionVector.empty()).sync();
  }

  /**
   * Subscribes to {@code documentId} holding {@code vector} (a catch-up: the SYNC carries what the
   * vector lacks) and waits for the SYNC; also says how long that took and what the server sent for
   * it.
   *
   * @throws LoadException on an ERROR, a close, or no SYNC within the timeout
   */
  Synced subscribeSince(long requestId, String documentId, VersionVector vector) {
    CompletableFuture<Arrival> arrival = new CompletableFuture<>();
    subscribing.put(requestId, arrival);
    Subscribe subscribe =
        version >= 2
            ? Subscribe.withAlias(
                requestId,
                documentId,
                vector,
                aliases.computeIfAbsent(documentId, d -> aliases.size()))
            : new Subscribe(requestId, documentId, vector);
    long frames = framesReceived.get();
    long bytes = bytesReceived.get();
    long wire = wireBytesReceived.get();
    long sentNanos = System.nanoTime();
    send(subscribe);
    Arrival a = await(arrival, "SYNC for '" + documentId + "'");
    return new Synced(
        a.sync(),
        a.decodedNanos() - sentNanos,
        a.frames() - frames,
        a.bytes() - bytes,
        a.wireBytes() - wire);
  }

  /** The protocol version WELCOME chose. */
  int version() {
    return version;
  }

  /**
   * Sends a client's update of {@code documentId}, a document subscribed by {@link #subscribe}: as
   * UPDATE_OWN when the connection speaks version 2 and the delta is a single mutation of its own
   * replica (the compact form), else as UPDATE. Either is answered by {@code ACK [6, requestId,
   * documentId]}.
   *
   * @return the encoded frame's length in bytes (the WebSocket message payload)
   */
  int sendUpdate(long requestId, String documentId, DocumentDelta delta) {
    Integer alias = version >= 2 ? aliases.get(documentId) : null;
    Message message =
        alias == null
            ? Update.request(requestId, documentId, delta)
            : OwnUpdate.of(requestId, alias, replica, delta)
                .<Message>map(m -> m)
                .orElseGet(() -> Update.request(requestId, documentId, delta));
    byte[] frame = CODEC.encode(message);
    sendFrame(frame, message);
    updatesSent.incrementAndGet();
    updateBytes.addAndGet(wireBytes(frame.length));
    return frame.length;
  }

  /** Updates sent by {@link #sendUpdate}. */
  long updatesSent() {
    return updatesSent.get();
  }

  /** Their bytes on the wire: MessagePack plus each frame's WebSocket header and mask. */
  long updateWireBytes() {
    return updateBytes.get();
  }

  /**
   * Bytes on the wire of a client frame carrying {@code messageBytes}: the 2-byte WebSocket header,
   * 2 or 8 more for payloads of 126 bytes or more, and the 4-byte mask every client frame has.
   */
  static long wireBytes(int messageBytes) {
    return serverWireBytes(messageBytes) + 4;
  }

  /**
   * Bytes on the wire of a server frame carrying {@code messageBytes} in one WebSocket frame: as
   * {@link #wireBytes} without the mask, which only client frames have.
   */
  static long serverWireBytes(int messageBytes) {
    int length = messageBytes < 126 ? 0 : messageBytes <= 0xffff ? 2 : 8;
    return messageBytes + 2 + length;
  }

  /**
   * Sends one message; returns once the WebSocket has taken the frame.
   *
   * @return the encoded frame's length in bytes (the WebSocket message payload)
   * @throws LoadException if the send fails or does not complete within the timeout
   */
  int send(Message message) {
    byte[] frame = CODEC.encode(message);
    sendFrame(frame, message);
    return frame.length;
  }

  private void sendFrame(byte[] frame, Message message) {
    synchronized (sendLock) {
      try {
        socket
            .sendBinary(ByteBuffer.wrap(frame), true)
            .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      } catch (ExecutionException | TimeoutException e) {
        throw new LoadException(
            "could not send " + message.messageType() + " (connection " + state() + "): " + e, e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new LoadException("interrupted while sending", e);
      }
    }
  }

  /** Completes with the close code when the connection ends (exceptionally on a network error). */
  CompletableFuture<Integer> closed() {
    return closed;
  }

  /** A description of how the connection ended, or "open". */
  String state() {
    if (!closed.isDone()) {
      return "open";
    }
    try {
      return "closed with " + closed.getNow(-1);
    } catch (RuntimeException e) {
      return "failed: " + e.getCause();
    }
  }

  private <T> T await(CompletableFuture<T> future, String what) {
    try {
      return future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new LoadException("no " + what + ": " + e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new LoadException("no " + what + " within " + timeout + " (" + state() + ")", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new LoadException("interrupted while waiting for " + what, e);
    }
  }

  @Override
  public void onOpen(WebSocket webSocket) {
    socket = webSocket;
    webSocket.request(1);
  }

  @Override
  public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
    long now = System.nanoTime();
    if (last && partial.size() == 0) {
      byte[] bytes = new byte[data.remaining()];
      data.get(bytes);
      dispatch(bytes, now);
    } else {
      byte[] bytes = new byte[data.remaining()];
      data.get(bytes);
      partial.writeBytes(bytes);
      if (last) {
        dispatch(partial.toByteArray(), now);
        partial.reset();
      }
    }
    webSocket.request(1);
    return null;
  }

  private void dispatch(byte[] frame, long receivedNanos) {
    Message message;
    try {
      message = CODEC.decode(frame);
    } catch (RuntimeException e) {
      fail(new LoadException("undecodable frame from the server: " + e.getMessage(), e));
      return;
    }
    if (!(message instanceof Ping)) {
      framesReceived.incrementAndGet();
      bytesReceived.addAndGet(frame.length);
      wireBytesReceived.addAndGet(serverWireBytes(frame.length));
    }
    if (message instanceof Welcome w) {
      welcome.complete(w);
    } else if (message instanceof Sync s && subscribing.containsKey(s.requestId())) {
      subscribing
          .remove(s.requestId())
          .complete(
              new Arrival(
                  s,
                  System.nanoTime(),
                  framesReceived.get(),
                  bytesReceived.get(),
                  wireBytesReceived.get()));
    } else if (message instanceof ErrorMessage e
        && e.requestId().isPresent()
        && subscribing.containsKey(e.requestId().getAsLong())) {
      subscribing
          .remove(e.requestId().getAsLong())
          .completeExceptionally(new LoadException("ERROR " + e.code() + ": " + e.message()));
    } else if (message instanceof Ping ping) {
      try {
        send(new Pong(ping.nonce(), clock.now()));
      } catch (LoadException ex) {
        fail(ex);
      }
    } else if (message instanceof ErrorMessage e && e.requestId().isEmpty() && !welcome.isDone()) {
      welcome.completeExceptionally(new LoadException("ERROR " + e.code() + ": " + e.message()));
    } else {
      receiver.onMessage(message, receivedNanos);
    }
  }

  @Override
  public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
    fail(new LoadException("the server sent a text frame"));
    webSocket.request(1);
    return null;
  }

  @Override
  public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
    closed.complete(statusCode);
    LoadException gone =
        new LoadException("connection closed with " + statusCode + " '" + reason + "'");
    welcome.completeExceptionally(gone);
    subscribing.values().forEach(f -> f.completeExceptionally(gone));
    return null;
  }

  @Override
  public void onError(WebSocket webSocket, Throwable error) {
    fail(error);
  }

  private void fail(Throwable error) {
    closed.completeExceptionally(error);
    welcome.completeExceptionally(error);
    subscribing.values().forEach(f -> f.completeExceptionally(error));
  }

  /** Closes with 1000, waiting briefly for the server's close, then drops the connection. */
  @Override
  public void close() {
    closeAll(List.of(this));
  }

  /**
   * Closes every connection with 1000 at once, waits at most {@link #CLOSE_WAIT} in all for the
   * server's closes, then drops them: closing 100 subscribers costs one wait, not 100.
   */
  static void closeAll(Iterable<ProtocolConnection> connections) {
    List<CompletableFuture<?>> closing = new ArrayList<>();
    for (ProtocolConnection c : connections) {
      WebSocket s = c.socket;
      if (s != null && !s.isOutputClosed() && !c.closed.isDone()) {
        try {
          s.sendClose(WebSocket.NORMAL_CLOSURE, "done");
          closing.add(c.closed);
        } catch (RuntimeException e) {
          // Dropped below either way: the run is over.
        }
      }
    }
    try {
      CompletableFuture.allOf(closing.toArray(CompletableFuture[]::new))
          .get(CLOSE_WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      // Some did not close cleanly in time; they are aborted below.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (ProtocolConnection c : connections) {
      if (c.socket != null) {
        c.socket.abort();
      }
    }
  }
}

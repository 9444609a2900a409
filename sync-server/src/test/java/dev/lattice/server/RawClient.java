package dev.lattice.server;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.Ack;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Hello;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.protocol.Subscribe;
import dev.lattice.protocol.Sync;
import dev.lattice.protocol.Update;
import dev.lattice.protocol.Welcome;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;

/**
 * A raw-protocol test client over the JDK's WebSocket: binary frames encoded with {@link
 * MessageCodec}, a local {@link Document} replica with its own {@link HybridLogicalClock}, and
 * queues with timeouts. Not an SDK: it does what a test tells it, including wrong things.
 *
 * <p>Messages arrive on a JDK thread into {@link #inbox}; everything else (the replica, the clock,
 * request ids, the held messages) belongs to the one test thread that drives this client. {@link
 * #pauseReading()} stops asking the JDK for frames, so the client plays a peer that stopped reading
 * (TCP back-pressure then reaches the server); {@link #resumeReading()} reads on.
 */
final class RawClient implements WebSocket.Listener, AutoCloseable {

  static final long TIMEOUT_SECONDS = 5;
  private static final MessageCodec CODEC = MessageCodec.defaults();
  // One client for every socket: each HttpClient owns a selector thread.
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  final ReplicaId replica;
  final Document doc;
  final HybridLogicalClock clock = new HybridLogicalClock();
  final BlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
  final BlockingQueue<Integer> pongs = new LinkedBlockingQueue<>();
  final CompletableFuture<Integer> closeCode = new CompletableFuture<>();
  private final ByteArrayOutputStream partial = new ByteArrayOutputStream();
  // Messages taken from the inbox while waiting for something else, in arrival order.
  private final Deque<Message> held = new ArrayDeque<>();
  private final AtomicBoolean owedRequest = new AtomicBoolean();
  private volatile boolean paused;
  private final WebSocket socket;
  private long nextRequest = 1;

  private RawClient(URI uri, ReplicaId replica, Document doc) throws Exception {
    this(HTTP, uri, replica, doc, b -> {});
  }

  private RawClient(
      HttpClient http,
      URI uri,
      ReplicaId replica,
      Document doc,
      java.util.function.Consumer<WebSocket.Builder> upgrade)
      throws Exception {
    this.replica = replica;
    this.doc = doc;
    WebSocket.Builder builder = http.newWebSocketBuilder();
    upgrade.accept(builder);
    this.socket = builder.buildAsync(uri, this).get(TIMEOUT_SECONDS, SECONDS);
  }

  /**
   * Connects without saying HELLO, through {@code http}, with the upgrade request shaped by {@code
   * upgrade} (headers, subprotocols).
   */
  static RawClient connect(
      HttpClient http,
      URI uri,
      long replica,
      String documentId,
      java.util.function.Consumer<WebSocket.Builder> upgrade)
      throws Exception {
    return new RawClient(http, uri, ReplicaId.of(replica), Document.create(documentId), upgrade);
  }

  /** The subprotocol the server selected; empty if none. */
  String subprotocol() {
    return socket.getSubprotocol();
  }

  /** Connects without saying HELLO. */
  static RawClient connect(URI uri, long replica, String documentId) throws Exception {
    return new RawClient(uri, ReplicaId.of(replica), Document.create(documentId));
  }

  /** Connects, says HELLO and waits for WELCOME. */
  static RawClient hello(URI uri, long replica, String documentId) throws Exception {
    return hello(uri, ReplicaId.of(replica), Document.create(documentId));
  }

  /**
   * Connects as {@code replica} with a replica it kept from an earlier connection (its state and
   * version vector), says HELLO and waits for WELCOME: a client coming back.
   */
  static RawClient hello(URI uri, ReplicaId replica, Document kept) throws Exception {
    RawClient client = new RawClient(uri, replica, kept);
    client.send(Hello.of(client.replica, null, "it"));
    Welcome welcome = client.take(Welcome.class);
    client.clock.update(welcome.serverTime());
    return client;
  }

  /** The request id the next request will take. */
  long nextRequestId() {
    return nextRequest;
  }

  /** Takes the next request id. */
  long takeRequestId() {
    return nextRequest++;
  }

  void send(Message message) throws Exception {
    sendRaw(CODEC.encode(message));
  }

  void sendRaw(byte[] frame) throws Exception {
    socket.sendBinary(ByteBuffer.wrap(frame), true).get(TIMEOUT_SECONDS, SECONDS);
  }

  /** Sends {@code frame} as a WebSocket message of two fragments, split at {@code at}. */
  void sendFragmented(byte[] frame, int at) throws Exception {
    socket.sendBinary(ByteBuffer.wrap(frame, 0, at), false).get(TIMEOUT_SECONDS, SECONDS);
    socket
        .sendBinary(ByteBuffer.wrap(frame, at, frame.length - at), true)
        .get(TIMEOUT_SECONDS, SECONDS);
  }

  void sendText(String text) throws Exception {
    socket.sendText(text, true).get(TIMEOUT_SECONDS, SECONDS);
  }

  void ping() throws Exception {
    socket.sendPing(ByteBuffer.wrap(new byte[] {1})).get(TIMEOUT_SECONDS, SECONDS);
  }

  /** The next message: a held one first, else the next to arrive within the timeout. */
  Message next() throws InterruptedException {
    Message held = this.held.poll();
    return held != null ? held : nextArrival();
  }

  private Message nextArrival() throws InterruptedException {
    Message message = inbox.poll(TIMEOUT_SECONDS, SECONDS);
    assertThat(message).as("a message within %d s (held: %s)", TIMEOUT_SECONDS, held).isNotNull();
    return message;
  }

  /** The next message, which must be a {@code type}; skips nothing. */
  <T extends Message> T take(Class<T> type) throws InterruptedException {
    Message message = next();
    assertThat(message).as("the next message").isInstanceOf(type);
    return type.cast(message);
  }

  /** The next message that is not a fan-out UPDATE, which must be a {@code type}; merges those. */
  <T extends Message> T takeMerging(Class<T> type) throws InterruptedException {
    while (true) {
      Message message = next();
      if (!mergeIfFanOut(message)) {
        assertThat(message).as("the next message after fan-out UPDATEs").isInstanceOf(type);
        return type.cast(message);
      }
    }
  }

  /** Merges a fan-out UPDATE of this client's document, as an SDK would; false for others. */
  private boolean mergeIfFanOut(Message message) {
    if (message instanceof Update update
        && update.requestId().isEmpty()
        && update.documentId().equals(doc.id())) {
      merge(update.delta());
      return true;
    }
    return false;
  }

  /** Merges a delta into the replica and feeds its timestamps to the clock. */
  void merge(DocumentDelta delta) {
    delta.maxTimestamp().ifPresent(clock::update);
    doc.merge(delta);
  }

  /**
   * Subscribes with the replica's current version vector and merges the SYNC. Fan-out UPDATEs that
   * arrive first are merged; PRESENCEs and anything else that arrives first are held for {@link
   * #next()} (the spec lets both come before the SYNC).
   */
  Sync subscribe() throws Exception {
    long request = takeRequestId();
    send(new Subscribe(request, doc.id(), doc.versionVector()));
    while (true) {
      Message message = nextArrival();
      if (message instanceof Sync sync && sync.requestId() == request) {
        merge(sync.delta());
        return sync;
      }
      if (!mergeIfFanOut(message)) {
        held.add(message);
      }
    }
  }

  /**
   * Every message held or still in the inbox, in arrival order, once the connection has ended
   * (after that nothing more arrives). Waits for the end up to the timeout.
   */
  List<Message> drainAfterEnd() throws Exception {
    closeCode.handle((code, error) -> null).get(TIMEOUT_SECONDS, SECONDS);
    List<Message> all = new ArrayList<>(held);
    held.clear();
    inbox.drainTo(all);
    return all;
  }

  /** Whether a message matching {@code test} was held while waiting for something else. */
  boolean holds(Predicate<Message> test) {
    return held.stream().anyMatch(test);
  }

  /** Sends {@code delta} as an UPDATE request and returns its request id; waits for nothing. */
  long sendUpdate(DocumentDelta delta) throws Exception {
    long request = takeRequestId();
    send(Update.request(request, doc.id(), delta));
    return request;
  }

  /**
   * The reply (ACK or ERROR) to request {@code requestId}, merging fan-out UPDATEs that arrive
   * before it and holding anything else.
   */
  Message awaitReply(long requestId) throws InterruptedException {
    for (Iterator<Message> it = held.iterator(); it.hasNext(); ) {
      Message message = it.next();
      if (isReplyTo(message, requestId)) {
        it.remove();
        return message;
      }
    }
    while (true) {
      Message message = nextArrival();
      if (isReplyTo(message, requestId)) {
        return message;
      }
      if (!mergeIfFanOut(message)) {
        held.add(message);
      }
    }
  }

  private static boolean isReplyTo(Message message, long requestId) {
    if (message instanceof Ack ack) {
      return ack.requestId() == requestId;
    }
    return message instanceof ErrorMessage error
        && error.requestId().isPresent()
        && error.requestId().getAsLong() == requestId;
  }

  /** Waits for the ACK of {@code requestId}; an ERROR in its place fails the test. */
  Ack awaitAck(long requestId) throws InterruptedException {
    Message reply = awaitReply(requestId);
    if (!(reply instanceof Ack ack)) {
      return fail("expected ACK of request %d, got %s", requestId, reply);
    }
    return ack;
  }

  /** Sends {@code delta} and waits for its ACK. */
  Ack update(DocumentDelta delta) throws Exception {
    return awaitAck(sendUpdate(delta));
  }

  Ack increment(String field, long amount) throws Exception {
    return update(doc.incrementGCounter(replica, field, amount));
  }

  Ack add(String field, long amount) throws Exception {
    return update(doc.addPNCounter(replica, field, amount));
  }

  Ack set(String field, Value value) throws Exception {
    return update(doc.setRegister(replica, field, value, clock.now()));
  }

  /** Takes the next message, which must be a fan-out update, and merges it. */
  Update receive() throws Exception {
    Update update = take(Update.class);
    assertThat(update.requestId()).isEmpty();
    merge(update.delta());
    return update;
  }

  /** Merges fan-out UPDATEs until the replica's version vector reaches {@code target}. */
  void catchUpTo(VersionVector target) throws InterruptedException {
    while (!doc.versionVector().merge(target).equals(doc.versionVector())) {
      Message message = next();
      if (!mergeIfFanOut(message)) {
        fail("while catching up to %s, got %s", target, message);
      }
    }
  }

  /** Closes the connection from this side with {@code code} and {@code reason}. */
  void closeWith(int code, String reason) throws Exception {
    socket.sendClose(code, reason).get(TIMEOUT_SECONDS, SECONDS);
  }

  int awaitClose() throws Exception {
    return closeCode.get(TIMEOUT_SECONDS, SECONDS);
  }

  /** Stops asking for frames: what the server sends piles up in TCP buffers, then in its queue. */
  void pauseReading() {
    paused = true;
  }

  /** Reads on after {@link #pauseReading()}. */
  void resumeReading() {
    paused = false;
    if (owedRequest.getAndSet(false)) {
      socket.request(1);
    }
  }

  /** Asks for the next frame unless paused; then {@link #resumeReading()} asks instead, once. */
  private void requestNext(WebSocket webSocket) {
    owedRequest.set(true);
    if (!paused && owedRequest.getAndSet(false)) {
      webSocket.request(1);
    }
  }

  @Override
  public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
    byte[] bytes = new byte[data.remaining()];
    data.get(bytes);
    partial.writeBytes(bytes);
    if (last) {
      inbox.add(CODEC.decode(partial.toByteArray()));
      partial.reset();
    }
    requestNext(webSocket);
    return null;
  }

  @Override
  public CompletionStage<?> onPong(WebSocket webSocket, ByteBuffer message) {
    pongs.add(message.remaining());
    requestNext(webSocket);
    return null;
  }

  @Override
  public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
    closeCode.complete(statusCode);
    return null;
  }

  @Override
  public void onError(WebSocket webSocket, Throwable error) {
    closeCode.completeExceptionally(error);
  }

  @Override
  public void close() {
    if (!socket.isOutputClosed()) {
      socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye");
    }
    socket.abort();
  }
}

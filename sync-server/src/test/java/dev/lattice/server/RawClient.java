package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.Ack;
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
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A raw-protocol test client over the JDK's WebSocket: binary frames encoded with {@link
 * MessageCodec}, a local {@link Document} replica, and queues with timeouts. Not an SDK.
 */
final class RawClient implements WebSocket.Listener, AutoCloseable {

  static final long TIMEOUT_SECONDS = 5;
  private static final MessageCodec CODEC = MessageCodec.defaults();
  private static final HybridLogicalClock CLOCK = new HybridLogicalClock();

  final ReplicaId replica;
  final Document doc;
  final BlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
  final BlockingQueue<Integer> pongs = new LinkedBlockingQueue<>();
  final CompletableFuture<Integer> closeCode = new CompletableFuture<>();
  private final ByteArrayOutputStream partial = new ByteArrayOutputStream();
  private final WebSocket socket;
  private long nextRequest = 1;

  private RawClient(URI uri, long replica, String documentId) throws Exception {
    this.replica = ReplicaId.of(replica);
    this.doc = Document.create(documentId);
    this.socket =
        HttpClient.newHttpClient()
            .newWebSocketBuilder()
            .buildAsync(uri, this)
            .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
  }

  /** Connects without saying HELLO. */
  static RawClient connect(URI uri, long replica, String documentId) throws Exception {
    return new RawClient(uri, replica, documentId);
  }

  /** Connects, says HELLO and waits for WELCOME. */
  static RawClient hello(URI uri, long replica, String documentId) throws Exception {
    RawClient client = connect(uri, replica, documentId);
    client.send(Hello.of(client.replica, null, "it"));
    assertThat(client.take(Welcome.class)).isNotNull();
    return client;
  }

  void send(Message message) throws Exception {
    sendRaw(CODEC.encode(message));
  }

  void sendRaw(byte[] frame) throws Exception {
    socket.sendBinary(ByteBuffer.wrap(frame), true).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
  }

  void sendText(String text) throws Exception {
    socket.sendText(text, true).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
  }

  void ping() throws Exception {
    socket.sendPing(ByteBuffer.wrap(new byte[] {1})).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
  }

  /** The next message, which must be a {@code type}; skips nothing. */
  <T extends Message> T take(Class<T> type) throws InterruptedException {
    Message message = inbox.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    assertThat(message).as("a %s within %d s", type.getSimpleName(), TIMEOUT_SECONDS).isNotNull();
    assertThat(message).isInstanceOf(type);
    return type.cast(message);
  }

  /**
   * Subscribes and merges the catch-up: the SYNC, and before it the fan-out UPDATEs that carry the
   * parts of a catch-up too large for one frame.
   */
  Sync subscribe() throws Exception {
    send(new Subscribe(nextRequest++, doc.id(), doc.versionVector()));
    while (true) {
      Message message = inbox.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
      assertThat(message).as("a SYNC within %d s", TIMEOUT_SECONDS).isNotNull();
      if (message instanceof Update part && part.requestId().isEmpty()) {
        doc.merge(part.delta());
        continue;
      }
      assertThat(message).isInstanceOf(Sync.class);
      Sync sync = (Sync) message;
      doc.merge(sync.delta());
      return sync;
    }
  }

  Ack increment(String field, long amount) throws Exception {
    long request = nextRequest++;
    send(Update.request(request, doc.id(), doc.incrementGCounter(replica, field, amount)));
    return take(Ack.class);
  }

  Ack set(String field, Value value) throws Exception {
    long request = nextRequest++;
    send(Update.request(request, doc.id(), doc.setRegister(replica, field, value, CLOCK.now())));
    return take(Ack.class);
  }

  /** Takes the next fan-out update and merges it. */
  Update receive() throws Exception {
    Update update = take(Update.class);
    assertThat(update.requestId()).isEmpty();
    doc.merge(update.delta());
    return update;
  }

  int awaitClose() throws Exception {
    return closeCode.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
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
    webSocket.request(1);
    return null;
  }

  @Override
  public CompletionStage<?> onPong(WebSocket webSocket, ByteBuffer message) {
    pongs.add(message.remaining());
    webSocket.request(1);
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

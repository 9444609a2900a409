package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.protocol.CloseCodes;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Hello;
import dev.lattice.protocol.Sync;
import dev.lattice.protocol.Welcome;
import dev.lattice.server.spi.AuthResult;
import dev.lattice.server.spi.Authenticator;
import dev.lattice.server.spi.LatticeExtension;
import dev.lattice.server.spi.LatticeExtension.Change;
import dev.lattice.server.spi.LatticeExtension.Disconnect;
import dev.lattice.server.spi.LatticeExtension.LoadDocument;
import dev.lattice.server.spi.LatticeExtension.Seed;
import dev.lattice.server.spi.LatticeExtension.Source;
import dev.lattice.server.spi.Principal;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Server-side extensions ({@link LatticeExtension}) over real sockets: each hook, and isolation.
 */
class ExtensionsIT {

  private static final ReplicaId SERVER = ReplicaId.of(0x5e);
  private static final long WAIT = RawClient.TIMEOUT_SECONDS * 2;

  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  private LatticeServer start(LatticeServer.Builder builder) {
    LatticeServer server = builder.bindAddress("127.0.0.1").port(0).replicaId(SERVER).build();
    open.add(server);
    return server.start();
  }

  /** Connects as {@code replica} on {@code documentId}, HELLO with {@code token}, waits WELCOME. */
  private RawClient client(LatticeServer server, long replica, String documentId, String token)
      throws Exception {
    RawClient c = RawClient.connect(server.uri(), replica, documentId);
    open.add(c);
    c.send(Hello.of(c.replica, token, "it"));
    c.take(Welcome.class);
    return c;
  }

  private static <T> T poll(BlockingQueue<T> queue) throws InterruptedException {
    T next = queue.poll(WAIT, TimeUnit.SECONDS);
    assertThat(next).as("an event within %d s", WAIT).isNotNull();
    return next;
  }

  /** Records every notification; answers at once. */
  static final class Recorder implements LatticeExtension {
    final BlockingQueue<Change> changes = new LinkedBlockingQueue<>();
    final BlockingQueue<StoreDocument> stores = new LinkedBlockingQueue<>();
    final BlockingQueue<LoadDocument> loads = new LinkedBlockingQueue<>();
    final BlockingQueue<UnloadDocument> unloads = new LinkedBlockingQueue<>();
    final BlockingQueue<Connect> connects = new LinkedBlockingQueue<>();
    final BlockingQueue<Disconnect> disconnects = new LinkedBlockingQueue<>();

    @Override
    public CompletionStage<Void> onConnect(Connect connect) {
      connects.add(connect);
      return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletionStage<Seed> onLoadDocument(LoadDocument load) {
      loads.add(load);
      return CompletableFuture.completedFuture(Seed.none());
    }

    @Override
    public CompletionStage<Void> onChange(Change change) {
      changes.add(change);
      return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletionStage<Void> onStoreDocument(StoreDocument store) {
      stores.add(store);
      return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletionStage<Void> onUnloadDocument(UnloadDocument unload) {
      unloads.add(unload);
      return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletionStage<Void> onDisconnect(Disconnect disconnect) {
      disconnects.add(disconnect);
      return CompletableFuture.completedFuture(null);
    }
  }

  @Test
  void onChangeFiresOncePerDurableChangeWithItsReplicaAndPrincipal() throws Exception {
    Recorder recorder = new Recorder();
    LatticeServer server =
        start(
            LatticeServer.builder()
                .inMemory(true)
                .authenticator(
                    Authenticator.of(
                        token -> AuthResult.granted(Principal.of(token.orElse("nobody")))))
                .extension(recorder));
    RawClient alice = client(server, 0xa, "board", "alice");
    RawClient bob = client(server, 0xb, "board", "bob");
    alice.subscribe();
    bob.subscribe();

    DocumentDelta first = alice.doc.incrementGCounter(alice.replica, "likes", 1);
    alice.update(first);
    bob.increment("likes", 2);
    alice.update(first); // a resend after a lost ACK: a duplicate, no change
    server.edit("board", e -> e.set("title", Value.of("Q3"))).get(WAIT, TimeUnit.SECONDS);
    // Changes of one document arrive in order: once this marker is in, every earlier one is.
    server.edit("board", e -> e.set("marker", Value.of(true))).get(WAIT, TimeUnit.SECONDS);

    List<Change> seen = new ArrayList<>();
    Change c;
    do {
      c = poll(recorder.changes);
      seen.add(c);
    } while (!c.fields().contains("marker"));

    assertThat(seen).hasSize(4);
    assertThat(seen.get(0).source()).isEqualTo(Source.CLIENT);
    assertThat(seen.get(0).replicaId()).isEqualTo(alice.replica);
    assertThat(seen.get(0).principal()).contains(Principal.of("alice"));
    assertThat(seen.get(0).delta()).isEqualTo(first);
    assertThat(seen.get(1).replicaId()).isEqualTo(bob.replica);
    assertThat(seen.get(1).principal()).contains(Principal.of("bob"));
    assertThat(seen.get(2).source()).isEqualTo(Source.EDIT);
    assertThat(seen.get(2).replicaId()).isEqualTo(SERVER);
    assertThat(seen.get(2).principal()).isEmpty();
    assertThat(seen.get(2).fields()).containsExactly("title");
    assertThat(seen).allSatisfy(e -> assertThat(e.documentId()).isEqualTo("board"));
    // Reported after durability: the store holds each change when its hook sees it.
    assertThat(server.document("board").orElseThrow().counterValue("likes")).isEqualTo(3);
    // onStoreDocument: each append, with the changes it carried.
    int stored = 0;
    while (stored < 4) {
      stored += poll(recorder.stores).changes();
    }
    assertThat(stored).isEqualTo(4);
  }

  @Test
  void aThrowingAndAStuckHookLoseNoAcknowledgedUpdateNorStallAnotherDocument() throws Exception {
    CompletableFuture<Void> stuck = new CompletableFuture<>();
    LatticeExtension throwing =
        new LatticeExtension() {
          @Override
          public CompletionStage<Void> onChange(Change change) {
            throw new IllegalStateException("boom");
          }

          @Override
          public CompletionStage<Void> onStoreDocument(StoreDocument store) {
            return CompletableFuture.failedFuture(new IllegalStateException("boom"));
          }
        };
    LatticeExtension stalling =
        new LatticeExtension() {
          @Override
          public CompletionStage<Void> onChange(Change change) {
            // Never completes on its own for document "a" (the test lets it go at the end).
            return change.documentId().equals("a")
                ? stuck
                : CompletableFuture.completedFuture(null);
          }
        };
    Recorder recorder = new Recorder();
    LatticeServer server =
        start(
            LatticeServer.builder()
                .inMemory(true)
                .extensionTimeout(Duration.ofMinutes(5))
                .extension(throwing)
                .extension(stalling)
                .extension(recorder));
    RawClient onA = client(server, 0xa, "a", null);
    RawClient onB = client(server, 0xb, "b", null);
    onA.subscribe();
    onB.subscribe();

    for (int i = 0; i < 5; i++) {
      onA.increment("n", 1); // each waits for its ACK
    }
    onB.increment("n", 7);

    assertThat(server.document("a").orElseThrow().counterValue("n")).isEqualTo(5);
    assertThat(server.document("b").orElseThrow().counterValue("n")).isEqualTo(7);
    // Document b's change went past the stuck hook of a and the throwing extension.
    Change b = poll(recorder.changes);
    assertThat(b.documentId()).isEqualTo("b");
    assertThat(recorder.changes).isEmpty(); // a's first change is still held by the stuck hook

    stuck.complete(null);
    for (int i = 0; i < 5; i++) {
      assertThat(poll(recorder.changes).documentId()).isEqualTo("a");
    }
    assertThat(recorder.changes).isEmpty();
    double failures =
        server.meterRegistry().counter("lattice.extension.failures", "hook", "onChange").count();
    assertThat(failures).isEqualTo(6);
  }

  @Test
  void onLoadSeedsANewDocumentExactlyOnceAndNeverAStoredOne(@TempDir Path data) throws Exception {
    Recorder recorder = new Recorder();
    LatticeExtension seeder =
        new LatticeExtension() {
          @Override
          public CompletionStage<Seed> onLoadDocument(LoadDocument load) {
            return CompletableFuture.completedFuture(
                Seed.of(e -> e.set("title", Value.of("Untitled")).increment("seeded", 1)));
          }
        };
    LatticeServer server =
        start(
            LatticeServer.builder()
                .dataDirectory(data)
                .cacheMaxBytes(0) // every load reads the store
                .extension(seeder)
                .extension(recorder));

    RawClient first = client(server, 0xa, "fresh", null);
    first.subscribe();
    assertThat(first.doc.registerValue("title")).contains(Value.of("Untitled"));
    assertThat(first.doc.counterValue("seeded")).isEqualTo(1);
    assertThat(poll(recorder.loads)).isEqualTo(new LoadDocument("fresh", true));
    Change seed = poll(recorder.changes);
    assertThat(seed.source()).isEqualTo(Source.SEED);
    assertThat(seed.replicaId()).isEqualTo(SERVER);
    first.close();
    assertThat(poll(recorder.unloads).documentId()).isEqualTo("fresh");

    RawClient second = client(server, 0xb, "fresh", null);
    Sync sync = second.subscribe();
    assertThat(sync).isNotNull();
    assertThat(second.doc.counterValue("seeded")).isEqualTo(1);
    assertThat(poll(recorder.loads)).isEqualTo(new LoadDocument("fresh", false));
  }

  @Test
  void aFailingLoadHookFailsTheSubscribeAndTheNextOneLoadsAfresh() throws Exception {
    CompletableFuture<Seed> refuse =
        CompletableFuture.failedFuture(new IllegalStateException("no"));
    List<CompletionStage<Seed>> answers = new ArrayList<>(List.of(refuse));
    LatticeExtension flaky =
        new LatticeExtension() {
          @Override
          public synchronized CompletionStage<Seed> onLoadDocument(LoadDocument load) {
            return answers.isEmpty()
                ? CompletableFuture.completedFuture(Seed.none())
                : answers.remove(0);
          }
        };
    LatticeServer server = start(LatticeServer.builder().inMemory(true).extension(flaky));
    RawClient c = client(server, 0xa, "doc", null);
    long request = c.takeRequestId();
    c.send(new dev.lattice.protocol.Subscribe(request, "doc", c.doc.versionVector()));
    ErrorMessage error = c.take(ErrorMessage.class);
    assertThat(error.code()).isEqualTo(ErrorCode.INTERNAL.code());

    assertThat(c.subscribe()).isNotNull();
    assertThat(
            server
                .meterRegistry()
                .counter("lattice.extension.failures", "hook", "onLoadDocument")
                .count())
        .isEqualTo(1);
  }

  @Test
  void onConnectSeesThePeerAddressAndTheUpgradeHeadersButNoCredentials() throws Exception {
    Recorder recorder = new Recorder();
    LatticeServer server =
        start(
            LatticeServer.builder()
                .inMemory(true)
                .authenticator(
                    token ->
                        CompletableFuture.completedFuture(
                            AuthResult.granted(Principal.of(token.orElse("nobody")))))
                .extension(recorder));

    RawClient c =
        RawClient.connect(
            java.net.http.HttpClient.newHttpClient(),
            server.uri(),
            0xa,
            "doc",
            upgrade ->
                upgrade
                    .header("X-Team", "blue")
                    .header("X-Team", "green")
                    .header("Authorization", "Bearer alice"));
    open.add(c);
    c.send(Hello.of(c.replica, null, "it"));
    c.take(Welcome.class);

    LatticeExtension.Connect connect = poll(recorder.connects);
    assertThat(connect.replicaId()).isEqualTo(c.replica);
    assertThat(connect.remoteAddress().getAddress().isLoopbackAddress()).isTrue();
    assertThat(connect.remoteAddress().getPort()).isPositive().isNotEqualTo(server.port());
    assertThat(connect.headers().get("x-team")).containsExactly("blue", "green");
    assertThat(connect.header("X-TEAM")).contains("blue");
    assertThat(connect.header("host")).contains("127.0.0.1:" + server.port());
    // Credentials reach onAuthenticate only.
    assertThat(connect.headers().keySet())
        .noneMatch(name -> name.equalsIgnoreCase("authorization"));
    assertThat(connect.header("Authorization")).isEmpty();
    assertThatThrownBy(() -> connect.headers().put("X-Other", List.of("x")))
        .isInstanceOf(UnsupportedOperationException.class);
  }

  @Test
  void onDisconnectGetsTheCloseCodeOfEitherSide() throws Exception {
    Recorder recorder = new Recorder();
    LatticeExtension gate =
        new LatticeExtension() {
          @Override
          public CompletionStage<Void> onConnect(Connect connect) {
            return connect.replicaId().equals(ReplicaId.of(0xbad))
                ? CompletableFuture.failedFuture(new IllegalStateException("banned"))
                : CompletableFuture.completedFuture(null);
          }
        };
    LatticeServer server =
        start(LatticeServer.builder().inMemory(true).extension(gate).extension(recorder));

    RawClient leaving = client(server, 0xa, "doc", null);
    assertThat(poll(recorder.connects).replicaId()).isEqualTo(leaving.replica);
    leaving.closeWith(4321, "see you");
    Disconnect bye = poll(recorder.disconnects);
    assertThat(bye.replicaId()).isEqualTo(leaving.replica);
    assertThat(bye.closeCode()).isEqualTo(4321);
    assertThat(bye.reason()).isEqualTo("see you");
    assertThat(bye.principal()).contains(Principal.anonymous());

    // onConnect refused it: ERROR UNAUTHORIZED, close 4002, and onDisconnect hears 4002.
    RawClient banned = RawClient.connect(server.uri(), 0xbad, "doc");
    open.add(banned);
    banned.send(Hello.of(banned.replica, null, "it"));
    assertThat(banned.take(ErrorMessage.class).code()).isEqualTo(ErrorCode.UNAUTHORIZED.code());
    assertThat(banned.awaitClose()).isEqualTo(CloseCodes.UNAUTHORIZED);
    Disconnect refused = poll(recorder.disconnects);
    assertThat(refused.replicaId()).isEqualTo(ReplicaId.of(0xbad));
    assertThat(refused.closeCode()).isEqualTo(CloseCodes.UNAUTHORIZED);
    assertThat(refused.principal()).isEmpty();
  }

  @Test
  void onAuthenticateRefusesOrReplacesWhatTheAuthenticatorGranted() throws Exception {
    Recorder recorder = new Recorder();
    LatticeExtension verifier =
        new LatticeExtension() {
          @Override
          public CompletionStage<AuthResult> onAuthenticate(Authenticate auth) {
            if (auth.token().equals(Optional.of("mallory"))) {
              return CompletableFuture.completedFuture(AuthResult.refused("not on the list"));
            }
            return CompletableFuture.completedFuture(
                AuthResult.granted(Principal.of(auth.principal().subject() + "-verified")));
          }
        };
    LatticeServer server =
        start(
            LatticeServer.builder()
                .inMemory(true)
                .authenticator(
                    Authenticator.of(
                        token -> AuthResult.granted(Principal.of(token.orElse("nobody")))))
                .extension(verifier)
                .extension(recorder));

    RawClient mallory = RawClient.connect(server.uri(), 0xe, "doc");
    open.add(mallory);
    mallory.send(Hello.of(mallory.replica, "mallory", "it"));
    ErrorMessage refused = mallory.take(ErrorMessage.class);
    assertThat(refused.code()).isEqualTo(ErrorCode.UNAUTHORIZED.code());
    assertThat(refused.message()).contains("not on the list");
    assertThat(mallory.awaitClose()).isEqualTo(CloseCodes.UNAUTHORIZED);

    RawClient alice = client(server, 0xa, "doc", "alice");
    alice.subscribe();
    alice.increment("n", 1);
    assertThat(poll(recorder.changes).principal()).contains(Principal.of("alice-verified"));
  }

  /**
   * A local HTTP endpoint that answers 204 and queues every body it receives; stopped after the
   * test. Returns its URL.
   */
  private java.net.URI webhookReceiver(BlockingQueue<String> bodies) throws java.io.IOException {
    com.sun.net.httpserver.HttpServer receiver =
        com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress("127.0.0.1", 0), 0);
    receiver.createContext(
        "/hook",
        exchange -> {
          bodies.add(
              new String(
                  exchange.getRequestBody().readAllBytes(),
                  java.nio.charset.StandardCharsets.UTF_8));
          exchange.sendResponseHeaders(204, -1);
          exchange.close();
        });
    receiver.start();
    open.add(() -> receiver.stop(0));
    return java.net.URI.create("http://127.0.0.1:" + receiver.getAddress().getPort() + "/hook");
  }

  @Test
  void aWebhookPostsTheChangedFieldsAsGetRendersThem() throws Exception {
    BlockingQueue<String> bodies = new LinkedBlockingQueue<>();
    java.net.URI url = webhookReceiver(bodies);
    LatticeServer server =
        start(
            LatticeServer.builder()
                .inMemory(true)
                .extension(
                    dev.lattice.server.WebhookExtension.builder(url)
                        .debounce(Duration.ofMillis(50))
                        .build()));
    RawClient alice = client(server, 0xa, "board", null);
    alice.subscribe();
    server.edit("board", e -> e.set("title", Value.of("Q3"))).get(WAIT, TimeUnit.SECONDS);
    String title = poll(bodies);
    alice.increment("likes", 2);

    String likes = poll(bodies);
    assertThat(title)
        .isEqualTo(
            "{\"event\":\"change\",\"document\":{\"id\":\"board\",\"fields\":"
                + "{\"title\":{\"type\":\"LWW_REGISTER\",\"value\":\"Q3\"}}},"
                + "\"replicas\":[\"000000000000005e\"],\"changes\":1}");
    assertThat(likes)
        .isEqualTo(
            "{\"event\":\"change\",\"document\":{\"id\":\"board\",\"fields\":"
                + "{\"likes\":{\"type\":\"G_COUNTER\",\"value\":2}}},"
                + "\"replicas\":[\"000000000000000a\"],\"changes\":1}");
  }

  @Test
  void aWebhookSendsItsOpenWindowWhenTheServerCloses(@TempDir Path data) throws Exception {
    BlockingQueue<String> bodies = new LinkedBlockingQueue<>();
    java.net.URI url = webhookReceiver(bodies);
    LatticeServer server =
        start(
            LatticeServer.builder()
                .dataDirectory(data) // a store that refuses reads once closed
                .extension(
                    dev.lattice.server.WebhookExtension.builder(url)
                        .debounce(Duration.ofHours(1)) // only the close can send it
                        .build()));
    server.edit("board", e -> e.increment("likes", 4)).get(WAIT, TimeUnit.SECONDS);

    server.close();

    // Sent during close, with the store still open to read the document from.
    assertThat(bodies.poll())
        .isEqualTo(
            "{\"event\":\"change\",\"document\":{\"id\":\"board\",\"fields\":"
                + "{\"likes\":{\"type\":\"G_COUNTER\",\"value\":4}}},"
                + "\"replicas\":[\"000000000000005e\"],\"changes\":1}");
  }
}

package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Hello;
import dev.lattice.protocol.Subscribe;
import dev.lattice.protocol.Welcome;
import dev.lattice.server.auth.Tokens;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocketHandshakeException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Authentication, rights, origins and TLS over real sockets, with JWTs minted in the test. */
class AuthIT {

  private static final Instant LATER = Instant.now().plusSeconds(3600);

  private final List<AutoCloseable> open = new ArrayList<>();
  private final HttpClient http = HttpClient.newHttpClient();

  @TempDir Path dir;

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  private LatticeServer start(LatticeServer.Builder builder) {
    LatticeServer server =
        builder.inMemory(true).bindAddress("127.0.0.1").port(0).replicaId(ReplicaId.of(5)).build();
    open.add(server);
    return server.start();
  }

  private LatticeServer jwtServer() {
    return start(
        LatticeServer.builder()
            .authenticator(JwtAuthenticator.builder().hmacSecret(Tokens.SECRET).build())
            .allowedOrigins(Set.of("https://app.example")));
  }

  private static String token(String subject, List<String> read, List<String> write) {
    return Tokens.hmac(Tokens.claims(subject, LATER, read, write).build());
  }

  private RawClient connect(
      URI uri,
      long replica,
      String doc,
      java.util.function.Consumer<java.net.http.WebSocket.Builder> upgrade)
      throws Exception {
    RawClient c = RawClient.connect(http, uri, replica, doc, upgrade);
    open.add(c);
    return c;
  }

  /** The HTTP status the upgrade was refused with. */
  private int refusedUpgrade(
      URI uri, java.util.function.Consumer<java.net.http.WebSocket.Builder> upgrade) {
    Throwable failure =
        org.assertj.core.api.Assertions.catchThrowable(() -> connect(uri, 0xe, "doc", upgrade));
    assertThat(failure).isInstanceOf(ExecutionException.class);
    assertThat(failure.getCause()).isInstanceOf(WebSocketHandshakeException.class);
    return ((WebSocketHandshakeException) failure.getCause()).getResponse().statusCode();
  }

  private HttpResponse<String> get(LatticeServer server, String path, String token)
      throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).GET();
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  // ------------------------------------------------------------------ upgrade

  @Test
  void aBearerHeaderAtUpgradeOpensTheSessionWithoutHelloCredentials() throws Exception {
    LatticeServer server = jwtServer();
    RawClient c =
        connect(
            server.uri(),
            0xa,
            "doc",
            b -> b.header("Authorization", "Bearer " + token("alice", List.of(), List.of("*"))));
    c.send(Hello.of(c.replica, null, "it"));
    assertThat(c.take(Welcome.class)).isNotNull();
    assertThat(c.subscribe()).isNotNull();
  }

  @Test
  void anInvalidTokenAtUpgradeIs401BeforeAnyWebSocket() throws Exception {
    LatticeServer server = jwtServer();
    assertThat(refusedUpgrade(server.uri(), b -> b.header("Authorization", "Bearer nonsense")))
        .isEqualTo(401);
    String expired =
        Tokens.hmac(
            Tokens.claims("a", Instant.now().minusSeconds(3600), List.of(), List.of()).build());
    assertThat(refusedUpgrade(URI.create(server.uri() + "?access_token=" + expired), b -> {}))
        .isEqualTo(401);
    assertThat(get(server, "/metrics", null).body())
        .contains("lattice_upgrades_refused_total{status=\"401\"} 2.0");
  }

  @Test
  void theQueryParameterAndTheSubprotocolCarryTokensForBrowsers() throws Exception {
    LatticeServer server = jwtServer();
    String token = token("alice", List.of("*"), List.of());
    RawClient query =
        connect(URI.create(server.uri() + "?access_token=" + token), 0xa, "doc", b -> {});
    query.send(Hello.of(query.replica, null, "it"));
    assertThat(query.take(Welcome.class)).isNotNull();

    RawClient subprotocol =
        connect(
            server.uri(), 0xb, "doc", b -> b.subprotocols("lattice", "lattice.bearer." + token));
    assertThat(subprotocol.subprotocol()).isEqualTo("lattice");
    subprotocol.send(Hello.of(subprotocol.replica, null, "it"));
    assertThat(subprotocol.take(Welcome.class)).isNotNull();
  }

  @Test
  void withoutAnUpgradeTokenHelloCredentialsDecide() throws Exception {
    LatticeServer server = jwtServer();
    RawClient none = connect(server.uri(), 0xe, "doc", b -> {});
    none.send(Hello.of(none.replica, null, "it"));
    assertThat(none.take(ErrorMessage.class).errorCode()).contains(ErrorCode.UNAUTHORIZED);
    assertThat(none.awaitClose()).isEqualTo(dev.lattice.protocol.CloseCodes.UNAUTHORIZED);

    RawClient hello = connect(server.uri(), 0xa, "doc", b -> {});
    hello.send(Hello.of(hello.replica, token("alice", List.of("*"), List.of()), "it"));
    assertThat(hello.take(Welcome.class)).isNotNull();
  }

  @Test
  void aSlowTokenCheckHoldsHelloAndTheFramesAfterItUntilItAnswers() throws Exception {
    java.util.concurrent.CompletableFuture<dev.lattice.server.spi.AuthResult> decision =
        new java.util.concurrent.CompletableFuture<>();
    java.util.concurrent.CountDownLatch asked = new java.util.concurrent.CountDownLatch(1);
    LatticeServer server =
        start(
            LatticeServer.builder()
                .authenticator(
                    token -> {
                      asked.countDown();
                      return decision; // an introspection call still on its way
                    }));
    RawClient c =
        connect(server.uri(), 0xa, "doc", b -> b.header("Authorization", "Bearer opaque"));
    c.send(Hello.of(c.replica, null, "it"));
    long subscribe = c.takeRequestId();
    c.send(new Subscribe(subscribe, "doc", dev.lattice.crdt.VersionVector.empty()));
    assertThat(asked.await(5, TimeUnit.SECONDS)).isTrue();

    decision.complete(
        dev.lattice.server.spi.AuthResult.granted(
            dev.lattice.server.spi.Principal.of("introspected")));

    assertThat(c.take(Welcome.class)).isNotNull();
    assertThat(c.take(dev.lattice.protocol.Sync.class).requestId()).isEqualTo(subscribe);
  }

  @Test
  void aDisallowedOriginIs403AndRequestsWithoutOriginPass() throws Exception {
    LatticeServer server = jwtServer();
    String token = token("alice", List.of("*"), List.of());
    assertThat(
            refusedUpgrade(
                server.uri(),
                b ->
                    b.header("Origin", "https://evil.example")
                        .header("Authorization", "Bearer " + token)))
        .isEqualTo(403);
    RawClient allowed =
        connect(
            server.uri(),
            0xa,
            "doc",
            b ->
                b.header("Origin", "https://app.example")
                    .header("Authorization", "Bearer " + token));
    allowed.send(Hello.of(allowed.replica, null, "it"));
    assertThat(allowed.take(Welcome.class)).isNotNull();
  }

  // ------------------------------------------------------------------ rights over the wire

  @Test
  void aReadOnlyClientCannotWriteAndTheDocumentIsUntouched() throws Exception {
    LatticeServer server = jwtServer();
    server.edit("pub/board", e -> e.increment("views", 1)).get(5, TimeUnit.SECONDS);
    RawClient reader =
        connect(
            server.uri(),
            0xa,
            "pub/board",
            b ->
                b.header(
                    "Authorization", "Bearer " + token("reader", List.of("pub/*"), List.of())));
    reader.send(Hello.of(reader.replica, null, "it"));
    reader.take(Welcome.class);
    reader.subscribe();

    long request = reader.sendUpdate(reader.doc.incrementGCounter(reader.replica, "views", 5));
    ErrorMessage refused = (ErrorMessage) reader.awaitReply(request);

    assertThat(refused.errorCode()).contains(ErrorCode.FORBIDDEN);
    assertThat(server.document("pub/board").orElseThrow().counterValue("views")).isEqualTo(1);
    reader.send(
        new Subscribe(reader.takeRequestId(), "private", dev.lattice.crdt.VersionVector.empty()));
    assertThat(reader.take(ErrorMessage.class).errorCode()).contains(ErrorCode.FORBIDDEN);
  }

  // ------------------------------------------------------------------ replica ownership

  private LatticeServer durableJwtServer() {
    LatticeServer server =
        LatticeServer.builder()
            .dataDirectory(dir.resolve("data"))
            .bindAddress("127.0.0.1")
            .port(0)
            .replicaId(ReplicaId.of(5))
            .authenticator(JwtAuthenticator.builder().hmacSecret(Tokens.SECRET).build())
            .build();
    open.add(server);
    return server.start();
  }

  private RawClient helloAs(LatticeServer server, String subject, long replica) throws Exception {
    String token = token(subject, List.of(), List.of("*"));
    RawClient c =
        connect(server.uri(), replica, "doc", b -> b.header("Authorization", "Bearer " + token));
    c.send(Hello.of(c.replica, null, "it"));
    return c;
  }

  @Test
  void aSubjectCannotTakeAReplicaIdAnotherSubjectUsedEvenAfterARestart() throws Exception {
    LatticeServer server = durableJwtServer();
    RawClient alice = helloAs(server, "alice", 0xa1);
    alice.take(Welcome.class);
    alice.subscribe();
    alice.awaitAck(alice.sendUpdate(alice.doc.incrementGCounter(alice.replica, "n", 1)));

    RawClient mallory = helloAs(server, "mallory", 0xa1);
    ErrorMessage refused = mallory.take(ErrorMessage.class);
    assertThat(refused.errorCode()).contains(ErrorCode.REPLICA_OWNED);
    assertThat(refused.message()).doesNotContain("alice");
    assertThat(mallory.awaitClose()).isEqualTo(dev.lattice.protocol.CloseCodes.REPLICA_OWNED);
    // Under a replica id of its own the same token is welcome.
    helloAs(server, "mallory", 0xb1).take(Welcome.class);

    server.close();
    LatticeServer restarted = durableJwtServer();
    RawClient again = helloAs(restarted, "mallory", 0xa1);
    assertThat(again.take(ErrorMessage.class).errorCode()).contains(ErrorCode.REPLICA_OWNED);
    RawClient owner = helloAs(restarted, "alice", 0xa1);
    assertThat(owner.take(Welcome.class)).isNotNull();
    assertThat(restarted.document("doc").orElseThrow().counterValue("n")).isEqualTo(1);
  }

  @Test
  void serversSharingARedisAgreeOnAReplicasOwner() throws Exception {
    dev.lattice.server.redis.RedisServerProcess redis =
        dev.lattice.server.redis.RedisServerProcess.startDefault();
    open.add(redis);
    java.util.function.LongFunction<LatticeServer> onRedis =
        replica -> {
          LatticeServer server =
              LatticeServer.builder()
                  .redis(redis.uri())
                  .bindAddress("127.0.0.1")
                  .port(0)
                  .replicaId(ReplicaId.of(replica))
                  .authenticator(JwtAuthenticator.builder().hmacSecret(Tokens.SECRET).build())
                  .build();
          open.add(server);
          return server.start();
        };
    LatticeServer one = onRedis.apply(0x61);
    LatticeServer two = onRedis.apply(0x62);

    helloAs(one, "alice", 0xa2).take(Welcome.class);
    RawClient mallory = helloAs(two, "mallory", 0xa2);

    assertThat(mallory.take(ErrorMessage.class).errorCode()).contains(ErrorCode.REPLICA_OWNED);
    assertThat(mallory.awaitClose()).isEqualTo(dev.lattice.protocol.CloseCodes.REPLICA_OWNED);
    assertThat(helloAs(two, "alice", 0xa2).take(Welcome.class)).isNotNull();
  }

  // ------------------------------------------------------------------ HTTP

  @Test
  void documentReadsOverHttpNeedATokenWithTheReadRight() throws Exception {
    LatticeServer server = jwtServer();
    server.edit("pub/board", e -> e.increment("views", 1)).get(5, TimeUnit.SECONDS);

    assertThat(get(server, "/v1/docs/pub%2Fboard", null).statusCode()).isEqualTo(401);
    assertThat(get(server, "/v1/docs/pub%2Fboard", null).headers().firstValue("WWW-Authenticate"))
        .hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
    HttpResponse<String> garbage = get(server, "/v1/docs/pub%2Fboard", "garbage");
    assertThat(garbage.statusCode()).isEqualTo(401);
    assertThat(garbage.body()).startsWith("{\"error\":").doesNotContain("garbage");
    assertThat(
            get(server, "/v1/docs/pub%2Fboard", token("bob", List.of("other"), List.of()))
                .statusCode())
        .isEqualTo(403);
    HttpResponse<String> ok =
        get(server, "/v1/docs/pub%2Fboard", token("bob", List.of("pub/*"), List.of()));
    assertThat(ok.statusCode()).isEqualTo(200);
    assertThat(ok.body()).contains("views");
    // A missing document the principal may read is a 404, one it may not a 403: no probing.
    assertThat(
            get(server, "/v1/docs/pub%2Fnone", token("bob", List.of("pub/*"), List.of()))
                .statusCode())
        .isEqualTo(404);
    assertThat(
            get(server, "/v1/docs/hidden", token("bob", List.of("pub/*"), List.of())).statusCode())
        .isEqualTo(403);
  }

  @Test
  void healthReadinessAndMetricsStayOpen() throws Exception {
    LatticeServer server = jwtServer();
    for (String path : List.of("/healthz", "/readyz", "/metrics")) {
      assertThat(get(server, path, null).statusCode()).as(path).isEqualTo(200);
    }
  }

  // ------------------------------------------------------------------ TLS

  @Test
  void tlsServesWssToAClientTrustingItsCertificate() throws Exception {
    Path keyStore = TestKeyStores.serverKeyStore(dir);
    LatticeServer server =
        start(LatticeServer.builder().tls(keyStore, TestKeyStores.PASSWORD.toCharArray()));
    assertThat(server.uri().getScheme()).isEqualTo("wss");
    HttpClient tls = HttpClient.newBuilder().sslContext(TestKeyStores.trusting(keyStore)).build();

    RawClient c = RawClient.connect(tls, server.uri(), 0xa, "doc", b -> {});
    open.add(c);
    c.send(Hello.of(c.replica, null, "it"));
    assertThat(c.take(Welcome.class)).isNotNull();
    assertThatThrownBy(
            () ->
                http.send(
                    HttpRequest.newBuilder(
                            URI.create("https://127.0.0.1:" + server.port() + "/healthz"))
                        .build(),
                    HttpResponse.BodyHandlers.ofString()))
        .isInstanceOf(javax.net.ssl.SSLException.class);
    HttpResponse<String> health =
        tls.send(
            HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + server.port() + "/healthz"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(health.body()).isEqualTo("ok");
  }
}

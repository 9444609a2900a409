package dev.lattice.server.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.server.redis.RedisDocumentStore;
import dev.lattice.server.redis.RedisServerProcess;
import dev.lattice.server.redis.RedisStoreConfig;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Runs the whole command in process, on loopback and an ephemeral port, then stops it. */
class LatticeMainRunTest {

  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @Test
  @Timeout(60)
  void commandServesHealthzAndStopsOnTheShutdownPath() throws Exception {
    CommandLine cmd = LatticeMain.commandLine(Map.of("LATTICE_PORT", "7070"));
    LatticeMain main = cmd.getCommand();
    CompletableFuture<Integer> exit =
        CompletableFuture.supplyAsync(
            () -> cmd.execute("--port", "0", "--bind", "127.0.0.1", "--in-memory"));

    LatticeMain.Running running = awaitRunning(main, exit);
    int port = running.server().port();
    assertThat(port).isPositive().isNotEqualTo(7070);
    assertThat(running.server().uri()).hasToString("ws://127.0.0.1:" + port + "/v1/sync");
    assertThat(get(port, "/healthz").statusCode()).isEqualTo(200);
    assertThat(get(port, "/readyz").statusCode()).isEqualTo(200);
    assertThat(get(port, "/metrics").body()).contains("lattice_connections 0.0");
    // A browser or curl at the WebSocket endpoint learns what it wants.
    HttpResponse<String> plain = get(port, "/v1/sync");
    assertThat(plain.statusCode()).isEqualTo(426);
    assertThat(plain.headers().firstValue("Upgrade")).hasValue("websocket");

    running.shutdown(); // what the SIGTERM hook runs

    assertThat(exit.get(30, TimeUnit.SECONDS)).isZero();
    assertThat(running.isStopped()).isTrue();
    assertThat(running.server().isReady()).isFalse();
    assertThatThrownBy(() -> get(port, "/healthz")).isInstanceOf(ConnectException.class);
    running.shutdown(); // idempotent, as a second signal would be
  }

  @Test
  @Timeout(60)
  void webhookFlagsPostSignedChangesToTheUrl(@TempDir Path dir) throws Exception {
    java.util.concurrent.BlockingQueue<String[]> posts =
        new java.util.concurrent.LinkedBlockingQueue<>();
    com.sun.net.httpserver.HttpServer receiver =
        com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress("127.0.0.1", 0), 0);
    receiver.createContext(
        "/hook",
        exchange -> {
          byte[] body = exchange.getRequestBody().readAllBytes();
          posts.add(
              new String[] {
                new String(body, java.nio.charset.StandardCharsets.UTF_8),
                exchange.getRequestHeaders().getFirst("X-Lattice-Signature")
              });
          exchange.sendResponseHeaders(204, -1);
          exchange.close();
        });
    receiver.start();
    byte[] secret = "a-webhook-secret-of-some-length".getBytes();
    Path secretFile = java.nio.file.Files.write(dir.resolve("webhook-secret"), secret);
    LatticeMain.Running running =
        LatticeMain.start(
            LatticeMain.parse(
                Map.of("LATTICE_WEBHOOK_DEBOUNCE", "50ms"),
                "--port=0",
                "--bind=127.0.0.1",
                "--in-memory",
                "--webhook-url=http://127.0.0.1:" + receiver.getAddress().getPort() + "/hook",
                "--webhook-secret-file=" + secretFile));
    try {
      running.server().edit("board", e -> e.increment("likes", 3)).get(30, TimeUnit.SECONDS);
      String[] post = posts.poll(30, TimeUnit.SECONDS);
      assertThat(post).as("a webhook POST").isNotNull();
      assertThat(post[0]).contains("\"likes\":{\"type\":\"G_COUNTER\",\"value\":3}");
      assertThat(post[1])
          .isEqualTo(
              dev.lattice.server.WebhookExtension.signature(
                  secret, post[0].getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    } finally {
      running.shutdown();
      receiver.stop(0);
    }
  }

  @Test
  @Timeout(60)
  void aTakenPortExitsWith1() throws Exception {
    LatticeMain.Running first =
        LatticeMain.start(
            LatticeMain.parse(Map.of(), "--port=0", "--bind=127.0.0.1", "--in-memory"));
    try {
      int taken = first.server().port();
      int code =
          LatticeMain.commandLine(Map.of())
              .execute("--port", String.valueOf(taken), "--bind", "127.0.0.1", "--in-memory");
      assertThat(code).isEqualTo(1);
    } finally {
      first.shutdown();
    }
  }

  @Test
  @Timeout(60)
  void aTakenPortCreatesNothingInTheDataDirectory(@TempDir Path cwd) throws Exception {
    LatticeMain.Running first =
        LatticeMain.start(
            LatticeMain.parse(Map.of(), "--port=0", "--bind=127.0.0.1", "--in-memory"));
    try {
      Path dataDir = cwd.resolve("data");
      int code =
          LatticeMain.commandLine(Map.of())
              .execute(
                  "--port",
                  String.valueOf(first.server().port()),
                  "--bind",
                  "127.0.0.1",
                  "--data-dir",
                  dataDir.toString());
      assertThat(code).isEqualTo(1);
      assertThat(dataDir).doesNotExist();
    } finally {
      first.shutdown();
    }
  }

  @Test
  @Timeout(60)
  void redisFlagKeepsDocumentsInRedisWithoutADataDirectory(@TempDir Path cwd) throws Exception {
    try (RedisServerProcess redis = RedisServerProcess.startDefault()) {
      Path dataDir = cwd.resolve("unused-data");
      LatticeMain.Running running =
          LatticeMain.start(
              LatticeMain.parse(
                  Map.of("LATTICE_REDIS", redis.uri()),
                  "--port=0",
                  "--bind=127.0.0.1",
                  "--data-dir=" + dataDir));
      try {
        running.server().edit("doc", e -> e.increment("n", 3)).get(10, TimeUnit.SECONDS);
        int port = running.server().port();
        assertThat(get(port, "/readyz").statusCode()).isEqualTo(200);
        assertThat(get(port, "/metrics").body())
            .contains("lattice_replication_published_total", "lettuce_command_completion_seconds");
      } finally {
        running.shutdown();
      }
      assertThat(dataDir).as("no local data in Redis mode").doesNotExist();
      try (RedisDocumentStore store =
          RedisDocumentStore.open(RedisStoreConfig.builder(redis.uri()).build())) {
        assertThat(store.load("doc").orElseThrow().counterValue("n")).isEqualTo(3);
      }
    }
  }

  @Test
  @Timeout(60)
  void anUnreachableRedisExitsWith1() throws Exception {
    int closedPort;
    try (java.net.ServerSocket s =
        new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closedPort = s.getLocalPort();
    }
    int code =
        LatticeMain.commandLine(Map.of())
            .execute("--port=0", "--bind=127.0.0.1", "--redis=redis://127.0.0.1:" + closedPort);
    assertThat(code).isEqualTo(1);
  }

  @Test
  @Timeout(60)
  void authTlsAndOriginFlagsServeAProtectedWssServer(@TempDir Path dir) throws Exception {
    Path keyStore = dev.lattice.server.TestKeyStores.serverKeyStore(dir);
    Path password =
        java.nio.file.Files.writeString(
            dir.resolve("tls-password"), dev.lattice.server.TestKeyStores.PASSWORD + "\n");
    Path secret =
        java.nio.file.Files.writeString(
            dir.resolve("secret"),
            new String(
                dev.lattice.server.auth.Tokens.SECRET, java.nio.charset.StandardCharsets.US_ASCII));
    LatticeMain.Running running =
        LatticeMain.start(
            LatticeMain.parse(
                Map.of("LATTICE_AUTH_JWT_SECRET_FILE", secret.toString()),
                "--port=0",
                "--bind=127.0.0.1",
                "--in-memory",
                "--auth-issuer=https://idp.example",
                "--allowed-origins=https://app.example",
                "--tls-keystore=" + keyStore,
                "--tls-keystore-password-file=" + password));
    try {
      running.server().edit("doc", e -> e.increment("n", 3)).get(10, TimeUnit.SECONDS);
      int port = running.server().port();
      assertThat(running.server().uri()).hasToString("wss://127.0.0.1:" + port + "/v1/sync");
      HttpClient tls =
          HttpClient.newBuilder()
              .sslContext(dev.lattice.server.TestKeyStores.trusting(keyStore))
              .connectTimeout(Duration.ofSeconds(5))
              .build();
      URI doc = URI.create("https://127.0.0.1:" + port + "/v1/docs/doc");
      String good =
          dev.lattice.server.auth.Tokens.hmac(
              dev.lattice.server.auth.Tokens.claims(
                      "ops", java.time.Instant.now().plusSeconds(600), List.of("*"), List.of())
                  .issuer("https://idp.example")
                  .build());
      String otherIssuer =
          dev.lattice.server.auth.Tokens.hmac(
              dev.lattice.server.auth.Tokens.claims(
                      "ops", java.time.Instant.now().plusSeconds(600), List.of("*"), List.of())
                  .build());

      assertThat(send(tls, HttpRequest.newBuilder(doc)).statusCode()).isEqualTo(401);
      assertThat(
              send(
                      tls,
                      HttpRequest.newBuilder(doc).header("Authorization", "Bearer " + otherIssuer))
                  .statusCode())
          .isEqualTo(401);
      HttpResponse<String> ok =
          send(tls, HttpRequest.newBuilder(doc).header("Authorization", "Bearer " + good));
      assertThat(ok.statusCode()).isEqualTo(200);
      assertThat(ok.body()).contains("\"n\"");
      assertThat(
              send(
                      tls,
                      HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + port + "/healthz")))
                  .statusCode())
          .isEqualTo(200);
      Throwable refused =
          org.assertj.core.api.Assertions.catchThrowable(
              () ->
                  tls.newWebSocketBuilder()
                      .header("Origin", "https://evil.example")
                      .header("Authorization", "Bearer " + good)
                      .buildAsync(running.server().uri(), new java.net.http.WebSocket.Listener() {})
                      .get(10, TimeUnit.SECONDS));
      assertThat(refused.getCause()).isInstanceOf(java.net.http.WebSocketHandshakeException.class);
      assertThat(
              ((java.net.http.WebSocketHandshakeException) refused.getCause())
                  .getResponse()
                  .statusCode())
          .isEqualTo(403);
    } finally {
      running.shutdown();
    }
  }

  private static HttpResponse<String> send(HttpClient client, HttpRequest.Builder request)
      throws IOException, InterruptedException {
    return client.send(
        request.timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private static LatticeMain.Running awaitRunning(LatticeMain main, CompletableFuture<Integer> exit)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (main.running() == null) {
      assertThat(exit).as("the command ended early").isNotDone();
      assertThat(System.nanoTime()).as("server start").isLessThan(deadline);
      Thread.sleep(20);
    }
    return main.running();
  }

  private HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .timeout(Duration.ofSeconds(5))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }
}

package dev.lattice.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.client.ConnectionStatus.State;
import dev.lattice.protocol.CloseCodes;
import dev.lattice.server.JwtAuthenticator;
import dev.lattice.server.LatticeServer;
import dev.lattice.server.TestKeyStores;
import dev.lattice.server.auth.Tokens;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The SDK against a JWT-checking server on loopback: expiry, refusals, read-only and wss. */
class LatticeClientAuthIT {

  private static final long TIMEOUT_SECONDS = 15;

  private final List<AutoCloseable> closeables = new ArrayList<>();

  @TempDir Path dir;

  @AfterEach
  void closeAll() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  private LatticeServer server(LatticeServer.Builder builder) {
    LatticeServer server =
        builder
            .bindAddress("127.0.0.1")
            .port(0)
            .inMemory(true)
            .authenticator(
                JwtAuthenticator.builder().hmacSecret(Tokens.SECRET).leeway(Duration.ZERO).build())
            .build()
            .start();
    closeables.add(server);
    return server;
  }

  private LatticeClient client(LatticeClient.Builder builder) {
    LatticeClient client = builder.backoff(Duration.ofMillis(10), Duration.ofMillis(200)).build();
    closeables.add(client);
    return client;
  }

  private static String token(Instant exp, List<String> read, List<String> write) {
    return Tokens.hmac(Tokens.claims("alice", exp, read, write).build());
  }

  private static Instant inAnHour() {
    return Instant.now().plusSeconds(3600);
  }

  @Test
  void aTokenExpiringMidSessionIsReplacedAndSyncingGoesOn() throws Exception {
    LatticeServer server = server(LatticeServer.builder());
    AtomicInteger asked = new AtomicInteger();
    Supplier<String> tokens =
        () ->
            asked.incrementAndGet() == 1
                // 5 s: long enough for a slow first upgrade on a loaded machine (2 s timed out
                // once at load 16, and a 401 at the upgrade stops the client for good).
                ? token(Instant.now().plusSeconds(5), List.of(), List.of("*"))
                : token(inAnHour(), List.of(), List.of("*"));
    List<ConnectionStatus> statuses = new CopyOnWriteArrayList<>();
    CountDownLatch backOnline = new CountDownLatch(1);
    LatticeClient client =
        client(LatticeClient.builder().serverUri(server.uri()).credentials(tokens));
    client.onConnectionState(
        status -> {
          statuses.add(status);
          boolean expiredBefore =
              statuses.stream().anyMatch(s -> s.closeCode().orElse(0) == CloseCodes.TOKEN_EXPIRED);
          if (expiredBefore && status.state() == State.ONLINE) {
            backOnline.countDown();
          }
        });
    LatticeDocument doc = client.open("board");
    doc.counter("likes").increment(1);
    doc.flush().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);

    assertThat(backOnline.await(TIMEOUT_SECONDS, TimeUnit.SECONDS)).isTrue();
    doc.counter("likes").increment(1);
    doc.flush().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);

    assertThat(server.document("board").orElseThrow().counterValue("likes")).isEqualTo(2);
    assertThat(asked.get()).isGreaterThanOrEqualTo(2);
    // Reconnected without a failed attempt between: the fresh token was asked for right away.
    assertThat(statuses)
        .filteredOn(s -> s.closeCode().orElse(0) == CloseCodes.UNAUTHORIZED)
        .isEmpty();
  }

  @Test
  void aReadOnlyClientsEditFailsItsFlushWithForbiddenAndItStillReads() throws Exception {
    LatticeServer server = server(LatticeServer.builder());
    server.edit("board", e -> e.increment("likes", 1)).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    LatticeClient reader =
        client(
            LatticeClient.builder()
                .serverUri(server.uri())
                .credentials(() -> token(inAnHour(), List.of("board"), List.of())));
    LatticeDocument doc = reader.open("board");

    doc.counter("likes").increment(5);

    assertThatThrownBy(() -> doc.flush().get(TIMEOUT_SECONDS, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOfSatisfying(
            UpdateRejectedException.class, e -> assertThat(e.code()).isEqualTo(16));
    assertThat(server.document("board").orElseThrow().counterValue("likes")).isEqualTo(1);

    CountDownLatch seen = new CountDownLatch(1);
    doc.onChange(
        change -> {
          if (doc.counter("likes").value() == 3) {
            seen.countDown();
          }
        });
    server.edit("board", e -> e.increment("likes", 2)).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    assertThat(seen.await(TIMEOUT_SECONDS, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void refusedCredentialsStopTheClientWithTheStatus() throws Exception {
    LatticeServer server = server(LatticeServer.builder());
    AtomicInteger asked = new AtomicInteger();
    CountDownLatch offline = new CountDownLatch(1);
    List<ConnectionStatus> statuses = new CopyOnWriteArrayList<>();
    LatticeClient client =
        client(
            LatticeClient.builder()
                .serverUri(server.uri())
                .credentials(
                    () -> {
                      asked.incrementAndGet();
                      return "not-a-jwt";
                    }));
    client.onConnectionState(
        status -> {
          statuses.add(status);
          if (status.state() == State.FAILED) {
            offline.countDown();
          }
        });
    client.open("board");

    assertThat(offline.await(TIMEOUT_SECONDS, TimeUnit.SECONDS)).isTrue();
    // The token travels at the upgrade, so the refusal is the upgrade's HTTP 401.
    assertThat(client.connectionState().httpStatus()).hasValue(401);
    assertThat(asked).hasValue(1);
  }

  @Test
  void theClientSyncsOverWssWithATrustStore() throws Exception {
    Path keyStore = TestKeyStores.serverKeyStore(dir);
    LatticeServer server =
        server(LatticeServer.builder().tls(keyStore, TestKeyStores.PASSWORD.toCharArray()));
    LatticeClient client =
        client(
            LatticeClient.builder()
                .serverUri(server.uri())
                .sslContext(TestKeyStores.trusting(keyStore))
                .credentials(() -> token(inAnHour(), List.of(), List.of("*"))));
    LatticeDocument doc = client.open("board");
    doc.counter("likes").increment(1);
    doc.flush().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);

    assertThat(server.uri().getScheme()).isEqualTo("wss");
    assertThat(server.document("board").orElseThrow().counterValue("likes")).isEqualTo(1);
  }

  /**
   * A state directory copied from another user's holds edits under that user's replica id: the
   * server refuses the HELLO with 4008 (REPLICA_OWNED), and the client retires the id and delivers
   * the edits under a fresh one, so nothing is lost and nothing is attributed to the other user.
   */
  @Test
  void aCopiedStateDirectoryOfAnotherSubjectTakesAFreshReplicaAndLosesNothing() throws Exception {
    Path data = dir.resolve("data");
    java.util.function.Supplier<LatticeServer> durable =
        () -> {
          LatticeServer s =
              LatticeServer.builder()
                  .bindAddress("127.0.0.1")
                  .port(0)
                  .dataDirectory(data)
                  .authenticator(JwtAuthenticator.builder().hmacSecret(Tokens.SECRET).build())
                  .build()
                  .start();
          closeables.add(s);
          return s;
        };
    LatticeServer first = durable.get();
    Path aliceState = dir.resolve("alice");
    LatticeClient alice =
        client(
            LatticeClient.builder()
                .serverUri(first.uri())
                .stateDirectory(aliceState)
                .credentials(() -> token(inAnHour(), List.of(), List.of("*"))));
    dev.lattice.crdt.ReplicaId alicesReplica = alice.replicaId();
    LatticeDocument aliceDoc = alice.open("board");
    aliceDoc.counter("likes").increment(1);
    aliceDoc.flush().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    first.close();
    aliceDoc.counter("likes").increment(2); // offline: stays in alice's outbox
    alice.close();
    Path copied = dir.resolve("copied");
    try (java.util.stream.Stream<Path> files = java.nio.file.Files.walk(aliceState)) {
      for (Path from : (Iterable<Path>) files::iterator) {
        java.nio.file.Files.copy(from, copied.resolve(aliceState.relativize(from).toString()));
      }
    }

    LatticeServer second = durable.get();
    List<ConnectionStatus> statuses = new CopyOnWriteArrayList<>();
    LatticeClient bob =
        client(
            LatticeClient.builder()
                .serverUri(second.uri())
                .stateDirectory(copied)
                .credentials(
                    () ->
                        Tokens.hmac(
                            Tokens.claims("bob", inAnHour(), List.of(), List.of("*")).build())));
    bob.onConnectionState(statuses::add);
    LatticeDocument bobDoc = bob.open("board");
    bobDoc.flush().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);

    assertThat(second.document("board").orElseThrow().counterValue("likes")).isEqualTo(3);
    assertThat(bob.replicaId()).isNotEqualTo(alicesReplica);
    assertThat(statuses).anyMatch(st -> st.closeCode().orElse(0) == CloseCodes.REPLICA_OWNED);
    assertThat(second.document("board").orElseThrow().versionVector().get(alicesReplica))
        .as("bob's edit is not alice's")
        .isEqualTo(1);
  }
}

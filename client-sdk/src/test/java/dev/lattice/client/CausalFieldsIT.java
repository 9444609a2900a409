package dev.lattice.client;

import static dev.lattice.client.Awaits.awaitState;
import static dev.lattice.client.Awaits.awaitValue;
import static dev.lattice.client.Awaits.get;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.client.ConnectionStatus.State;
import dev.lattice.crdt.Value;
import dev.lattice.server.LatticeServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two SDK clients edit sets, multi-value registers and one map key against an in-process server:
 * concurrently while the server is down (both offline), then converge once it is back.
 */
class CausalFieldsIT {

  private final List<AutoCloseable> closeables = new ArrayList<>();

  @TempDir Path dataDir;

  @AfterEach
  void closeAll() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  private LatticeServer server(int port) {
    LatticeServer server =
        LatticeServer.builder()
            .bindAddress("127.0.0.1")
            .port(port)
            .dataDirectory(dataDir)
            .build()
            .start();
    closeables.add(server);
    return server;
  }

  private LatticeClient client(LatticeServer server) {
    LatticeClient client =
        LatticeClient.builder()
            .serverUri(server.uri())
            .backoff(Duration.ofMillis(10), Duration.ofMillis(200))
            .build();
    closeables.add(client);
    return client;
  }

  private static CountDownLatch lostConnection(LatticeClient client) {
    CountDownLatch lost = new CountDownLatch(2);
    client.onConnectionState(
        s -> {
          if (s.state() == State.CONNECTING && s.closeCode().isPresent()) {
            lost.countDown();
          }
        });
    return lost;
  }

  @Test
  void concurrentOfflineAddsAndRemovesConvergeAddWinsAfterReconnect() throws Exception {
    LatticeServer first = server(0);
    int port = first.port();
    LatticeClient alice = client(first);
    LatticeClient bob = client(first);
    LatticeDocument a = alice.open("board");
    LatticeDocument b = bob.open("board");
    List<UpdateRejectedException> refusals = new java.util.concurrent.CopyOnWriteArrayList<>();
    a.onRejected(refusals::add);
    b.onRejected(refusals::add);

    a.set("tags").add(Value.of("x"));
    a.set("tags").add(Value.of("gone"));
    a.map("card").set("labels").add(Value.of("a1"));
    get(a.flush());
    awaitValue(b, () -> b.set("tags").elements(), Set.of(Value.of("gone"), Value.of("x")));
    // A remote change says which elements arrived.
    CompletableFuture<FieldChange> remote = new CompletableFuture<>();
    b.onFieldChange("tags", e -> remote.complete(e.change("tags").orElseThrow()));
    a.set("tags").add(Value.of("seen"));
    assertThat(get(remote).added()).containsExactly(Value.of("seen"));
    assertThat(b.map("card").set("labels").elements()).containsExactly(Value.of("a1"));

    CountDownLatch aliceLost = lostConnection(alice);
    CountDownLatch bobLost = lostConnection(bob);
    first.close();
    assertThat(aliceLost.await(Awaits.TIMEOUT_SECONDS, TimeUnit.SECONDS)).isTrue();
    assertThat(bobLost.await(Awaits.TIMEOUT_SECONDS, TimeUnit.SECONDS)).isTrue();

    // Offline and concurrent: Alice removes x and "gone"; Bob adds x again and removes nothing.
    a.set("tags").remove(Value.of("x"));
    a.set("tags").remove(Value.of("gone"));
    b.set("tags").add(Value.of("x"));
    b.set("tags").add(Value.of("y"));
    // Both write one key of one map, and both write the MV-Register.
    a.map("card").set("labels").add(Value.of("a2"));
    b.map("card").set("labels").remove(Value.of("a1"));
    b.map("card").set("labels").add(Value.of("b1"));
    a.mvRegister("status").write(Value.of("open"));
    b.mvRegister("status").write(Value.of("closed"));
    CompletableFuture<Void> aFlushed = a.flush();
    CompletableFuture<Void> bFlushed = b.flush();
    assertThat(a.pendingChanges()).isPositive();

    LatticeServer second = server(port);
    get(aFlushed);
    get(bFlushed);
    awaitState(alice, State.ONLINE);
    awaitState(bob, State.ONLINE);
    Set<Value> tags = Set.of(Value.of("seen"), Value.of("x"), Value.of("y"));
    Set<Value> labels = Set.of(Value.of("a2"), Value.of("b1"));
    Set<Value> status = Set.of(Value.of("closed"), Value.of("open"));
    for (LatticeDocument doc : List.of(a, b)) {
      awaitValue(doc, () -> doc.set("tags").elements(), tags);
      awaitValue(doc, () -> doc.map("card").set("labels").elements(), labels);
      awaitValue(doc, () -> doc.mvRegister("status").values(), status);
    }
    // A third client catches up with the same state from the restarted server.
    LatticeDocument c = client(second).open("board");
    get(c.synced());
    assertThat(c.set("tags").elements()).isEqualTo(tags);
    assertThat(c.map("card").set("labels").elements()).isEqualTo(labels);
    assertThat(c.mvRegister("status").values()).isEqualTo(status);
    assertThat(refusals).isEmpty();
  }
}

package dev.lattice.client;

import static dev.lattice.client.Awaits.awaitState;
import static dev.lattice.client.Awaits.get;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.client.ConnectionStatus.State;
import dev.lattice.crdt.Value;
import dev.lattice.server.LatticeServer;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link LatticeDocument#synced()} and the typed reads of {@link RegisterField}, end to end. */
class FirstSyncAndTypedReadsTest {

  private LatticeServer server;

  @BeforeEach
  void startServer() {
    server =
        LatticeServer.builder().bindAddress("127.0.0.1").port(0).inMemory(true).build().start();
  }

  @AfterEach
  void stopServer() {
    server.close();
  }

  private LatticeClient client(URI uri) {
    return LatticeClient.builder()
        .serverUri(uri)
        .backoff(Duration.ofMillis(10), Duration.ofMillis(200))
        .build();
  }

  @Test
  void syncedCompletesOnceTheServersStateIsLocal() throws Exception {
    try (LatticeClient writer = client(server.uri())) {
      LatticeDocument w = writer.open("board");
      w.counter("likes").increment(3);
      w.register("title").set(Value.of("Roadmap"));
      get(w.flush());
    }
    try (LatticeClient reader = client(server.uri())) {
      LatticeDocument r = reader.open("board");
      // No polling: once the future completes, what the server held is readable locally.
      r.synced().get(10, TimeUnit.SECONDS);
      assertThat(r.counter("likes").value()).isEqualTo(3);
      assertThat(r.register("title").asString()).hasValue("Roadmap");
      // Later calls see it done at once.
      assertThat(r.synced()).isCompleted();
    }
  }

  @Test
  void syncedCannotBeCompletedByTheApplication() throws Exception {
    try (LatticeClient reader = client(server.uri())) {
      LatticeDocument r = reader.open("board");
      r.synced().complete(null); // completes the caller's copy only
      r.synced().get(10, TimeUnit.SECONDS);
      assertThat(r.synced()).isCompleted();
    }
  }

  @Test
  void syncedFailsWhenTheClientClosesBeforeAnySync() throws Exception {
    URI nobody = server.uri();
    server.close(); // nothing listens there any more
    LatticeClient client = client(nobody);
    LatticeDocument doc = client.open("board");
    var synced = doc.synced();
    client.close();
    assertThatThrownBy(() -> synced.get(10, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("board");
  }

  @Test
  void typedReadsReturnEachKindAndEmptyWhenUnset() throws Exception {
    try (LatticeClient client = client(server.uri())) {
      awaitState(client, State.ONLINE);
      LatticeDocument doc = client.open("typed");
      doc.register("s").set(Value.of("text"));
      doc.register("l").set(Value.of(42L));
      doc.register("d").set(Value.of(2.5));
      doc.register("b").set(Value.of(true));
      doc.register("bin").set(Value.of(new byte[] {1, 2, 3}));

      assertThat(doc.register("s").asString()).hasValue("text");
      assertThat(doc.register("l").asLong()).hasValue(42L);
      assertThat(doc.register("d").asDouble()).hasValue(2.5);
      assertThat(doc.register("b").asBoolean()).hasValue(true);
      assertThat(doc.register("bin").asBytes())
          .hasValueSatisfying(bytes -> assertThat(bytes).containsExactly(1, 2, 3));
      assertThat(doc.register("never-written").asString()).isEmpty();
      assertThat(doc.register("never-written").asLong()).isEmpty();
    }
  }

  @Test
  void aTypedReadOfAnotherKindNamesBothKindsAndConvertsNothing() throws Exception {
    try (LatticeClient client = client(server.uri())) {
      LatticeDocument doc = client.open("typed");
      doc.register("count").set(Value.of(7L));
      assertThatThrownBy(() -> doc.register("count").asString())
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("register 'count'")
          .hasMessageContaining("an integer (7)")
          .hasMessageContaining("not a string");
      // No silent widening either: an integer is not a float.
      assertThatThrownBy(() -> doc.register("count").asDouble())
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("not a float");
    }
  }
}

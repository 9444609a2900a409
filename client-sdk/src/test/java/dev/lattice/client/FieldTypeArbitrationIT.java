package dev.lattice.client;

import static dev.lattice.client.Awaits.awaitValue;
import static dev.lattice.client.Awaits.get;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Value;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.server.LatticeServer;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two replicas create one field name (and one key of one map) with different types: the first type
 * the server makes durable wins, the other replica's edit of the field is refused with
 * FIELD_TYPE_MISMATCH, and that replica adopts the server's type (reported through onRejected),
 * keeps its other edits, and goes on editing without a refusal loop.
 */
class FieldTypeArbitrationIT {

  private final List<AutoCloseable> closeables = new ArrayList<>();

  @TempDir Path stateDir;

  @AfterEach
  void closeAll() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  private LatticeClient client(URI uri, Path state) {
    LatticeClient.Builder b =
        LatticeClient.builder()
            .serverUri(uri)
            .backoff(Duration.ofMillis(10), Duration.ofMillis(200));
    LatticeClient client = (state == null ? b : b.stateDirectory(state)).build();
    closeables.add(client);
    return client;
  }

  @Test
  void theFirstDurableTypeWinsAndTheLoserAdoptsItWithoutALoop() throws Exception {
    LatticeServer server =
        LatticeServer.builder().bindAddress("127.0.0.1").port(0).inMemory(true).build().start();
    closeables.add(server);
    URI nowhere;
    try (LatticeServer probe =
        LatticeServer.builder().bindAddress("127.0.0.1").port(0).inMemory(true).build().start()) {
      nowhere = probe.uri();
    }

    // Bob, offline, makes "f" a set and edits another field in the same outbox.
    LatticeClient bobOffline = client(nowhere, stateDir);
    LatticeDocument offline = bobOffline.open("doc");
    offline.set("f").add(Value.of("x"));
    offline.counter("other").increment(2);
    offline.set("f").add(Value.of("y"));
    offline.map("card").counter("k").increment(1);
    bobOffline.close();

    // Meanwhile Alice makes "f" a counter, and the server makes it durable first.
    LatticeDocument a = client(server.uri(), null).open("doc");
    a.counter("f").increment(5);
    a.map("card").set("k").add(Value.of("x"));
    get(a.flush());

    LatticeClient bob = client(server.uri(), stateDir);
    LatticeDocument b = bob.open("doc");
    List<UpdateRejectedException> refusals = new CopyOnWriteArrayList<>();
    b.onRejected(refusals::add);
    CompletableFuture<Void> flushed = b.flush();
    try {
      flushed.get(Awaits.TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      assertThat(e.getCause()).isInstanceOf(UpdateRejectedException.class);
      assertThat(((UpdateRejectedException) e.getCause()).errorCode())
          .contains(ErrorCode.FIELD_TYPE_MISMATCH);
    }
    // Bob's field is the server's counter now, his other edit went through, nothing is pending.
    awaitValue(
        b, () -> b.snapshot().field("f").map(f -> f.type()).orElse(null), CrdtType.G_COUNTER);
    awaitValue(b, () -> b.counter("f").value(), 5L);
    // A map key is arbitrated the same way.
    awaitValue(b, () -> b.map("card").set("k").elements(), java.util.Set.of(Value.of("x")));
    awaitValue(a, () -> a.counter("other").value(), 2L);
    awaitValue(b, b::pendingChanges, 0);
    assertThat(refusals).isNotEmpty();
    assertThat(refusals)
        .allSatisfy(r -> assertThat(r.errorCode()).contains(ErrorCode.FIELD_TYPE_MISMATCH));
    int refusalsSoFar = refusals.size();

    // He edits the field as what it is now: accepted, no further refusal.
    b.counter("f").increment(1);
    get(b.flush());
    awaitValue(a, () -> a.counter("f").value(), 6L);
    assertThat(refusals).hasSize(refusalsSoFar);
    assertThat(a.snapshot().field("f").orElseThrow().type()).isEqualTo(CrdtType.G_COUNTER);
  }
}

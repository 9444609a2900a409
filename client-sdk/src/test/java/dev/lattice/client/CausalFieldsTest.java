package dev.lattice.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.FieldTypeMismatchException;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.Value;
import dev.lattice.server.LatticeServer;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The set, multi-value register and map handles of one client, offline: local reads, nested
 * handles, change events that say what changed, and edits kept in the state directory's outbox.
 */
class CausalFieldsTest {

  @TempDir Path stateDir;

  /** A port where nothing listens now. */
  private static URI nowhere() {
    try (LatticeServer probe =
        LatticeServer.builder().bindAddress("127.0.0.1").port(0).inMemory(true).build().start()) {
      return probe.uri();
    }
  }

  private static LatticeClient offline(URI uri, Path state) {
    return LatticeClient.builder()
        .serverUri(uri)
        .stateDirectory(state)
        .backoff(Duration.ofMillis(50), Duration.ofMillis(500))
        .build();
  }

  /**
   * An add to a set inside a map travels as that one element (a single-leaf entry), not as its
   * writer's whole part of the set: adds whose elements sum past the server's largest frame (here
   * the protocol's default, 1 MiB) are all taken. An edit whose own delta cannot fit a frame is
   * still refused like a top-level edit that cannot, with nothing applied.
   */
  @Test
  void aMapEditSendsItsOwnElementAndOneThatCannotFitAFrameIsRefused() throws Exception {
    try (LatticeClient client = offline(nowhere(), stateDir)) {
      LatticeDocument doc = client.open("card");
      SetField files = doc.map("meta").set("files");
      String chunk = "x".repeat(250_000);
      for (int i = 0; i < 6; i++) {
        files.add(Value.of(chunk + i));
      }
      assertThat(files.size()).isEqualTo(6);
      int pending = doc.pendingChanges();
      assertThatThrownBy(() -> files.add(Value.of("y".repeat(1_048_570))))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("maxFrameBytes")
          .hasMessageContaining("meta.files");
      assertThat(files.size()).isEqualTo(6);
      assertThat(doc.pendingChanges()).isEqualTo(pending);
      doc.map("meta").counter("n").increment();
      assertThat(doc.map("meta").counter("n").value()).isEqualTo(1);
    }
  }

  @Test
  void handlesReadTheirEditsAndEventsSayWhatChanged() throws Exception {
    URI uri = nowhere();
    try (LatticeClient client = offline(uri, stateDir)) {
      LatticeDocument doc = client.open("card");
      List<ChangeEvent> events = new CopyOnWriteArrayList<>();
      Semaphore delivered = new Semaphore(0);
      doc.onChange(
          e -> {
            events.add(e);
            delivered.release();
          });

      SetField tags = doc.set("tags");
      tags.add(Value.of("red"));
      tags.add(Value.of("blue"));
      tags.remove(Value.of("red"));
      tags.remove(Value.of("absent"));
      assertThat(tags.elements()).containsExactly(Value.of("blue"));
      assertThat(tags.contains(Value.of("red"))).isFalse();
      assertThat(tags.size()).isEqualTo(1);

      MVRegisterField status = doc.mvRegister("status");
      status.write(Value.of("open"));
      status.write(Value.of("done"));
      assertThat(status.values()).containsExactly(Value.of("done"));

      MapField meta = doc.map("meta");
      meta.counter("votes").increment(2);
      meta.register("owner").set(Value.of("ann"));
      meta.set("labels").add(Value.of("bug"));
      meta.map("deep").mvRegister("x").write(Value.of(1L));
      meta.remove("owner");
      assertThat(meta.keys()).containsExactly("deep", "labels", "votes");
      assertThat(meta.counter("votes").value()).isEqualTo(2);
      assertThat(meta.register("owner").get()).isEmpty();
      assertThat(meta.set("labels").elements()).containsExactly(Value.of("bug"));
      assertThat(meta.map("deep").mvRegister("x").values()).containsExactly(Value.of(1L));
      assertThat(meta.get("votes")).containsInstanceOf(GCounter.class);
      assertThatThrownBy(() -> meta.register("votes").set(Value.of(1L)))
          .isInstanceOf(FieldTypeMismatchException.class);
      assertThatThrownBy(() -> doc.counter("tags").increment())
          .isInstanceOf(FieldTypeMismatchException.class);

      assertThat(delivered.tryAcquire(11, Awaits.TIMEOUT_SECONDS, TimeUnit.SECONDS)).isTrue();
      assertThat(events)
          .allSatisfy(e -> assertThat(e.origin()).isEqualTo(ChangeEvent.Origin.LOCAL));
      assertThat(events.get(0).change("tags").orElseThrow().added())
          .containsExactly(Value.of("red"));
      assertThat(events.get(2).change("tags").orElseThrow().removed())
          .containsExactly(Value.of("red"));
      assertThat(events.get(5).change("status").orElseThrow().added())
          .containsExactly(Value.of("done"));
      assertThat(events.get(5).change("status").orElseThrow().removed())
          .containsExactly(Value.of("open"));
      assertThat(events.get(6).change("meta").orElseThrow().addedKeys()).containsExactly("votes");
      assertThat(events.get(8).change("meta").orElseThrow().addedKeys()).containsExactly("labels");
      assertThat(events.get(10).change("meta").orElseThrow().removedKeys())
          .containsExactly("owner");
      // An edit of a nested value reports its key as updated.
      meta.counter("votes").increment();
      assertThat(delivered.tryAcquire(1, Awaits.TIMEOUT_SECONDS, TimeUnit.SECONDS)).isTrue();
      assertThat(events.get(11).change("meta").orElseThrow().updatedKeys())
          .containsExactly("votes");
      assertThat(doc.pendingChanges()).isEqualTo(12);
    }

    // The edits are in the state directory: a restarted client still has them, pending.
    try (LatticeClient again = offline(uri, stateDir)) {
      LatticeDocument doc = again.open("card");
      assertThat(doc.set("tags").elements()).containsExactly(Value.of("blue"));
      assertThat(doc.mvRegister("status").values()).containsExactly(Value.of("done"));
      assertThat(doc.map("meta").counter("votes").value()).isEqualTo(3);
      assertThat(doc.map("meta").map("deep").mvRegister("x").values())
          .containsExactly(Value.of(1L));
      assertThat(doc.pendingChanges()).isPositive();
    }
  }
}

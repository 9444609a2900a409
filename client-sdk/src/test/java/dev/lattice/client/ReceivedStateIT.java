package dev.lattice.client;

import static dev.lattice.client.Awaits.awaitValue;
import static dev.lattice.client.Awaits.get;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.client.internal.FileLocalState;
import dev.lattice.crdt.Value;
import dev.lattice.server.LatticeServer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client that only reads keeps what it received in its state directory (issue 11, bug 4):
 * restarted with the server down, closed cleanly or killed, it still shows the document.
 */
class ReceivedStateIT {

  private static final long TIMEOUT_SECONDS = 30;

  @TempDir Path tmp;

  private static LatticeServer server() {
    return LatticeServer.builder().bindAddress("127.0.0.1").port(0).inMemory(true).build().start();
  }

  private static void write(LatticeServer server, String title) throws Exception {
    try (LatticeClient writer = LatticeClient.builder().serverUri(server.uri()).build()) {
      LatticeDocument doc = writer.open("doc");
      doc.counter("views").increment(3);
      doc.register("title").set(Value.of(title));
      get(doc.flush());
    }
  }

  private static LatticeClient offline(URI uri, Path state) {
    return LatticeClient.builder()
        .serverUri(uri)
        .stateDirectory(state)
        .backoff(Duration.ofSeconds(5), Duration.ofSeconds(10))
        .build();
  }

  @Test
  void aReaderClosedAndReopenedWithTheServerDownStillShowsWhatItReceived() throws Exception {
    Path state = tmp.resolve("state");
    URI uri;
    try (LatticeServer server = server()) {
      uri = server.uri();
      write(server, "received");
      try (LatticeClient reader =
          LatticeClient.builder().serverUri(uri).stateDirectory(state).build()) {
        LatticeDocument doc = reader.open("doc");
        awaitValue(doc, () -> doc.register("title").get(), Optional.of(Value.of("received")));
      }
    }

    try (LatticeClient reopened = offline(uri, state)) {
      LatticeDocument doc = reopened.open("doc");
      assertThat(doc.register("title").get()).contains(Value.of("received"));
      assertThat(doc.counter("views").value()).isEqualTo(3);
    }
  }

  @Test
  void aKilledReaderReopenedWithTheServerDownStillShowsWhatItReceived() throws Exception {
    Path state = tmp.resolve("state");
    Path snapshot =
        state
            .resolve(FileLocalState.DOCUMENTS_DIR)
            .resolve(
                FileLocalState.fileStem("doc".getBytes(StandardCharsets.UTF_8))
                    + FileLocalState.SNAPSHOT_SUFFIX);
    URI uri;
    try (LatticeServer server = server()) {
      uri = server.uri();
      write(server, "received before the kill");
      try (ChildJvm child =
          new ChildJvm(
              ReaderChild.class,
              tmp.resolve("child.err"),
              uri.toString(),
              state.toString(),
              "received before the kill")) {
        assertThat(child.next()).isEqualTo("SEEN");
        // The checkpoint of received state is batched (at most a second late): wait for it, not
        // for a fixed time. Before the fix it never came.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
        while (!Files.exists(snapshot)) {
          assertThat(System.nanoTime()).as("checkpoint of received state").isLessThan(deadline);
          Thread.sleep(20);
        }
        child.kill();
      }
    }

    try (LatticeClient reopened = offline(uri, state)) {
      LatticeDocument doc = reopened.open("doc");
      assertThat(doc.register("title").get()).contains(Value.of("received before the kill"));
      assertThat(doc.counter("views").value()).isEqualTo(3);
    }
  }
}

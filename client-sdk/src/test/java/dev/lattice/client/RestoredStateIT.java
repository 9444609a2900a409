package dev.lattice.client;

import static dev.lattice.client.Awaits.awaitValue;
import static dev.lattice.client.Awaits.get;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.server.LatticeServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 11 bug 1 (the Riak kv679 problem): a client whose state directory is restored from a backup
 * must not reuse (replica, sequence) pairs the server already holds, or the server takes its new
 * edits for duplicates and they are lost while {@code flush()} succeeds.
 */
class RestoredStateIT {

  @TempDir Path state;
  @TempDir Path backup;

  private static LatticeClient client(LatticeServer server, Path dir) {
    return LatticeClient.builder()
        .serverUri(server.uri())
        .stateDirectory(dir)
        .backoff(Duration.ofMillis(10), Duration.ofMillis(200))
        .build();
  }

  private static void increment(LatticeClient client, int times) throws Exception {
    LatticeDocument doc = client.open("board");
    for (int i = 0; i < times; i++) {
      doc.counter("likes").increment(1);
    }
    get(doc.flush());
  }

  @Test
  void aRestoredStateDirectoryLosesNoAcknowledgedIncrement() throws Exception {
    try (LatticeServer server =
        LatticeServer.builder().bindAddress("127.0.0.1").port(0).inMemory(true).build().start()) {
      try (LatticeClient first = client(server, state)) {
        increment(first, 50);
        copy(state, backup); // the backup: 50 increments, all acknowledged
        increment(first, 50);
      }
      assertThat(server.document("board").orElseThrow().counterValue("likes")).isEqualTo(100);

      deleteTree(state);
      copy(backup, state);
      try (LatticeClient restored = client(server, state)) {
        LatticeDocument doc = restored.open("board");
        for (int i = 0; i < 50; i++) {
          doc.counter("likes").increment(1);
        }
        get(doc.flush());
        assertThat(server.document("board").orElseThrow().counterValue("likes"))
            .as("every acknowledged increment, none taken for a duplicate")
            .isEqualTo(150);
        awaitValue(doc, () -> doc.counter("likes").value(), 150L);
      }

      try (LatticeClient other =
          LatticeClient.builder()
              .serverUri(server.uri())
              .backoff(Duration.ofMillis(10), Duration.ofMillis(200))
              .build()) {
        LatticeDocument seen = other.open("board");
        awaitValue(seen, () -> seen.counter("likes").value(), 150L);
      }
    }
  }

  private static void copy(Path from, Path to) throws IOException {
    try (Stream<Path> paths = Files.walk(from)) {
      for (Path p : paths.sorted().toList()) {
        if (p.getFileName().toString().equals(FileLocalState.LOCK_FILE)) {
          continue;
        }
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> paths = Files.walk(dir)) {
      List<Path> all = paths.sorted(Comparator.reverseOrder()).toList();
      for (Path p : all) {
        if (!p.equals(dir)) {
          Files.delete(p);
        }
      }
    }
  }
}

package dev.lattice.client;

import static dev.lattice.client.Awaits.awaitValue;
import static dev.lattice.client.Awaits.get;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.client.internal.FileLocalState;
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

  /** A server that is never there: a client pointed at it edits offline. */
  private static final java.net.URI NOWHERE = java.net.URI.create("ws://127.0.0.1:1/v1/sync");

  private static LatticeClient offline(Path dir) {
    return LatticeClient.builder()
        .serverUri(NOWHERE)
        .stateDirectory(dir)
        .backoff(Duration.ofMillis(50), Duration.ofMillis(200))
        .build();
  }

  /**
   * Edits {@code field} offline, {@code times} increments of 1, left in the stored outbox. The
   * client is closed before it could ever reach a server.
   */
  private static void incrementOffline(Path dir, String field, int times) {
    try (LatticeClient client = offline(dir)) {
      LatticeDocument doc = client.open("board");
      for (int i = 0; i < times; i++) {
        doc.counter(field).increment(1);
      }
    }
  }

  /**
   * A backup taken while 20 increments waited in the outbox; the lost history then delivered them
   * and 30 more. The restored copy makes new edits of another field offline, before it ever syncs:
   * they once took the sequences the server holds for the lost 30, so the server refused the whole
   * resend (the held 20 and the new ones) as reused, and the client made the held 20 again.
   */
  @Test
  void aRestoredOutboxTheServerHoldsIsNotCountedTwiceBesideNewEdits() throws Exception {
    incrementOffline(state, "likes", 20);
    copy(state, backup);
    try (LatticeServer server =
        LatticeServer.builder().bindAddress("127.0.0.1").port(0).inMemory(true).build().start()) {
      try (LatticeClient first = client(server, state)) {
        get(first.open("board").flush());
        increment(first, 30);
      }
      assertThat(server.document("board").orElseThrow().counterValue("likes")).isEqualTo(50);

      deleteTree(state);
      copy(backup, state);
      incrementOffline(state, "shares", 10);
      try (LatticeClient restored = client(server, state)) {
        LatticeDocument doc = restored.open("board");
        get(doc.flush());
        assertThat(server.document("board").orElseThrow().counterValue("likes"))
            .as("the 20 restored increments the server holds, not made again")
            .isEqualTo(50);
        assertThat(server.document("board").orElseThrow().counterValue("shares")).isEqualTo(10);
        awaitValue(doc, () -> doc.counter("likes").value(), 50L);
        awaitValue(doc, () -> doc.counter("shares").value(), 10L);
      }
    }
  }

  /**
   * The same backup, but the new offline edits are as many +1s of the same field as the lost
   * history made after it: they once reused its sequences with identical content, so the server
   * acknowledged them as duplicates and they were lost.
   */
  @Test
  void newOfflineEditsIdenticalToTheLostHistoryAreNotTakenForDuplicates() throws Exception {
    incrementOffline(state, "likes", 20);
    copy(state, backup);
    try (LatticeServer server =
        LatticeServer.builder().bindAddress("127.0.0.1").port(0).inMemory(true).build().start()) {
      try (LatticeClient first = client(server, state)) {
        get(first.open("board").flush());
        increment(first, 30);
      }
      deleteTree(state);
      copy(backup, state);
      incrementOffline(state, "likes", 30);
      try (LatticeClient restored = client(server, state)) {
        LatticeDocument doc = restored.open("board");
        get(doc.flush());
        assertThat(server.document("board").orElseThrow().counterValue("likes"))
            .as("50 delivered before the restore, 30 made after it")
            .isEqualTo(80);
        awaitValue(doc, () -> doc.counter("likes").value(), 80L);
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

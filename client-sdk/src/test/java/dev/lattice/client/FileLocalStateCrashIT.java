package dev.lattice.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.client.LocalState.OutboxEntry;
import dev.lattice.client.LocalState.StoredDocument;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.ReplicaId;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills (SIGKILL) a child JVM that is appending to, or checkpointing, a state directory, then
 * checks that the directory loads and holds every entry whose append returned in the child.
 */
class FileLocalStateCrashIT {

  @TempDir Path tmp;

  /** A child JVM and the lines it printed, read by a thread of its own until its stdout closes. */
  private static final class Child implements AutoCloseable {
    final Process process;
    final Path stderr;
    final LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
    final List<String> seen = new ArrayList<>();
    final Thread reader;

    Child(String mode, Path stateDir, Path stderr) throws IOException {
      this.stderr = stderr;
      String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
      this.process =
          new ProcessBuilder(
                  java,
                  "-XX:TieredStopAtLevel=1",
                  "-cp",
                  System.getProperty("java.class.path"),
                  FileLocalStateCrashChild.class.getName(),
                  mode,
                  stateDir.toString())
              .redirectError(stderr.toFile())
              .start();
      this.reader =
          new Thread(
              () -> {
                try (BufferedReader in =
                    new BufferedReader(
                        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                  for (String line; (line = in.readLine()) != null; ) {
                    lines.add(line);
                  }
                } catch (IOException e) {
                  lines.add("error reading child: " + e);
                }
                lines.add("<eof>");
              },
              "crash-child-reader");
      reader.setDaemon(true);
      reader.start();
    }

    /** The next line, failing after a timeout or at the child's end. */
    String next() throws Exception {
      String line = lines.poll(60, TimeUnit.SECONDS);
      assertThat(line)
          .as("child's next line (child stderr: %s)", Files.readString(stderr))
          .isNotNull()
          .isNotEqualTo("<eof>")
          .doesNotStartWith("error");
      seen.add(line);
      return line;
    }

    /** Reads until {@code count} lines starting with {@code prefix} have been seen. */
    void awaitLines(String prefix, int count) throws Exception {
      while (seen.stream().filter(l -> l.startsWith(prefix)).count() < count) {
        assertThat(next()).as("child still running").isNotEqualTo("finished");
      }
    }

    /** Kills the child and collects what it printed before it died. */
    List<String> kill() throws Exception {
      process.destroyForcibly();
      assertThat(process.waitFor(30, TimeUnit.SECONDS)).as("child exited").isTrue();
      reader.join(TimeUnit.SECONDS.toMillis(30));
      for (String line; (line = lines.poll()) != null && !line.equals("<eof>"); ) {
        seen.add(line);
      }
      return seen;
    }

    @Override
    public void close() {
      process.destroyForcibly();
    }
  }

  private static List<Long> numbers(List<String> lines, String prefix) {
    return lines.stream()
        .filter(l -> l.startsWith(prefix + " "))
        .map(l -> Long.parseLong(l.substring(prefix.length() + 1)))
        .toList();
  }

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void everyReturnedAppendSurvivesKillMinus9() throws Exception {
    Path stateDir = tmp.resolve("state");
    List<String> lines;
    ReplicaId replicaId;
    try (Child child = new Child("append", stateDir, tmp.resolve("stderr.txt"))) {
      replicaId = ReplicaId.parse(child.next().substring("ready ".length()));
      // The child holds the directory: another process cannot have it.
      assertThatThrownBy(() -> FileLocalState.open(stateDir))
          .isInstanceOf(LocalStateException.class)
          .hasMessageContaining("another client holds");
      child.awaitLines("appended", 300);
      lines = child.kill();
    }
    List<Long> appended = numbers(lines, "appended");
    assertThat(appended).hasSizeGreaterThanOrEqualTo(300);
    assertThat(lines).doesNotContain("finished");

    try (FileLocalState state = FileLocalState.open(stateDir)) {
      assertThat(state.replicaId()).isEqualTo(replicaId);
      StoredDocument stored = state.load(FileLocalStateCrashChild.DOCUMENT).orElseThrow();
      List<Long> outbox = stored.outbox().stream().map(OutboxEntry::entryId).toList();
      // Every printed entry, in order; at most one more whose append finished unprinted.
      assertThat(outbox.subList(0, appended.size())).isEqualTo(appended);
      assertThat(outbox.size()).isBetween(appended.size(), appended.size() + 1);
      assertThat(stored.replica().counterValue("n")).isEqualTo(outbox.size());
    }
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void aRefusedSecondOpenInThisProcessKeepsOtherProcessesOut() throws Exception {
    Path stateDir = tmp.resolve("state");
    try (FileLocalState holder = FileLocalState.open(stateDir)) {
      assertThatThrownBy(() -> FileLocalState.open(stateDir))
          .isInstanceOf(LocalStateException.class)
          .hasMessageContaining("another client holds");
      // POSIX drops a process's locks on a file when any channel to it closes; the refused open
      // must not have opened (and closed) one.
      try (Child probe = new Child("probe", stateDir, tmp.resolve("stderr-probe.txt"))) {
        assertThat(probe.next()).startsWith("refused ").contains("another client holds");
        probe.kill();
      }
    }
    try (Child probe = new Child("probe", stateDir, tmp.resolve("stderr-probe2.txt"))) {
      assertThat(probe.next()).startsWith("opened ");
      probe.kill();
    }
  }

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void killDuringCheckpointsLeavesALoadableStateWithEveryUndoneEntry() throws Exception {
    Path stateDir = tmp.resolve("state");
    List<Long> appended = new ArrayList<>();
    long doneUpTo = 0; // the highest id any started checkpoint may have forgotten
    ReplicaId replicaId = null;
    for (int round = 0; round < 3; round++) {
      List<String> lines;
      try (Child child =
          new Child("checkpoint", stateDir, tmp.resolve("stderr-" + round + ".txt"))) {
        ReplicaId id = ReplicaId.parse(child.next().substring("ready ".length()));
        if (replicaId != null) {
          assertThat(id).as("replica id kept across crashes").isEqualTo(replicaId);
        }
        replicaId = id;
        // Kill at a different point of the append/checkpoint cycle each round.
        child.awaitLines("checkpointed", 20 + 7 * round);
        if (round == 1) {
          child.awaitLines("checkpointing", 20 + 7 * round + 1);
        }
        lines = child.kill();
      }
      appended.addAll(numbers(lines, "appended"));
      doneUpTo =
          Math.max(
              doneUpTo,
              numbers(lines, "checkpointing").stream().mapToLong(Long::longValue).max().orElse(0));

      try (FileLocalState state = FileLocalState.open(stateDir)) {
        StoredDocument stored = state.load(FileLocalStateCrashChild.DOCUMENT).orElseThrow();
        List<Long> outbox = stored.outbox().stream().map(OutboxEntry::entryId).toList();
        long lastPrinted = appended.get(appended.size() - 1);
        final long forgettable = doneUpTo;
        assertThat(outbox)
            .as("round %d: every entry no checkpoint was told is done", round)
            .containsAll(appended.stream().filter(e -> e > forgettable).toList());
        assertThat(outbox).isSorted().allMatch(e -> e <= lastPrinted + 1);
        // The replica holds every printed edit, under the same replica id, with no gap: the next
        // edit cannot reuse a sequence number.
        for (long entry : appended) {
          assertThat(stored.replica().contains(new Dot(replicaId, entry)))
              .as("round %d: dot %d held", round, entry)
              .isTrue();
        }
        long held = stored.replica().versionVector().get(replicaId);
        assertThat(held).isBetween(lastPrinted, lastPrinted + 1);
        assertThat(stored.replica().counterValue("n")).isEqualTo(held);
      }
    }
  }
}

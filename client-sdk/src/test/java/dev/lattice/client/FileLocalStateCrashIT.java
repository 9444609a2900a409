package dev.lattice.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.client.internal.FileLocalState;
import dev.lattice.client.internal.LocalState.OutboxEntry;
import dev.lattice.client.internal.LocalState.StoredDocument;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.ReplicaId;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
    try (ChildJvm child =
        new ChildJvm(
            FileLocalStateCrashChild.class,
            tmp.resolve("stderr.txt"),
            "append",
            stateDir.toString())) {
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
      try (ChildJvm probe =
          new ChildJvm(
              FileLocalStateCrashChild.class,
              tmp.resolve("stderr-probe.txt"),
              "probe",
              stateDir.toString())) {
        assertThat(probe.next()).startsWith("refused ").contains("another client holds");
        probe.kill();
      }
    }
    try (ChildJvm probe =
        new ChildJvm(
            FileLocalStateCrashChild.class,
            tmp.resolve("stderr-probe2.txt"),
            "probe",
            stateDir.toString())) {
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
      try (ChildJvm child =
          new ChildJvm(
              FileLocalStateCrashChild.class,
              tmp.resolve("stderr-" + round + ".txt"),
              "checkpoint",
              stateDir.toString())) {
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

package dev.lattice.server.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.Dot;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Kills a process that is appending (SIGKILL) and checks every acknowledged delta survived. */
class StoreCrashIT {

  private static final int ACKS_BEFORE_KILL = 2_000;

  @TempDir Path dir;

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void everyAcknowledgedAppendSurvivesKillMinus9() throws Exception {
    Path data = dir.resolve("data");
    Path stderr = dir.resolve("child-stderr.txt");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process child =
        new ProcessBuilder(
                java,
                "-cp",
                System.getProperty("java.class.path"),
                StoreCrashChild.class.getName(),
                data.toString())
            .redirectError(stderr.toFile())
            .start();
    List<Long> acked = new ArrayList<>();
    try {
      CompletableFuture<Void> reading =
          CompletableFuture.runAsync(
              () -> {
                try (BufferedReader in =
                    new BufferedReader(
                        new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                  String line = in.readLine();
                  assertThat(line).as("child's first line").isEqualTo("ready");
                  while (acked.size() < ACKS_BEFORE_KILL && (line = in.readLine()) != null) {
                    assertThat(line).as("child output").doesNotStartWith("error");
                    acked.add(Long.parseLong(line));
                  }
                } catch (java.io.IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              });
      reading.get(60, TimeUnit.SECONDS);
    } finally {
      child.destroyForcibly(); // SIGKILL mid-stream
      assertThat(child.waitFor(30, TimeUnit.SECONDS)).as("child exited").isTrue();
    }
    assertThat(acked)
        .as("acks read (child stderr: %s)", Files.readString(stderr))
        .hasSize(ACKS_BEFORE_KILL);

    try (RocksDbDocumentStore store =
        RocksDbDocumentStore.open(EmbeddedStoreConfig.builder().dataDirectory(data).build())) {
      Document doc = store.load(StoreCrashChild.DOCUMENT).orElseThrow();
      assertThat(doc.counterValue("n")).isGreaterThanOrEqualTo(ACKS_BEFORE_KILL);
      for (long seq : acked) {
        assertThat(doc.contains(new Dot(StoreCrashChild.REPLICA, seq)))
            .as("acked dot %d present", seq)
            .isTrue();
      }
      // Every dot the store holds is a prefix: nothing acked out of order was lost in between.
      assertThat(doc.versionVector().get(StoreCrashChild.REPLICA))
          .isGreaterThanOrEqualTo(acked.stream().mapToLong(Long::longValue).max().orElseThrow());
    }
  }
}

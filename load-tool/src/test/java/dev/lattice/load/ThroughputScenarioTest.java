package dev.lattice.load;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Smoke runs with tiny counts: they check the bookkeeping, never the speed. */
class ThroughputScenarioTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  private static final Duration LONG = Duration.ofSeconds(30);

  @Test
  void everyUpdateIsAckedAndTheCounterEqualsTheAckedCount() throws Exception {
    try (Target target = Target.inProcess(true)) {
      ThroughputScenario.Result r =
          ThroughputScenario.run(
              target.uri(),
              new ThroughputScenario.Config(2, false, 16, 1000, LONG, Duration.ZERO, TIMEOUT));

      assertThat(r.stopReason()).isEqualTo("count");
      assertThat(r.sent()).isEqualTo(1000);
      assertThat(r.acked()).isEqualTo(1000);
      assertThat(r.errors()).isZero();
      assertThat(r.serverCounter()).isEqualTo(1000);
      assertThat(r.ackLatency().count()).isEqualTo(1000);
      assertThat(r.ok()).isTrue();
    }
  }

  @Test
  void warmUpIsExcludedFromTheFiguresButCountedOnTheServer() throws Exception {
    try (Target target = Target.inProcess(true)) {
      ThroughputScenario.Result r =
          ThroughputScenario.run(
              target.uri(),
              new ThroughputScenario.Config(
                  2, true, 8, 500, LONG, Duration.ofMillis(200), TIMEOUT));

      assertThat(r.warmupAcked()).isPositive();
      assertThat(r.acked()).isEqualTo(500);
      assertThat(r.ackLatency().count()).isEqualTo(500);
      // One shared document: its counter holds every increment of both connections.
      assertThat(r.serverCounter()).isEqualTo(r.warmupAcked() + 500);
      assertThat(r.ok()).isTrue();
    }
  }

  @Test
  void stopsAtTheTimeBoundWithEverySentUpdateAnswered() throws Exception {
    try (Target target = Target.inProcess(true)) {
      ThroughputScenario.Result r =
          ThroughputScenario.run(
              target.uri(),
              new ThroughputScenario.Config(
                  1, false, 4, Long.MAX_VALUE, Duration.ofMillis(300), Duration.ZERO, TIMEOUT));

      assertThat(r.stopReason()).isEqualTo("time");
      assertThat(r.sent()).isPositive();
      assertThat(r.acked()).isEqualTo(r.sent());
      assertThat(r.serverCounter()).isEqualTo(r.acked());
    }
  }

  @Test
  void embeddedStoreCountsTooAndItsDirectoryIsDeleted() throws Exception {
    Path dir;
    try (Target target = Target.inProcess(false)) {
      String description = target.description();
      assertThat(description).contains("RocksDB").contains("rate limit raised");
      dir = Path.of(description.replaceAll(".*store in (\\S+);.*", "$1"));
      assertThat(dir).isDirectory();

      ThroughputScenario.Result r =
          ThroughputScenario.run(
              target.uri(),
              new ThroughputScenario.Config(2, false, 8, 400, LONG, Duration.ZERO, TIMEOUT));

      assertThat(r.acked()).isEqualTo(400);
      assertThat(r.serverCounter()).isEqualTo(400);
    }
    assertThat(Files.exists(dir)).isFalse();
  }
}

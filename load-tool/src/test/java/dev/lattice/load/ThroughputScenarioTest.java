package dev.lattice.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.server.LatticeServer;
import dev.lattice.server.spi.SessionConfig;
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
      // Version 2's UPDATE_OWN: 9 bytes + 6 on the wire while request id, seq and count are
      // below 128, up to 3 more each below 2^16 (version 1's UPDATE: 26 + 6 and more).
      assertThat(r.protocolVersion()).isEqualTo(2);
      assertThat(r.wireBytesPerUpdate()).isBetween(15.0, 21.0);
    }
  }

  @Test
  void wireBytesCountTheWebSocketHeaderAndMaskOfAClientFrame() {
    assertThat(ProtocolConnection.wireBytes(9)).isEqualTo(15);
    assertThat(ProtocolConnection.wireBytes(125)).isEqualTo(131);
    assertThat(ProtocolConnection.wireBytes(126)).isEqualTo(134);
    assertThat(ProtocolConnection.wireBytes(70_000)).isEqualTo(70_014);
  }

  @Test
  void warmUpIsExcludedFromTheFiguresButCountedOnTheServer() throws Exception {
    try (Target target = Target.inProcess(true)) {
      // The warm-up is bounded by the same count as the measured phase; a long warm-up time
      // makes the count end it, so both phases have a known size whatever the machine's speed.
      ThroughputScenario.Result r =
          ThroughputScenario.run(
              target.uri(), new ThroughputScenario.Config(2, true, 8, 500, LONG, LONG, TIMEOUT));

      assertThat(r.warmupAcked()).isEqualTo(500);
      assertThat(r.acked()).isEqualTo(500);
      assertThat(r.ackLatency().count()).isEqualTo(500);
      // One shared document: its counter holds every increment of both connections.
      assertThat(r.serverCounter()).isEqualTo(1000);
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

  @Test
  void aServerThatClosesTheConnectionFailsTheRunAtOnce() {
    // A remote server keeps its own limits: here 1 update/s, and a close (4005) after 5 refusals
    // in a row. The run must stop with that reason, not wait out its 30 s or its ACK timeout.
    SessionConfig strict =
        SessionConfig.defaults().toBuilder()
            .updatesPerSecond(1)
            .updateBurst(1)
            .rateLimitCloseThreshold(5)
            .build();
    try (LatticeServer server =
        LatticeServer.builder()
            .bindAddress("127.0.0.1")
            .port(0)
            .inMemory(true)
            .sessionConfig(strict)
            .build()
            .start()) {
      assertThatThrownBy(
              () ->
                  ThroughputScenario.run(
                      server.uri(),
                      new ThroughputScenario.Config(
                          1, false, 8, 10_000, LONG, Duration.ZERO, Duration.ofSeconds(20))))
          .isInstanceOf(LoadException.class)
          .hasMessageContaining("4005");
    }
  }

  @Test
  void counterCheckIsExactWithoutRefusalsAndARangeWithThem() {
    ThroughputScenario.Config c =
        new ThroughputScenario.Config(1, false, 1, 10, LONG, Duration.ZERO, TIMEOUT);
    // warm-up 5 acked; measured: 10 sent, acked + refused as given; server counter as given.
    assertThat(result(c, 10, 0, 15).ok()).isTrue();
    assertThat(result(c, 10, 0, 14).counterVerified()).as("one acked increment lost").isFalse();
    assertThat(result(c, 10, 0, 16).counterVerified()).as("more than was sent").isFalse();
    // A refused increment is carried by the writer's next accepted delta (its running total).
    assertThat(result(c, 8, 2, 15).counterVerified()).isTrue();
    assertThat(result(c, 8, 2, 13).counterVerified()).isTrue();
    assertThat(result(c, 8, 2, 12).counterVerified()).isFalse();
    // Refusals fail the run even with the counter right: the figures would not be the server's.
    assertThat(result(c, 8, 2, 15).ok()).isFalse();
    assertThat(result(c, 8, 1, 14).ok()).as("an update never answered").isFalse();
  }

  private static ThroughputScenario.Result result(
      ThroughputScenario.Config c, long acked, long errors, long counter) {
    return new ThroughputScenario.Result(
        c, 5, 10, acked, errors, "", 1.0, LatencySummary.EMPTY, counter, "count", 15.0, 2);
  }
}

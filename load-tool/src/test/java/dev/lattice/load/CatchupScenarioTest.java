package dev.lattice.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.protocol.ProtocolLimits;
import dev.lattice.server.LatticeServer;
import dev.lattice.server.spi.SessionConfig;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Smoke runs with small counts against an in-process server: exact totals, one round trip, and
 * catch-up bytes that follow the fields changed, not the updates missed. Never the speed.
 */
class CatchupScenarioTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  private static final Duration LONG = Duration.ofSeconds(60);

  private static CatchupScenario.Config config(long missed, int writers, int repeats) {
    return new CatchupScenario.Config(missed, writers, repeats, 16, Duration.ZERO, LONG, TIMEOUT);
  }

  @Test
  void aReaderCatchesUpInOneSyncWithExactTotalsAndBytesThatDoNotGrowWithTheMissedCount()
      throws Exception {
    try (Target target = Target.inProcess(true)) {
      CatchupScenario.Result few = CatchupScenario.run(target.uri(), config(100, 2, 3));
      CatchupScenario.Result many = CatchupScenario.run(target.uri(), config(2_000, 2, 3));

      for (CatchupScenario.Result r : List.of(few, many)) {
        // Each repetition checked the reader's counters against its writers' exact totals.
        assertThat(r.failures()).isEmpty();
        assertThat(r.ok()).isTrue();
        assertThat(r.stopReason()).isEqualTo("count");
        assertThat(r.repetitions()).hasSize(3);
        assertThat(r.protocolVersion()).isEqualTo(2);
        for (CatchupScenario.Repetition rep : r.repetitions()) {
          // One round trip: the SYNC is the only frame the server sent, carrying both fields.
          assertThat(rep.frames()).isEqualTo(1);
          assertThat(rep.fields()).isEqualTo(2);
          assertThat(rep.nanos()).isPositive();
          assertThat(rep.wireBytes())
              .isEqualTo(ProtocolConnection.serverWireBytes((int) rep.bytes()));
        }
        assertThat(r.latency().getTotalCount()).isEqualTo(3);
      }
      // 20 times the missed updates, a few bytes more: only the numbers in the counts, dots and
      // vectors grow (a MessagePack int of 50 takes 1 byte, one of 1,000 takes 3).
      assertThat(many.bytes().max()).isLessThanOrEqualTo(few.bytes().min() + 40);
      assertThat(many.bytes().max()).isLessThan(250);
    }
  }

  @Test
  void bytesFollowTheFieldsChanged() throws Exception {
    try (Target target = Target.inProcess(true)) {
      CatchupScenario.Result one = CatchupScenario.run(target.uri(), config(400, 1, 1));
      CatchupScenario.Result eight = CatchupScenario.run(target.uri(), config(400, 8, 1));

      assertThat(one.ok()).isTrue();
      assertThat(eight.ok()).isTrue();
      assertThat(one.fields().max()).isEqualTo(1);
      assertThat(eight.fields().max()).isEqualTo(8);
      // Each more field costs its name, state, touched entry, context range and vector entry:
      // tens of bytes, the same for each.
      long perField = (eight.bytes().max() - one.bytes().max()) / 7;
      assertThat(perField).isBetween(20L, 80L);
    }
  }

  @Test
  void aCatchUpLargerThanAFrameArrivesInPartsAndIsMeasuredWhole() throws Exception {
    SessionConfig small =
        SessionConfig.defaults().toBuilder()
            .protocolLimits(ProtocolLimits.builder().maxFrameBytes(600).build())
            .updatesPerSecond(Target.RAISED_RATE)
            .updateBurst(Target.RAISED_RATE)
            .build();
    try (LatticeServer server =
        LatticeServer.builder()
            .bindAddress("127.0.0.1")
            .port(0)
            .inMemory(true)
            .sessionConfig(small)
            .build()
            .start()) {
      CatchupScenario.Result r = CatchupScenario.run(server.uri(), config(320, 16, 2));

      assertThat(r.failures()).isEmpty();
      assertThat(r.ok()).isTrue();
      for (CatchupScenario.Repetition rep : r.repetitions()) {
        // Parts as fan-out UPDATEs, then the SYNC with the context: all counted, all merged.
        assertThat(rep.frames()).isGreaterThan(1);
        assertThat(rep.fields()).isEqualTo(16);
        assertThat(rep.bytes()).isGreaterThan(600);
      }
    }
  }

  @Test
  void theDurationEndsTheRunAfterTheFirstRepetition() throws Exception {
    try (Target target = Target.inProcess(true)) {
      CatchupScenario.Result r =
          CatchupScenario.run(
              target.uri(),
              new CatchupScenario.Config(
                  200, 2, 1_000, 16, Duration.ZERO, Duration.ofMillis(1), TIMEOUT));

      assertThat(r.stopReason()).isEqualTo("time");
      assertThat(r.repetitions()).hasSize(1);
      assertThat(r.ok()).isTrue();
    }
  }

  @Test
  void badConfigurationsAreRefused() {
    assertThatThrownBy(() -> config(1, 2, 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at least the number of writers (2)");
    assertThatThrownBy(() -> config(10, 0, 1)).hasMessageContaining("writers must be at least 1");
    assertThatThrownBy(() -> config(10, 1, 0)).hasMessageContaining("repeats must be at least 1");
  }

  @Test
  void aWrongTotalOrNoRepetitionFailsTheRun() {
    CatchupScenario.Config c = config(10, 1, 1);
    CatchupScenario.Repetition rep = new CatchupScenario.Repetition(1_000_000, 1, 100, 102, 1, 0.1);
    assertThat(result(c, List.of(rep), List.of()).ok()).isTrue();
    assertThat(result(c, List.of(rep), List.of("repetition 1: the reader's c0 is 9")).ok())
        .isFalse();
    assertThat(result(c, List.of(), List.of()).ok()).isFalse();
  }

  private static CatchupScenario.Result result(
      CatchupScenario.Config c, List<CatchupScenario.Repetition> reps, List<String> failures) {
    return new CatchupScenario.Result(c, 2, 0, reps, "count", failures, "n/a", "n/a");
  }
}

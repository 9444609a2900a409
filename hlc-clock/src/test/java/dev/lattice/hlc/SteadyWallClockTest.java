package dev.lattice.hlc;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class SteadyWallClockTest {

  private static final long T0 = 1_700_000_000_000L;
  private static final long DAY = 86_400_000L;
  private static final Duration SLACK = Duration.ofMillis(500);

  private final ManualClock wall = new ManualClock(T0);
  private final ManualClock nanos = new ManualClock(42);

  private void elapse(long millis) {
    nanos.set(nanos.getAsLong() + millis * 1_000_000L);
    wall.set(wall.getAsLong() + millis);
  }

  @Test
  void followsTheWallForwardAndThroughSmallStepsBack() {
    SteadyWallClock clock = SteadyWallClock.of(wall, nanos, SLACK);
    assertThat(clock.getAsLong()).isEqualTo(T0);
    elapse(1_000);
    assertThat(clock.getAsLong()).isEqualTo(T0 + 1_000);
    wall.set(T0 + 5_000); // stepped forward
    assertThat(clock.getAsLong()).isEqualTo(T0 + 5_000);
    wall.set(T0 + 4_600); // an NTP correction within the slack
    assertThat(clock.getAsLong()).isEqualTo(T0 + 4_600);
  }

  @Test
  void goesOnFromWhereItWasWhenTheWallIsSetBackFarAndFollowsItOnceItCatchesUp() {
    SteadyWallClock clock = SteadyWallClock.of(wall, nanos, SLACK);
    elapse(1_000);
    assertThat(clock.getAsLong()).isEqualTo(T0 + 1_000);

    wall.set(T0 + 1_000 - DAY);
    assertThat(clock.getAsLong()).isEqualTo(T0 + 1_000);
    elapse(250);
    assertThat(clock.getAsLong()).isEqualTo(T0 + 1_250);

    wall.set(T0 + 1_300); // corrected
    assertThat(clock.getAsLong()).isEqualTo(T0 + 1_300);
    elapse(100);
    assertThat(clock.getAsLong()).isEqualTo(T0 + 1_400);
  }

  @Test
  void startsAtATimeAlreadyReachedWhenTheWallIsBehindIt() {
    SteadyWallClock clock = SteadyWallClock.startingAt(T0 + DAY, wall, nanos, SLACK);
    assertThat(clock.getAsLong()).isEqualTo(T0 + DAY);
    elapse(2_000);
    assertThat(clock.getAsLong()).isEqualTo(T0 + DAY + 2_000);
  }

  @Test
  void aStartWithinTheSlackLeavesTheWallAsItIs() {
    SteadyWallClock clock = SteadyWallClock.startingAt(T0 + 300, wall, nanos, SLACK);
    assertThat(clock.getAsLong()).isEqualTo(T0);
  }

  @Test
  void aHybridClockOnItKeepsAcceptingCorrectPeersAfterItsWallIsSetBack() {
    HybridLogicalClock hlc = new HybridLogicalClock(SteadyWallClock.of(wall, nanos, SLACK), SLACK);
    elapse(1_000);
    wall.set(wall.getAsLong() - DAY);
    elapse(1_000);
    // A peer on the right time: T0 + 2,000 ms.
    HlcTimestamp received = hlc.update(HlcTimestamp.of(T0 + 2_000, 0));
    assertThat(received.physicalMillis()).isEqualTo(T0 + 2_000);
  }
}

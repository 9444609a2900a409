package dev.lattice.load;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Smoke runs with tiny counts: they check the bookkeeping, never the speed. */
class FanoutScenarioTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  @Test
  void everySubscriberReceivesEveryUpdateOnce() throws Exception {
    try (Target target = Target.inProcess(true)) {
      FanoutScenario.Result r =
          FanoutScenario.run(
              target.uri(),
              new FanoutScenario.Config(
                  5, 1000, 50, Duration.ofSeconds(30), Duration.ZERO, TIMEOUT));

      assertThat(r.stopReason()).isEqualTo("count");
      assertThat(r.sent()).isEqualTo(50);
      assertThat(r.acked()).isEqualTo(50);
      assertThat(r.deliveries()).isEqualTo(250).isEqualTo(r.expectedDeliveries());
      assertThat(r.subscribersShort()).isZero();
      assertThat(r.latency().count()).isEqualTo(250);
      // Sender and receivers share one clock: a delivery cannot precede its send.
      assertThat(r.latency().p50()).isPositive();
      assertThat(r.ok()).isTrue();
    }
  }

  @Test
  void warmUpDeliveriesAreAwaitedButNotMeasured() throws Exception {
    try (Target target = Target.inProcess(true)) {
      FanoutScenario.Result r =
          FanoutScenario.run(
              target.uri(),
              new FanoutScenario.Config(
                  3, 500, 20, Duration.ofSeconds(30), Duration.ofMillis(100), TIMEOUT));

      assertThat(r.deliveries()).isEqualTo(60);
      assertThat(r.latency().count()).isEqualTo(60);
      assertThat(r.ok()).isTrue();
    }
  }

  @Test
  void stopsSendingAtTheTimeBound() throws Exception {
    try (Target target = Target.inProcess(true)) {
      FanoutScenario.Result r =
          FanoutScenario.run(
              target.uri(),
              new FanoutScenario.Config(
                  2, 20, 1_000_000, Duration.ofMillis(300), Duration.ZERO, TIMEOUT));

      assertThat(r.stopReason()).isEqualTo("time");
      // 20/s for 0.3 s: sends are due at 0, 50, ..., 250 ms.
      assertThat(r.sent()).isEqualTo(6);
      assertThat(r.deliveries()).isEqualTo(12);
      assertThat(r.ok()).isTrue();
    }
  }

  @Test
  void subscribersThatOnlyListenAnswerThePingsAndStaySubscribed() throws Exception {
    // The server PINGs a connection silent for half its idle timeout and closes it (4004) at the
    // full timeout; a subscriber sends nothing after SUBSCRIBE, so only its PONGs keep it open.
    // 30 updates at 10/s take 3 s, longer than the 2 s timeout; each PONG has 1 s to arrive, a
    // margin no scheduling delay on a loaded machine should eat (200 ms was not enough).
    try (Target target = Target.inProcess(true, Duration.ofSeconds(2))) {
      FanoutScenario.Result r =
          FanoutScenario.run(
              target.uri(),
              new FanoutScenario.Config(2, 10, 30, Duration.ofSeconds(30), Duration.ZERO, TIMEOUT));

      assertThat(r.deliveries()).isEqualTo(60);
      assertThat(r.ok()).isTrue();
    }
  }

  @Test
  void aMissingOrDuplicatedDeliveryFailsTheRun() {
    FanoutScenario.Config c =
        new FanoutScenario.Config(2, 10, 5, Duration.ofSeconds(1), Duration.ZERO, TIMEOUT);
    assertThat(result(c, 5, 10, 0).ok()).isTrue();
    assertThat(result(c, 5, 9, 1).ok()).isFalse();
    // 10 in total but split 4 and 6: each subscriber is checked, not just the sum.
    assertThat(result(c, 5, 10, 2).ok()).isFalse();
    assertThat(result(c, 4, 10, 0).ok()).as("an update not acknowledged").isFalse();
  }

  private static FanoutScenario.Result result(
      FanoutScenario.Config c, long acked, long deliveries, int subscribersOff) {
    return new FanoutScenario.Result(
        c, 5, acked, deliveries, subscribersOff, 1.0, LatencySummary.EMPTY, "count");
  }
}

package dev.lattice.server.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class SessionTimerWheelTest {

  private static final long TICK = 1_000; // ns; the manual clock counts in ticks of 1000

  private final AtomicLong now = new AtomicLong(5_000_000);
  private final SessionTimerWheel wheel = new SessionTimerWheel(TICK, 8, now::get);
  private final List<String> ran = new ArrayList<>();

  private void at(long nanosFromStart) {
    now.set(5_000_000 + nanosFromStart);
    wheel.advance(now.get());
  }

  @Test
  void runsATaskAtTheFirstTickBoundaryAtOrAfterItsDueTimeNeverEarly() {
    wheel.schedule(() -> ran.add("a"), 2_500);

    at(2_999);
    assertThat(ran).isEmpty();
    at(3_000);
    assertThat(ran).containsExactly("a");
    assertThat(wheel.size()).isZero();
  }

  @Test
  void aDelayOnATickBoundaryRunsOnThatTick() {
    wheel.schedule(() -> ran.add("a"), 4_000);

    at(3_999);
    assertThat(ran).isEmpty();
    at(4_000);
    assertThat(ran).containsExactly("a");
  }

  @Test
  void runsTasksDueLongerThanOneTurnOfTheWheelOnlyOnTheirTurn() {
    // 8 buckets of 1000 ns: 20_000 ns is two and a half turns away.
    wheel.schedule(() -> ran.add("late"), 20_000);
    wheel.schedule(() -> ran.add("soon"), 4_000);

    at(12_000); // passes the late task's bucket once
    assertThat(ran).containsExactly("soon");
    at(19_999);
    assertThat(ran).containsExactly("soon");
    at(20_000);
    assertThat(ran).containsExactly("soon", "late");
  }

  @Test
  void catchesUpOnEveryTickMissedInOneAdvance() {
    for (int i = 1; i <= 30; i++) {
      int n = i;
      wheel.schedule(() -> ran.add("t" + n), n * TICK);
    }

    assertThat(wheel.advance(now.get() + 100 * TICK)).isEqualTo(30);
    assertThat(ran).hasSize(30).startsWith("t1", "t2").endsWith("t30");
  }

  @Test
  void aCancelledTaskNeverRunsAndLeavesTheWheelAtOnce() {
    SessionScheduler.Cancellable a = wheel.schedule(() -> ran.add("a"), 3_000);
    wheel.schedule(() -> ran.add("b"), 3_000);
    wheel.schedule(() -> ran.add("c"), 3_000);

    a.cancel();
    assertThat(wheel.size()).isEqualTo(2);
    a.cancel(); // twice is harmless
    assertThat(wheel.size()).isEqualTo(2);

    at(10_000);
    assertThat(ran).containsExactlyInAnyOrder("b", "c");
  }

  @Test
  void cancellingATaskThatAlreadyRanDoesNothing() {
    SessionScheduler.Cancellable a = wheel.schedule(() -> ran.add("a"), 1_000);
    at(1_000);
    a.cancel();
    wheel.schedule(() -> ran.add("b"), 1_000);

    assertThat(wheel.size()).isEqualTo(1);
    at(2_000);
    assertThat(ran).containsExactly("a", "b");
  }

  @Test
  void aTaskMayRescheduleItselfAndRunsAgainOnALaterAdvance() {
    // The session's idle check re-arms its timer from the task.
    Runnable[] check = new Runnable[1];
    check[0] =
        () -> {
          ran.add("check@" + (now.get() - 5_000_000));
          wheel.schedule(check[0], 5_000);
        };
    wheel.schedule(check[0], 5_000);

    at(5_000);
    at(9_999);
    at(10_000);
    assertThat(ran).containsExactly("check@5000", "check@10000");
    assertThat(wheel.size()).isEqualTo(1);
  }

  @Test
  void aTaskDueAtOnceRunsOnTheNextAdvance() {
    at(7_500);
    wheel.schedule(() -> ran.add("now"), 0);
    wheel.schedule(() -> ran.add("negative"), -50);

    at(7_500); // still inside the tick already processed: the next tick boundary is 8_000
    assertThat(ran).isEmpty();
    at(8_000);
    assertThat(ran).containsExactlyInAnyOrder("now", "negative");
  }

  @Test
  void aFailingTaskDoesNotStopTheOthers() {
    wheel.schedule(
        () -> {
          throw new IllegalStateException("boom");
        },
        1_000);
    wheel.schedule(() -> ran.add("b"), 1_000);

    at(1_000);
    assertThat(ran).containsExactly("b");
  }

  @Test
  void refusesABadShape() {
    assertThatThrownBy(() -> new SessionTimerWheel(0, 8, now::get))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("tickNanos");
    assertThatThrownBy(() -> new SessionTimerWheel(1, 12, now::get))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("power of two");
  }

  @Test
  void itsThreadRunsTasksAndStopsOnClose() throws InterruptedException {
    try (SessionTimerWheel running =
        SessionTimerWheel.start(Duration.ofMillis(1), "wheel-test-timer")) {
      CountDownLatch first = new CountDownLatch(1);
      running.schedule(first::countDown, 0);
      // The wheel was empty: its thread waited without a deadline and must have been woken.
      assertThat(first.await(10, TimeUnit.SECONDS)).isTrue();

      CountDownLatch second = new CountDownLatch(2);
      running.schedule(second::countDown, TimeUnit.MILLISECONDS.toNanos(3));
      running.schedule(second::countDown, TimeUnit.MILLISECONDS.toNanos(7));
      assertThat(second.await(10, TimeUnit.SECONDS)).isTrue();

      running.close();
      CountDownLatch never = new CountDownLatch(1);
      running.schedule(never::countDown, 0);
      assertThat(running.size()).isZero();
    }
    assertThat(
            Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals("wheel-test-timer")))
        .isEmpty();
  }
}

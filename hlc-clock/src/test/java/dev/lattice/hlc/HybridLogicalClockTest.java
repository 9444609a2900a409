package dev.lattice.hlc;

import static dev.lattice.hlc.HlcTimestamp.MAX_LOGICAL;
import static dev.lattice.hlc.HlcTimestamp.MAX_PHYSICAL_MILLIS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

class HybridLogicalClockTest {

  private static final Duration DRIFT = Duration.ofMillis(50);

  /**
   * One step of a scripted run: set the physical clock to {@code wall}, fire a send ({@code remote
   * == null}) or a receive of {@code remote}, then expect the clock's value {@code (l, c)}. A
   * {@code refused} receive must throw {@link ClockDriftException} and leave {@code (l, c)} as is.
   */
  private record Step(long wall, HlcTimestamp remote, boolean refused, long l, int c) {
    @Override
    public String toString() {
      String event = remote == null ? "send" : (refused ? "refuse " : "recv ") + remote.toLong();
      return "wall=" + wall + " " + event + " -> (" + l + "," + c + ")";
    }
  }

  private static Step send(long wall, long l, int c) {
    return new Step(wall, null, false, l, c);
  }

  private static Step recv(long wall, long remoteL, int remoteC, long l, int c) {
    return new Step(wall, HlcTimestamp.of(remoteL, remoteC), false, l, c);
  }

  private static Step refuse(long wall, long remoteL, int remoteC, long l, int c) {
    return new Step(wall, HlcTimestamp.of(remoteL, remoteC), true, l, c);
  }

  private static void run(List<Step> steps) {
    ManualClock wall = new ManualClock(0);
    HybridLogicalClock clock = new HybridLogicalClock(wall, DRIFT);
    for (int i = 0; i < steps.size(); i++) {
      Step step = steps.get(i);
      String where = "step " + i + ": " + step;
      wall.set(step.wall());
      HlcTimestamp expected = HlcTimestamp.of(step.l(), step.c());
      if (step.remote() == null) {
        assertThat(clock.now()).as(where).isEqualTo(expected);
      } else if (step.refused()) {
        assertThatThrownBy(() -> clock.update(step.remote()))
            .as(where)
            .isInstanceOf(ClockDriftException.class);
      } else {
        assertThat(clock.update(step.remote())).as(where).isEqualTo(expected);
      }
      assertThat(clock.peek()).as(where).isEqualTo(expected);
    }
  }

  @Test
  void followsHlcRulesForSendAndReceiveEvents() {
    run(
        List.of(
            send(10, 10, 0), // physical time wins: counter resets
            send(10, 10, 1), // same millisecond: counter bumps
            recv(10, 10, 5, 10, 6), // l == m.l == pt: max(c, m.c) + 1
            recv(10, 10, 3, 10, 7), // older remote counter: still c + 1
            send(11, 11, 0), // physical clock moved on
            recv(11, 12, 4, 12, 5), // remote ahead (within drift) wins: m.c + 1
            send(11, 12, 6), // physical clock behind l: keep l, bump counter
            recv(12, 11, 100, 12, 7), // remote behind: c + 1, its counter is irrelevant
            recv(13, 12, 20, 13, 0))); // physical time ahead of both: counter resets
  }

  @Test
  void keepsLogicalTimeWhenPhysicalClockJumpsBackward() {
    run(
        List.of(
            send(100, 100, 0),
            send(101, 101, 0),
            send(60, 101, 1), // jumped back 41 ms: l holds, the counter carries the ordering
            send(60, 101, 2),
            recv(60, 9, 10, 101, 3), // remote also behind l
            recv(60, 101, 40, 101, 41), // remote at l with a higher counter
            send(100, 101, 42), // still behind l
            send(101, 101, 43), // caught up to l but not past it
            send(102, 102, 0))); // finally past l: counter resets
  }

  @Test
  void followsPhysicalClockWhenItJumpsForward() {
    run(
        List.of(
            send(10, 10, 0),
            recv(10, 10, 9, 10, 10),
            send(1_000_000, 1_000_000, 0), // forward jump: l follows at once, counter resets
            recv(1_000_000, 10, 60_000, 1_000_000, 1), // a stale remote cannot pull it back
            send(1_000_001, 1_000_001, 0)));
  }

  @Test
  void carriesCounterOverflowIntoMillis() {
    run(
        List.of(
            recv(20, 20, MAX_LOGICAL - 1, 20, MAX_LOGICAL), // counter now full
            send(20, 21, 0), // send: c + 1 carries into l
            recv(21, 21, MAX_LOGICAL, 22, 0), // receive, l == m.l: max(c, m.c) + 1 carries
            send(21, 22, 1),
            recv(22, 22, MAX_LOGICAL, 23, 0), // l == m.l == pt: carries too
            recv(30, 35, MAX_LOGICAL, 36, 0), // remote wins: m.c + 1 carries
            send(30, 36, 1),
            send(40, 40, 0))); // carries never keep l ahead of a later physical clock
  }

  @Test
  void acceptsRemoteExactlyAtDriftBoundAndRejectsOneMillisecondMore() {
    run(
        List.of(
            send(1000, 1000, 0),
            recv(1000, 1050, 7, 1050, 8), // exactly 50 ms ahead: accepted
            refuse(1000, 1051, 0, 1050, 8), // 51 ms ahead: refused, clock unchanged
            refuse(1000, 2000, 0, 1050, 8),
            send(1000, 1050, 9), // the clock carries on from where it was
            recv(1001, 1051, 0, 1051, 1))); // the same remote is fine once time moves on
  }

  @Test
  void rejectsTimestampTooFarAheadAndLeavesClockUnchanged() {
    ManualClock wall = new ManualClock(1_700_000_000_000L);
    HybridLogicalClock clock = new HybridLogicalClock(wall, Duration.ofSeconds(60));
    HlcTimestamp before = clock.now();
    HlcTimestamp remote = HlcTimestamp.of(1_700_000_060_001L, 3);

    ClockDriftException e =
        catchThrowableOfType(ClockDriftException.class, () -> clock.update(remote));

    assertThat(e).isNotNull();
    assertThat(e.remote()).isEqualTo(remote);
    assertThat(e.localPhysicalMillis()).isEqualTo(1_700_000_000_000L);
    assertThat(e.maxDrift()).isEqualTo(Duration.ofSeconds(60));
    assertThat(e)
        .hasMessageContaining("2023-11-14T22:14:20.001Z/3") // the remote, readable
        .hasMessageContaining("2023-11-14T22:13:20Z") // the local physical time, readable
        .hasMessageContaining("60001 ms ahead")
        .hasMessageContaining("60000 ms");
    assertThat(clock.peek()).isEqualTo(before);
    assertThat(clock.now()).isEqualTo(before.successor());
  }

  @Test
  void comparesDriftAgainstPhysicalClockNotAgainstLogicalTime() {
    ManualClock wall = new ManualClock(1000);
    HybridLogicalClock clock = new HybridLogicalClock(wall, DRIFT);
    clock.update(HlcTimestamp.of(1050, 0)); // l is now 50 ms ahead of the physical clock
    // 60 ms ahead of the physical clock but only 10 ms ahead of l: still refused.
    assertThatThrownBy(() -> clock.update(HlcTimestamp.of(1060, 0)))
        .isInstanceOf(ClockDriftException.class);
    assertThat(clock.peek()).isEqualTo(HlcTimestamp.of(1050, 1));
  }

  @Test
  void returnsValuesAboveEverythingReturnedOrReceived() {
    ManualClock wall = new ManualClock(500);
    HybridLogicalClock clock = new HybridLogicalClock(wall, DRIFT);
    HlcTimestamp sent = clock.now();
    HlcTimestamp remote = HlcTimestamp.of(530, 17);
    HlcTimestamp received = clock.update(remote);
    assertThat(received).isGreaterThan(remote).isGreaterThan(sent);
    assertThat(clock.now()).isGreaterThan(received);
  }

  @Test
  void peekDoesNotAdvanceTheClock() {
    ManualClock wall = new ManualClock(42);
    HybridLogicalClock clock = new HybridLogicalClock(wall, DRIFT);
    assertThat(clock.peek()).isEqualTo(HlcTimestamp.ZERO);
    HlcTimestamp t = clock.now();
    assertThat(clock.peek()).isEqualTo(t).isEqualTo(HlcTimestamp.of(42, 0));
    assertThat(clock.peek()).isEqualTo(t);
  }

  @Test
  void rejectsPhysicalReadingsOutsideRepresentableRangeWithoutChangingTheClock() {
    ManualClock wall = new ManualClock(7);
    HybridLogicalClock clock = new HybridLogicalClock(wall, DRIFT);
    HlcTimestamp before = clock.now();
    for (long bad : new long[] {-1, Long.MIN_VALUE, MAX_PHYSICAL_MILLIS + 1, Long.MAX_VALUE}) {
      wall.set(bad);
      assertThatThrownBy(clock::now)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining(Long.toString(bad));
      assertThatThrownBy(() -> clock.update(HlcTimestamp.of(7, 0)))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining(Long.toString(bad));
      assertThat(clock.peek()).isEqualTo(before);
    }
    wall.set(0);
    assertThat(clock.now()).isEqualTo(before.successor());
  }

  @Test
  void acceptsTheWholeRepresentableRangeOfPhysicalReadings() {
    ManualClock wall = new ManualClock(0);
    HybridLogicalClock clock = new HybridLogicalClock(wall, DRIFT);
    // The clock starts at ZERO as if it had issued it (as in the paper), so epoch 0 yields (0, 1).
    assertThat(clock.now()).isEqualTo(HlcTimestamp.of(0, 1));
    wall.set(MAX_PHYSICAL_MILLIS);
    assertThat(clock.now()).isEqualTo(HlcTimestamp.of(MAX_PHYSICAL_MILLIS, 0));
  }

  @Test
  void throwsOnceTheLargestTimestampIsReachedInsteadOfWrapping() {
    ManualClock wall = new ManualClock(MAX_PHYSICAL_MILLIS);
    HybridLogicalClock clock = new HybridLogicalClock(wall, DRIFT);
    HlcTimestamp max = HlcTimestamp.fromLong(Long.MAX_VALUE);
    assertThat(clock.update(HlcTimestamp.of(MAX_PHYSICAL_MILLIS, MAX_LOGICAL - 1))).isEqualTo(max);

    assertThatThrownBy(clock::now).isInstanceOf(ArithmeticException.class);
    assertThatThrownBy(() -> clock.update(HlcTimestamp.of(5, 0)))
        .isInstanceOf(ArithmeticException.class);
    assertThat(clock.peek()).isEqualTo(max);

    HybridLogicalClock fresh = new HybridLogicalClock(wall, DRIFT);
    assertThatThrownBy(() -> fresh.update(max)).isInstanceOf(ArithmeticException.class);
    assertThat(fresh.peek()).isEqualTo(HlcTimestamp.ZERO);
  }

  @Test
  void validatesConstructorArguments() {
    LongSupplier wall = () -> 0L;
    assertThatThrownBy(() -> new HybridLogicalClock(null, DRIFT))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("physicalMillis");
    assertThatThrownBy(() -> new HybridLogicalClock(wall, null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("maxDrift");
    assertThatThrownBy(() -> new HybridLogicalClock(wall, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("PT0S");
    assertThatThrownBy(() -> new HybridLogicalClock(wall, Duration.ofSeconds(-5)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("PT-5S");
    assertThatThrownBy(() -> new HybridLogicalClock(wall, Duration.ofNanos(999_999)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("PT0.000999999S");
    assertThat(new HybridLogicalClock(wall, Duration.ofMillis(1)).maxDrift())
        .isEqualTo(Duration.ofMillis(1));
  }

  @Test
  void rejectsNullRemote() {
    HybridLogicalClock clock = new HybridLogicalClock(() -> 0L, DRIFT);
    assertThatThrownBy(() -> clock.update(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("remote");
  }

  @Test
  void acceptsAnyRemoteUnderADriftTooLargeForMillis() {
    HybridLogicalClock clock = new HybridLogicalClock(() -> 0L, Duration.ofSeconds(Long.MAX_VALUE));
    HlcTimestamp farFuture = HlcTimestamp.of(MAX_PHYSICAL_MILLIS, 0);
    assertThat(clock.update(farFuture)).isEqualTo(farFuture.successor());
  }

  @Test
  void defaultClockUsesSystemTimeAndSixtySecondDrift() {
    assertThat(HybridLogicalClock.DEFAULT_MAX_DRIFT).isEqualTo(Duration.ofSeconds(60));
    long before = System.currentTimeMillis();
    HybridLogicalClock clock = new HybridLogicalClock();
    HlcTimestamp t = clock.now();
    long after = System.currentTimeMillis();
    assertThat(clock.maxDrift()).isEqualTo(HybridLogicalClock.DEFAULT_MAX_DRIFT);
    assertThat(t.physicalMillis()).isBetween(before, after);
    assertThat(clock.toString()).contains(t.toString()).contains("PT1M");
  }

  private static final int THREADS = 4;
  private static final int CALLS_PER_THREAD = 50_000;

  @Test
  void concurrentNowOnFrozenClockIssuesEveryPackedValueExactlyOnce() throws Exception {
    long frozen = 1_700_000_000_000L;
    HybridLogicalClock clock = new HybridLogicalClock(() -> frozen, DRIFT);

    long[][] perThread = runConcurrently(t -> clock::now);

    long[] all = assertIncreasingPerThreadAndUnique(perThread);
    // 200k values from one frozen millisecond: the counter carried three times, and no
    // compare-and-swap lost or duplicated a tick, so the values are one contiguous run.
    long first = HlcTimestamp.of(frozen, 0).toLong();
    assertThat(all[0]).isEqualTo(first);
    assertThat(all[all.length - 1]).isEqualTo(first + all.length - 1);
    assertThat(HlcTimestamp.fromLong(all[all.length - 1]).physicalMillis()).isEqualTo(frozen + 3);
    assertThat(clock.peek().toLong()).isEqualTo(all[all.length - 1]);
  }

  @Test
  void concurrentNowOnSlowClockStaysUniqueAndIncreasingPerThread() throws Exception {
    AtomicLong reads = new AtomicLong();
    // One millisecond per 1000 reads: the counter keeps resetting and climbing, racing the clock.
    LongSupplier slow = () -> 1_000_000L + reads.getAndIncrement() / 1000;
    HybridLogicalClock clock = new HybridLogicalClock(slow, DRIFT);

    long[][] perThread = runConcurrently(t -> clock::now);

    long[] all = assertIncreasingPerThreadAndUnique(perThread);
    assertThat(clock.peek().toLong()).isEqualTo(all[all.length - 1]);
  }

  @Test
  void concurrentSendsAndReceivesStayUniqueAndAboveEveryRemote() throws Exception {
    ManualClock wall = new ManualClock(5_000);
    HybridLogicalClock clock = new HybridLogicalClock(wall, DRIFT);
    List<HlcTimestamp[]> remotes = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      HlcTimestamp[] r = new HlcTimestamp[CALLS_PER_THREAD];
      for (int i = 0; i < CALLS_PER_THREAD; i++) {
        // Remotes behind, at and ahead of the frozen physical clock, with assorted counters.
        r[i] = HlcTimestamp.of(5_000 + (i % 7) * 5 - 10, (i * 31 + t) & MAX_LOGICAL);
      }
      remotes.add(r);
    }

    long[][] perThread =
        runConcurrently(
            t ->
                t % 2 == 0
                    ? clock::now
                    : new Supplier<HlcTimestamp>() {
                      private int i;

                      @Override
                      public HlcTimestamp get() {
                        HlcTimestamp remote = remotes.get(t)[i++];
                        HlcTimestamp result = clock.update(remote);
                        assertThat(result).isGreaterThan(remote);
                        return result;
                      }
                    });

    assertIncreasingPerThreadAndUnique(perThread);
  }

  /** Runs {@code THREADS} workers released together by a latch, each ticking its own action. */
  private static long[][] runConcurrently(IntFunction<Supplier<HlcTimestamp>> actionForThread)
      throws Exception {
    CountDownLatch ready = new CountDownLatch(THREADS);
    CountDownLatch go = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    try {
      List<Future<long[]>> futures = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        Supplier<HlcTimestamp> action = actionForThread.apply(t);
        futures.add(
            pool.submit(
                () -> {
                  long[] out = new long[CALLS_PER_THREAD];
                  ready.countDown();
                  go.await();
                  for (int i = 0; i < CALLS_PER_THREAD; i++) {
                    out[i] = action.get().toLong();
                  }
                  return out;
                }));
      }
      assertThat(ready.await(30, TimeUnit.SECONDS)).as("workers started").isTrue();
      go.countDown();
      long[][] results = new long[THREADS][];
      for (int t = 0; t < THREADS; t++) {
        results[t] = futures.get(t).get(60, TimeUnit.SECONDS);
      }
      return results;
    } finally {
      pool.shutdownNow();
    }
  }

  /** Asserts each row strictly increases and no value repeats across rows; returns all sorted. */
  private static long[] assertIncreasingPerThreadAndUnique(long[][] perThread) {
    int total = 0;
    for (int t = 0; t < perThread.length; t++) {
      long[] row = perThread[t];
      for (int i = 1; i < row.length; i++) {
        if (row[i] <= row[i - 1]) {
          throw new AssertionError(
              "thread "
                  + t
                  + " went backwards at call "
                  + i
                  + ": "
                  + HlcTimestamp.fromLong(row[i - 1])
                  + " then "
                  + HlcTimestamp.fromLong(row[i]));
        }
      }
      total += row.length;
    }
    long[] all = new long[total];
    int at = 0;
    for (long[] row : perThread) {
      System.arraycopy(row, 0, all, at, row.length);
      at += row.length;
    }
    Arrays.sort(all);
    for (int i = 1; i < all.length; i++) {
      if (all[i] == all[i - 1]) {
        throw new AssertionError("duplicate timestamp " + HlcTimestamp.fromLong(all[i]));
      }
    }
    return all;
  }

  @Test
  void nowAfterAFarAheadTimestampStepsPastItWithoutMovingTheClock() {
    ManualClock wall = new ManualClock(1_000);
    HybridLogicalClock clock = new HybridLogicalClock(wall, DRIFT);
    HlcTimestamp farAhead = HlcTimestamp.of(1_000 + 86_400_000L, 7);

    HlcTimestamp written = clock.nowAfter(farAhead);

    assertThat(written).isEqualTo(HlcTimestamp.of(1_000 + 86_400_000L, 8));
    // The refused timestamp did not drag the clock: the next plain event follows the wall again.
    assertThat(clock.now().physicalMillis()).isEqualTo(1_000);
  }

  @Test
  void nowAfterATimestampWithinTheDriftBoundMergesItLikeAReceive() {
    ManualClock wall = new ManualClock(1_000);
    HybridLogicalClock clock = new HybridLogicalClock(wall, DRIFT);
    HlcTimestamp slightlyAhead = HlcTimestamp.of(1_040, 3);

    assertThat(clock.nowAfter(slightlyAhead)).isEqualTo(HlcTimestamp.of(1_040, 4));
    assertThat(clock.now()).isEqualTo(HlcTimestamp.of(1_040, 5));
  }

  @Test
  void nowAfterAnOlderTimestampIsPlainNow() {
    ManualClock wall = new ManualClock(1_000);
    HybridLogicalClock clock = new HybridLogicalClock(wall, DRIFT);

    assertThat(clock.nowAfter(HlcTimestamp.of(900, 0))).isEqualTo(HlcTimestamp.of(1_000, 0));
  }

  @Test
  void advancePastKeepsEveryLaterValueAboveTheFloorWhateverTheWallSays() {
    ManualClock wall = new ManualClock(1_000);
    HybridLogicalClock clock = new HybridLogicalClock(wall, DRIFT);
    HlcTimestamp persisted = HlcTimestamp.of(1_000 + 86_400_000L, 2);

    clock.advancePast(persisted);

    assertThat(clock.now()).isEqualTo(persisted.successor());
    clock.advancePast(HlcTimestamp.of(5, 0)); // an older floor changes nothing
    assertThat(clock.now()).isEqualTo(persisted.successor().successor());
  }

  @Test
  void physicalTimeFollowsTheWallNotARemoteThatMovedTheClockAhead() {
    ManualClock wall = new ManualClock(1_000);
    HybridLogicalClock clock = new HybridLogicalClock(wall, DRIFT);
    clock.update(HlcTimestamp.of(1_040, 0));

    assertThat(clock.physicalTime()).isEqualTo(HlcTimestamp.of(1_000, 0));
    assertThat(clock.peek()).isEqualTo(HlcTimestamp.of(1_040, 1));
  }
}

package dev.lattice.properties.hlc;

import static dev.lattice.hlc.HlcTimestamp.LOGICAL_BITS;
import static dev.lattice.hlc.HlcTimestamp.MAX_LOGICAL;
import static dev.lattice.hlc.HlcTimestamp.MAX_PHYSICAL_MILLIS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.lattice.hlc.ClockDriftException;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.hlc.HybridLogicalClock;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.function.LongSupplier;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

/**
 * Properties of {@link HybridLogicalClock} over arbitrary runs of one clock: the physical clock
 * jumps forward and backward by small and huge amounts, and the clock issues timestamps and
 * receives remote ones behind, at, around and far beyond the drift bound, with counters near the
 * 65535 carry.
 *
 * <p>After every step the run is checked against a reference model that applies the HLC paper's
 * case analysis on {@code (l, c)} literally (plus the carry), and against these invariants, where
 * {@code s} is the clock's packed value and {@code B} the largest packed value the clock was handed
 * by an accepted event: {@code pt << 16} for each physical reading and the remote itself for each
 * accepted receive.
 *
 * <ol>
 *   <li>Every returned value is strictly greater than every value returned or accepted before.
 *   <li>{@code update(m)} returns more than {@code m} and more than the previous value.
 *   <li>A remote more than the drift bound ahead of the physical reading is refused, one at the
 *       bound is accepted, and a refusal (or an out-of-range physical reading) leaves the clock
 *       unchanged.
 *   <li>Boundedness: the excess {@code E = s - B} is never negative and grows by at most one per
 *       event. So {@code l(s) - l(B) <= ceil(E / 65536)}: the physical part of the clock exceeds
 *       the largest physical reading or accepted remote physical part only through counter carries,
 *       at most one millisecond per 65536 events.
 *   <li>Counter: with {@code k} the number of events since {@code l} last changed (the changing
 *       event included) and {@code R} the largest {@code m.c + 1} over remotes accepted at the
 *       current {@code l} in that span (0 if none), {@code c <= k - 1 + R}. Without remotes the
 *       counter is at most the number of events since {@code l} changed, minus one.
 * </ol>
 *
 * <p>Generation is deterministic per seed; jqwik prints the seed of a failing run.
 */
class HybridLogicalClockProperties {

  /** Physical readings stay below this so no run can exhaust the timestamp space. */
  private static final long PT_CAP = 1L << 46;

  @Property(tries = 1000)
  void clockStaysMonotonicBoundedAndFaithfulToThePaper(@ForAll("scenarios") Scenario scenario) {
    new Run(scenario).execute();
  }

  @Property(tries = 1000)
  void timestampOrderIsPackedLongOrder(
      @ForAll("timestamps") HlcTimestamp a, @ForAll("timestamps") HlcTimestamp b) {
    assertThat(Integer.signum(a.compareTo(b))).isEqualTo(Long.compare(a.toLong(), b.toLong()));
    assertThat(a.isAfter(b)).isEqualTo(a.toLong() > b.toLong());
    int byParts =
        Comparator.comparingLong(HlcTimestamp::physicalMillis)
            .thenComparingInt(HlcTimestamp::logical)
            .compare(a, b);
    assertThat(Integer.signum(byParts)).isEqualTo(Long.compare(a.toLong(), b.toLong()));
  }

  @Property(tries = 1000)
  void timestampTextAndPackedFormsRoundTrip(@ForAll("timestamps") HlcTimestamp t) {
    assertThat(HlcTimestamp.parse(t.toString())).isEqualTo(t);
    assertThat(HlcTimestamp.fromLong(t.toLong())).isEqualTo(t);
    assertThat(HlcTimestamp.of(t.physicalMillis(), t.logical())).isEqualTo(t);
  }

  // ---------------------------------------------------------------------------------------------
  // Scenario model

  /** A run: the physical clock's start, the clock's drift bound and the actions to replay. */
  record Scenario(long startMillis, long maxDriftMillis, List<Action> actions) {}

  sealed interface Action permits Tick, Now, Receive, BadReading {}

  /** Moves the physical clock by {@code deltaMillis}, clamped to [0, 2^46]. */
  record Tick(long deltaMillis) implements Action {}

  /** Calls {@code now()}. */
  record Now() implements Action {}

  /** Where a remote timestamp's physical part is placed. */
  enum Placement {
    /** Physical reading plus a small offset either way. */
    NEAR_PHYSICAL,
    /** The clock's own current {@code l} plus a small offset, so {@code l == m.l} cases happen. */
    NEAR_LAST,
    /** Physical reading plus the drift bound plus a small offset: either side of the bound. */
    AT_DRIFT_BOUND,
    /** Physical reading plus the drift bound plus up to a year: always refused. */
    FAR_AHEAD,
    /** Physical reading minus up to a year. */
    FAR_BEHIND
  }

  /** Calls {@code update} with a remote placed by {@code placement} shifted by {@code offset}. */
  record Receive(Placement placement, long offset, int counter) implements Action {}

  /** Makes the physical clock read {@code reading} (out of range) for one now()/update() call. */
  record BadReading(long reading, boolean receive) implements Action {}

  @Provide
  Arbitrary<Scenario> scenarios() {
    Arbitrary<Long> start =
        Arbitraries.frequencyOf(
            List.of(
                Tuple.of(1, Arbitraries.longs().between(0, 1_000)),
                Tuple.of(3, Arbitraries.longs().between(1_500_000_000_000L, 2_000_000_000_000L)),
                Tuple.of(1, Arbitraries.longs().between(0, PT_CAP))));
    Arbitrary<Long> maxDrift =
        Arbitraries.frequencyOf(
            List.of(
                Tuple.of(2, Arbitraries.just(60_000L)),
                Tuple.of(2, Arbitraries.longs().between(1, 10)),
                Tuple.of(1, Arbitraries.longs().between(1, 86_400_000L))));
    return Combinators.combine(start, maxDrift, actions().list().ofMinSize(1).ofMaxSize(200))
        .as(Scenario::new);
  }

  private static Arbitrary<Action> actions() {
    long year = 365L * 86_400_000L;
    Arbitrary<Long> tickDelta =
        Arbitraries.frequencyOf(
            List.of(
                Tuple.of(6, Arbitraries.longs().between(0, 3)),
                Tuple.of(3, Arbitraries.longs().between(-3, -1)),
                Tuple.of(1, Arbitraries.longs().between(4, year)),
                Tuple.of(1, Arbitraries.longs().between(-year, -4)),
                Tuple.of(1, Arbitraries.longs().between(-PT_CAP, PT_CAP))));
    Arbitrary<Integer> counter =
        Arbitraries.frequencyOf(
            List.of(
                Tuple.of(3, Arbitraries.integers().between(0, 3)),
                Tuple.of(3, Arbitraries.integers().between(MAX_LOGICAL - 3, MAX_LOGICAL)),
                Tuple.of(1, Arbitraries.integers().between(0, MAX_LOGICAL))));
    Arbitrary<Long> smallOffset = Arbitraries.longs().between(-3, 3);
    Arbitrary<Action> near =
        Combinators.combine(
                Arbitraries.of(
                    Placement.NEAR_PHYSICAL, Placement.NEAR_LAST, Placement.AT_DRIFT_BOUND),
                smallOffset,
                counter)
            .as(Receive::new);
    Arbitrary<Action> far =
        Combinators.combine(
                Arbitraries.of(Placement.FAR_AHEAD, Placement.FAR_BEHIND),
                Arbitraries.longs().between(1, year),
                counter)
            .as(Receive::new);
    Arbitrary<Action> bad =
        Combinators.combine(
                Arbitraries.of(-1L, Long.MIN_VALUE, MAX_PHYSICAL_MILLIS + 1, Long.MAX_VALUE),
                Arbitraries.of(true, false))
            .as(BadReading::new);
    Arbitrary<Action> tick = tickDelta.map(Tick::new);
    Arbitrary<Action> now = Arbitraries.just(new Now());
    return Arbitraries.frequencyOf(
        List.of(
            Tuple.of(5, now),
            Tuple.of(4, tick),
            Tuple.of(5, near),
            Tuple.of(2, far),
            Tuple.of(1, bad)));
  }

  @Provide
  Arbitrary<HlcTimestamp> timestamps() {
    Arbitrary<Long> physical =
        Arbitraries.frequencyOf(
            List.of(
                Tuple.of(3, Arbitraries.longs().between(0, MAX_PHYSICAL_MILLIS)),
                Tuple.of(1, Arbitraries.longs().between(0, 3)),
                Tuple.of(
                    1, Arbitraries.longs().between(MAX_PHYSICAL_MILLIS - 3, MAX_PHYSICAL_MILLIS)),
                Tuple.of(1, Arbitraries.longs().between(1_700_000_000_000L, 1_700_000_000_003L))));
    Arbitrary<Integer> logical =
        Arbitraries.frequencyOf(
            List.of(
                Tuple.of(2, Arbitraries.integers().between(0, MAX_LOGICAL)),
                Tuple.of(1, Arbitraries.integers().between(0, 2)),
                Tuple.of(1, Arbitraries.integers().between(MAX_LOGICAL - 2, MAX_LOGICAL))));
    return Combinators.combine(physical, logical).as(HlcTimestamp::of);
  }

  // ---------------------------------------------------------------------------------------------
  // Execution

  /** A physical clock the run sets by hand. */
  private static final class SettableClock implements LongSupplier {
    long millis;

    @Override
    public long getAsLong() {
      return millis;
    }
  }

  /** Replays one scenario against a real clock and the reference model, checking every step. */
  private static final class Run {
    private final Scenario scenario;
    private final SettableClock physical = new SettableClock();
    private final HybridLogicalClock clock;

    // Reference model state: the paper's (l, c), starting like the clock at (0, 0).
    private long modelL;
    private long modelC;

    /** Largest value returned or accepted so far (-1: none). */
    private long highest = -1;

    /** Largest packed value handed to the clock by an accepted event: pt << 16 or a remote. */
    private long bound;

    /** Events applied so far (successful now() and accepted update()). */
    private long events;

    /** s - bound after the previous event; 0 before any (the clock and the bound start at 0). */
    private long lastExcess;

    /**
     * Events since l last changed, the changing event included. Starts at 1 because the clock's
     * initial (0, 0) counts as an issued value, as in the paper, so a first now() at physical time
     * 0 yields (0, 1).
     */
    private long sinceLChanged = 1;

    /** Largest m.c + 1 over remotes accepted at the current l since it last changed; 0 if none. */
    private long remoteCounterFloor;

    private int step;

    Run(Scenario scenario) {
      this.scenario = scenario;
      this.physical.millis = scenario.startMillis();
      this.clock = new HybridLogicalClock(physical, Duration.ofMillis(scenario.maxDriftMillis()));
    }

    void execute() {
      for (Action action : scenario.actions()) {
        if (action instanceof Tick tick) {
          physical.millis = clamp(physical.millis + tick.deltaMillis(), 0, PT_CAP);
        } else if (action instanceof Now) {
          send();
        } else if (action instanceof Receive receive) {
          receive(receive);
        } else if (action instanceof BadReading bad) {
          badReading(bad);
        }
        step++;
      }
    }

    private void send() {
      long pt = physical.millis;
      long prev = clock.peek().toLong();
      HlcTimestamp result = clock.now();

      long l = Math.max(modelL, pt);
      long c = l == modelL ? modelC + 1 : 0;
      applyModel(l, c, result);
      assertThat(result.toLong()).as(where("now() above everything before")).isGreaterThan(prev);
      afterEvent(result, pt << LOGICAL_BITS, null);
    }

    private void receive(Receive action) {
      long pt = physical.millis;
      long drift = scenario.maxDriftMillis();
      long base =
          switch (action.placement()) {
            case NEAR_PHYSICAL -> pt + action.offset();
            case NEAR_LAST -> clock.peek().physicalMillis() + action.offset();
            case AT_DRIFT_BOUND -> pt + drift + action.offset();
            case FAR_AHEAD -> pt + drift + action.offset();
            case FAR_BEHIND -> pt - action.offset();
          };
      HlcTimestamp remote = HlcTimestamp.of(clamp(base, 0, MAX_PHYSICAL_MILLIS), action.counter());
      HlcTimestamp before = clock.peek();

      if (remote.physicalMillis() - pt > drift) {
        ClockDriftException e =
            catchThrowableOfType(ClockDriftException.class, () -> clock.update(remote));
        assertThat(e).as(where("refused " + remote)).isNotNull();
        assertThat(e.remote()).isEqualTo(remote);
        assertThat(e.localPhysicalMillis()).isEqualTo(pt);
        assertThat(e.maxDrift()).isEqualTo(Duration.ofMillis(drift));
        assertThat(clock.peek()).as(where("refusal leaves clock unchanged")).isEqualTo(before);
        return;
      }

      HlcTimestamp result = clock.update(remote);

      long ml = remote.physicalMillis();
      long mc = remote.logical();
      long l = Math.max(Math.max(modelL, ml), pt);
      long c;
      if (l == modelL && l == ml) {
        c = Math.max(modelC, mc) + 1;
      } else if (l == modelL) {
        c = modelC + 1;
      } else if (l == ml) {
        c = mc + 1;
      } else {
        c = 0;
      }
      applyModel(l, c, result);
      assertThat(result).as(where("update() above the remote")).isGreaterThan(remote);
      assertThat(result).as(where("update() above the previous value")).isGreaterThan(before);
      afterEvent(result, Math.max(pt << LOGICAL_BITS, remote.toLong()), remote);
    }

    private void badReading(BadReading action) {
      long saved = physical.millis;
      HlcTimestamp before = clock.peek();
      physical.millis = action.reading();
      try {
        if (action.receive()) {
          assertThatThrownBy(() -> clock.update(before))
              .as(where("out-of-range reading refused"))
              .isInstanceOf(IllegalStateException.class);
        } else {
          assertThatThrownBy(clock::now)
              .as(where("out-of-range reading refused"))
              .isInstanceOf(IllegalStateException.class);
        }
      } finally {
        physical.millis = saved;
      }
      assertThat(clock.peek()).as(where("bad reading leaves clock unchanged")).isEqualTo(before);
    }

    /** Applies the paper's result (with the carry) to the model and compares with the clock. */
    private void applyModel(long l, long c, HlcTimestamp actual) {
      if (c > MAX_LOGICAL) {
        l += 1;
        c = 0;
      }
      boolean lChanged = l != modelL;
      modelL = l;
      modelC = c;
      assertThat(actual)
          .as(where("clock matches the paper's rules"))
          .isEqualTo(HlcTimestamp.of(l, (int) c));
      assertThat(clock.peek()).as(where("peek() is the last value")).isEqualTo(actual);
      if (lChanged) {
        sinceLChanged = 0;
        remoteCounterFloor = 0;
      }
    }

    private void afterEvent(HlcTimestamp result, long handed, HlcTimestamp acceptedRemote) {
      long s = result.toLong();
      assertThat(s).as(where("strictly above all returned/accepted")).isGreaterThan(highest);

      long previousExcess = lastExcess;
      bound = Math.max(bound, handed);
      events++;
      long excess = s - bound;
      assertThat(excess).as(where("clock at least everything it was handed")).isNotNegative();
      assertThat(excess)
          .as(where("excess over the handed bound grows at most one per event"))
          .isLessThanOrEqualTo(previousExcess + 1)
          .isLessThanOrEqualTo(events);
      long carries = (excess + MAX_LOGICAL) >>> LOGICAL_BITS; // ceil(excess / 65536)
      assertThat(result.physicalMillis() - (bound >>> LOGICAL_BITS))
          .as(where("l exceeds max(pt, remote l) only through carries"))
          .isBetween(0L, carries);

      sinceLChanged++;
      if (acceptedRemote != null && acceptedRemote.physicalMillis() == result.physicalMillis()) {
        remoteCounterFloor = Math.max(remoteCounterFloor, acceptedRemote.logical() + 1L);
      }
      assertThat((long) result.logical())
          .as(where("counter bounded by events since l changed"))
          .isLessThanOrEqualTo(sinceLChanged - 1 + remoteCounterFloor);

      // s already exceeds any accepted remote, so it is the new highest returned-or-accepted value.
      highest = s;
      lastExcess = excess;
    }

    private String where(String what) {
      return "step " + step + " " + scenario.actions().get(step) + ": " + what;
    }
  }

  private static long clamp(long value, long min, long max) {
    return Math.max(min, Math.min(max, value));
  }
}

package dev.lattice.properties.sim;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.properties.sim.Simulation.Config;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * Convergence of replicas under a faulty network, as seeded deterministic simulations (see {@link
 * Simulation}): drops, duplicates, reordering, partitions and heals, clock skew and backward clock
 * steps, retries from outboxes and anti-entropy, every payload through the codecs. After healing
 * and reliable delivery all replicas must be equal and agree with the ground truth of every
 * operation made.
 *
 * <p>Each try is driven by a {@code long seed} and two sizes; jqwik shrinks them to a short
 * schedule. A failure message holds the {@link Config} and the trace of the steps; replay it with
 * {@code new Simulation(config, Wire.standard()).run()}, by adding it to {@link #knownSchedules},
 * or with {@code @Property(seed = "...")} and the seed jqwik reports.
 */
class ConvergenceProperties {

  @Property(tries = 1000)
  void replicasConvergeUnderDropDuplicateReorderAndPartition(
      @ForAll long seed,
      @ForAll @IntRange(min = 3, max = 5) int replicas,
      @ForAll @IntRange(min = 0, max = 160) int steps) {
    new Simulation(new Config(seed, replicas, steps, false, true), Wire.standard()).run();
  }

  /** The same, with counter increments of zero among the operations. */
  @Property(tries = 200)
  void replicasConvergeWhenSomeIncrementsAreZero(
      @ForAll long seed,
      @ForAll @IntRange(min = 3, max = 5) int replicas,
      @ForAll @IntRange(min = 0, max = 160) int steps) {
    new Simulation(new Config(seed, replicas, steps, true, true), Wire.standard()).run();
  }

  /**
   * Without outboxes nothing is ever resent: lost deltas reach their peers only through
   * anti-entropy ({@code deltaSince}), as when a server relays catch-up deltas to subscribers. That
   * alone must converge too.
   */
  @Property(tries = 300)
  void replicasConvergeThroughAntiEntropyAloneWithoutResends(
      @ForAll long seed,
      @ForAll @IntRange(min = 3, max = 5) int replicas,
      @ForAll @IntRange(min = 0, max = 160) int steps) {
    new Simulation(new Config(seed, replicas, steps, false, false), Wire.standard()).run();
  }

  /**
   * Guards the generator: over a fixed set of seeds, every kind of fault and repair happens many
   * times, so the convergence properties cannot pass by testing nothing.
   */
  @Example
  void simulationsExerciseEveryFaultAndRepair() {
    Map<String, Integer> total = new TreeMap<>();
    for (long seed = 0; seed < 60; seed++) {
      Simulation sim =
          new Simulation(new Config(seed, 3 + (int) (seed % 3), 120, false, true), Wire.standard());
      sim.run();
      sim.counts.forEach((k, v) -> total.merge(k, v, Integer::sum));
    }
    assertThat(total)
        .as("fault and repair counts over 60 runs")
        .containsKeys(
            "write",
            "deliver",
            "drop",
            "duplicate",
            "partition",
            "lost to partition",
            "heal",
            "resend",
            "anti-entropy",
            "clock back",
            "clock forward");
    total.forEach(
        (what, n) -> assertThat(n).as("%s over 60 runs", what).isGreaterThanOrEqualTo(30));
  }

  /** Schedules that once failed, or that cover a corner worth keeping; replayed on every run. */
  static final List<Config> KNOWN_SCHEDULES =
      List.of(
          new Config(0L, 3, 0, false, true),
          new Config(42L, 5, 160, false, true),
          new Config(-7L, 4, 120, true, true));

  @Example
  void knownSchedules() {
    for (Config config : KNOWN_SCHEDULES) {
      new Simulation(config, Wire.standard()).run();
    }
  }
}

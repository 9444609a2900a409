package dev.lattice.properties.protocol;

import dev.lattice.properties.protocol.SimStep.RestartKind;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Assume;
import net.jqwik.api.Example;

/**
 * The fault simulation of {@link SyncSimulationProperties} at length, or one schedule again, driven
 * by system properties and skipped without them:
 *
 * <ul>
 *   <li>{@code -Dlattice.soak.minutes=M} runs seeded random schedules (longer than the property's)
 *       for M minutes, seeds counting up from {@code lattice.faults.seed} (or the current time),
 *       and fails at the end naming every seed that failed.
 *   <li>{@code -Dlattice.faults.seed=S} alone runs the schedule of seed S once and prints its
 *       report: a failing seed from a soak, replayed exactly.
 * </ul>
 *
 * <p>A schedule is a pure function of its seed ({@link #schedule}), drawn with the same step mix as
 * the property's generator, so a seed names the same run on every machine.
 */
class SyncSimulationSoakTest {

  private static final int MAX_STEPS = 600;

  @Example
  void soakOrReplayASeed() {
    String minutes = System.getProperty("lattice.soak.minutes");
    String seedText = System.getProperty("lattice.faults.seed");
    Assume.that(minutes != null || seedText != null);
    if (minutes == null) {
      long seed = Long.parseLong(seedText);
      Run run = schedule(seed);
      SyncSimulation sim = SyncSimulationProperties.assertConverges(run.setup(), run.steps());
      System.out.println("seed " + seed + " converged: " + sim.counts());
      return;
    }
    long first = seedText == null ? System.currentTimeMillis() : Long.parseLong(seedText);
    long deadline = System.nanoTime() + (long) (Double.parseDouble(minutes) * 60e9);
    List<String> failed = new ArrayList<>();
    long runs = 0;
    long steps = 0;
    for (long seed = first; System.nanoTime() < deadline && failed.size() < 10; seed++) {
      Run run = schedule(seed);
      runs++;
      steps += run.steps().size();
      try {
        SyncSimulationProperties.assertConverges(run.setup(), run.steps());
      } catch (AssertionError e) {
        System.out.println("FAILED: -Dlattice.faults.seed=" + seed + "\n" + e.getMessage());
        failed.add(Long.toString(seed));
      }
    }
    System.out.println(
        "soak: "
            + runs
            + " schedules, "
            + steps
            + " steps, seeds from "
            + first
            + ", failed: "
            + failed);
    if (!failed.isEmpty()) {
      throw new AssertionError(
          "schedules failed; replay each with -Dlattice.faults.seed=<seed>: " + failed);
    }
  }

  /** A run's setup and steps. */
  record Run(SyncSimulation.Setup setup, List<SimStep> steps) {}

  /** The run of {@code seed}: setup and steps drawn from one {@link Random}. */
  static Run schedule(long seed) {
    Random r = new Random(seed);
    int clients = 2 + r.nextInt(3);
    int documents = 1 + r.nextInt(2);
    List<Integer> skew = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      skew.add(r.nextInt(6001) - 3000);
    }
    int frame =
        r.nextBoolean()
            ? SyncSimulationProperties.DEFAULT_FRAME
            : SyncSimulationProperties.SMALL_FRAME;
    SyncSimulation.Setup setup =
        new SyncSimulation.Setup(clients, documents, seed, skew, frame, r.nextBoolean());
    int length = 1 + r.nextInt(MAX_STEPS);
    List<SimStep> steps = new ArrayList<>(length);
    long[] advances = {1L, 20L, 300L, 2_000L, 12_000L, 31_000L, 65_000L};
    long[] jumps = {-86_400_000L, -20_000L, -1_500L, 1_500L, 20_000L};
    long[] serverJumps = {-86_400_000L, -3_000L, 3_000L};
    for (int i = 0; i < length; i++) {
      int c = r.nextInt(4);
      int d = r.nextInt(2);
      // The weights of SyncSimulationProperties.schedules(), in the same order.
      int pick = r.nextInt(103);
      SimStep step;
      if ((pick -= 40) < 0) {
        step = new SimStep.Deliver(r.nextInt(16));
      } else if ((pick -= 18) < 0) {
        step = new SimStep.Edit(c, d, r.nextInt(SimStep.FIELDS.length), r.nextInt(11) - 5);
      } else if ((pick -= 10) < 0) {
        step = new SimStep.Commit();
      } else if ((pick -= 6) < 0) {
        step = new SimStep.Advance(advances[r.nextInt(advances.length)]);
      } else if ((pick -= 5) < 0) {
        step = new SimStep.SetPresence(c, d, r.nextInt(4));
      } else if ((pick -= 6) < 0) {
        step = new SimStep.Drop(c, r.nextBoolean());
      } else if ((pick -= 3) < 0) {
        step = new SimStep.Restart(RestartKind.values()[r.nextInt(RestartKind.values().length)]);
      } else if ((pick -= 3) < 0) {
        step = new SimStep.RestartClient(c, r.nextBoolean());
      } else if ((pick -= 3) < 0) {
        step = new SimStep.ServerEdit(d, r.nextInt(6));
      } else if ((pick -= 2) < 0) {
        step = new SimStep.Backup(c);
      } else if ((pick -= 1) < 0) {
        step = new SimStep.Restore(c);
      } else if ((pick -= 2) < 0) {
        step = new SimStep.ClockJump(c, jumps[r.nextInt(jumps.length)]);
      } else {
        step = new SimStep.ServerClockJump(serverJumps[r.nextInt(serverJumps.length)]);
      }
      steps.add(step);
    }
    return new Run(setup, steps);
  }
}

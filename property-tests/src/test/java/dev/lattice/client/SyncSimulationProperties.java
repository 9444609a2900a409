package dev.lattice.client;

import dev.lattice.client.SimStep.RestartKind;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.RandomDistribution;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.statistics.Statistics;

/**
 * The production sync logic of client and server, end to end under faults (see {@link
 * SyncSimulation}): real {@link ClientSession}s against real server sessions over the real hub,
 * with dropped connections, server restarts, store commits held back, interleaved deliveries and
 * time jumps, all seeded and deterministic. After the faults heal, every replica must equal the
 * stored document and the ground truth of the edits made: counters the sum of every increment whose
 * edit call returned, registers the greatest (timestamp, replica) write, presence as last set;
 * every client online with an empty outbox and every flush completed.
 *
 * <p>jqwik shrinks a failing schedule to a few steps and prints it with the seed; a failure message
 * also holds the last lines of the simulation's trace. Replay with {@code @Property(seed = "...")}.
 */
class SyncSimulationProperties {

  /**
   * The client logs every lost connection at INFO, thousands per run here; the trace in a failure
   * report says more. Held in a field: JUL keeps loggers weakly, and a collected one forgets its
   * level.
   */
  private static final java.util.logging.Logger CLIENT_LOG = quiet("dev.lattice.client");

  private static java.util.logging.Logger quiet(String name) {
    java.util.logging.Logger logger = java.util.logging.Logger.getLogger(name);
    logger.setLevel(java.util.logging.Level.WARNING);
    return logger;
  }

  /**
   * The kinds of fault and repair the schedules must exercise, with their minimum share of tries.
   */
  private static final Map<String, Double> COVERAGE =
      Map.of(
          "frames lost in flight", 20.0,
          "update resent", 8.0,
          "unacknowledged appends lost in a crash", 4.0,
          "restart GRACEFUL", 15.0,
          "half-open server session", 12.0,
          "server closes IDLE_TIMEOUT", 15.0,
          "client gave up on a silent connection", 15.0);

  @Property(tries = 200)
  void clientsAndServerConvergeAfterFaults(
      @ForAll @IntRange(min = 2, max = 4) int clients,
      @ForAll @IntRange(min = 1, max = 2) int documents,
      @ForAll long seed,
      @ForAll @Size(4) List<@IntRange(min = -3000, max = 3000) Integer> skewMillis,
      @ForAll("schedules") List<SimStep> steps) {
    SyncSimulation sim =
        assertConverges(new SyncSimulation.Setup(clients, documents, seed, skewMillis), steps);
    Map<String, Integer> counts = sim.counts();
    COVERAGE.keySet().forEach(k -> Statistics.label(k).collect(counts.containsKey(k)));
    COVERAGE.forEach(
        (k, min) -> Statistics.label(k).coverage(c -> c.check(true).percentage(p -> p >= min)));
  }

  /** The schedule that found the handshake without a timeout, shrunk by jqwik; kept as a replay. */
  @Example
  void aServerThatDiesSilentlyDuringTheHandshakeIsLeftBehind() {
    assertConverges(
        new SyncSimulation.Setup(2, 1, 0, List.of(0, 0, 0, 0)),
        List.of(new SimStep.Deliver(0), new SimStep.Restart(RestartKind.SILENT_CRASH)));
  }

  private static SyncSimulation assertConverges(SyncSimulation.Setup setup, List<SimStep> steps) {
    SyncSimulation sim = new SyncSimulation(setup);
    sim.run(steps);
    boolean quiescent = sim.heal();
    List<String> problems = sim.problems(true);
    if (!quiescent || !problems.isEmpty()) {
      throw new AssertionError(
          (quiescent ? "" : "not quiescent after healing; ")
              + "problems:\n  "
              + String.join("\n  ", problems)
              + "\n"
              + sim.report(200));
    }
    return sim;
  }

  @Provide
  Arbitrary<List<SimStep>> schedules() {
    Arbitrary<Integer> client = Arbitraries.integers().between(0, 3);
    Arbitrary<Integer> document = Arbitraries.integers().between(0, 1);
    Arbitrary<SimStep> edit =
        Combinators.combine(
                client,
                document,
                Arbitraries.integers().between(0, SimStep.FIELDS.length - 1),
                Arbitraries.integers().between(-5, 5))
            .as(SimStep.Edit::new);
    Arbitrary<SimStep> presence =
        Combinators.combine(client, document, Arbitraries.integers().between(0, 3))
            .as(SimStep.SetPresence::new);
    Arbitrary<SimStep> deliver = Arbitraries.integers().between(0, 15).map(SimStep.Deliver::new);
    Arbitrary<SimStep> commit = Arbitraries.just(new SimStep.Commit());
    Arbitrary<SimStep> drop =
        Combinators.combine(client, Arbitraries.of(true, false)).as(SimStep.Drop::new);
    Arbitrary<SimStep> restart = Arbitraries.of(RestartKind.class).map(SimStep.Restart::new);
    Arbitrary<SimStep> advance =
        Arbitraries.of(1L, 20L, 300L, 2_000L, 12_000L, 31_000L, 65_000L).map(SimStep.Advance::new);
    return Arbitraries.frequencyOf(
            Tuple.of(40, deliver),
            Tuple.of(18, edit),
            Tuple.of(10, commit),
            Tuple.of(6, advance),
            Tuple.of(5, presence),
            Tuple.of(6, drop),
            Tuple.of(3, restart))
        .list()
        .ofMaxSize(200)
        // jqwik favours short lists; faults need room to happen between edits and deliveries.
        .withSizeDistribution(RandomDistribution.uniform());
  }
}

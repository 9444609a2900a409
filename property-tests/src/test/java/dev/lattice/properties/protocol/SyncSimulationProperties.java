package dev.lattice.properties.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.client.internal.ClientSession;
import dev.lattice.properties.protocol.SimStep.RestartKind;
import java.util.ArrayList;
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
 * with dropped connections, server and client restarts, store commits held back, interleaved
 * deliveries, time jumps and (in half the tries) a frame limit so small that SYNCs go in parts;
 * since issue 11 also client state restored from a backup, client clocks jumping forward and back
 * (up to a day), a server restarted on a clock set back (its clock seeded from the store) and
 * CLOCK_DRIFT refusals held and resent; all seeded and deterministic. After the faults heal, every
 * replica must equal the stored document, and the document must agree with the history of edits:
 * while nothing was lost by right, exactly (counters the sum of every increment whose edit call
 * returned, registers the greatest (timestamp, replica) write); after a restore or a refusal for
 * good, by the checkers of a recorded history (each counter between the acknowledged sum and the
 * attempted one, Jepsen's counter checker; each register a value somebody wrote, at least the
 * greatest acknowledged write). Also: the server's own counter between its acknowledged and
 * attempted edits, presence as last set; every client online with an empty outbox, every flush
 * completed (or failed by a refusal the client reported), and no connection closed by a server
 * failure (1011).
 *
 * <p>jqwik shrinks a failing schedule to a few steps and prints it with the seed; a failure message
 * also holds the problems found and the last lines of the simulation's trace ({@code
 * -Dlattice.faults.trace=N} lines, 200 by default). Replay with {@code @Property(seed = "...")}.
 * Longer runs, and replays of their seeds, are {@link SyncSimulationSoakTest}'s ({@code
 * -Dlattice.soak.minutes}, {@code -Dlattice.faults.seed}); see docs/TESTING.md.
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
   * Faults and repairs the schedules must exercise, with the least share of tries (in percent) that
   * must see each: about a third of the share observed over 20,000 tries, so the guard fails when
   * the generator stops producing them, not by chance.
   */
  private static final Map<String, Double> COVERAGE =
      Map.ofEntries(
          Map.entry("frames lost in flight", 20.0),
          Map.entry("update resent", 8.0),
          Map.entry("unacknowledged appends lost in a crash", 4.0),
          Map.entry("restart GRACEFUL", 15.0),
          Map.entry("half-open server session", 12.0),
          Map.entry("server closes IDLE_TIMEOUT", 15.0),
          Map.entry("client gave up on a silent connection", 15.0),
          Map.entry("client restart", 15.0),
          Map.entry("server edit", 15.0),
          Map.entry("UPDATE_OWN sent (protocol version 2)", 10.0),
          Map.entry("set add", 23.0),
          Map.entry("set remove", 24.0),
          // Shares seen in 200 tries: 36 %, 55 %, 49 %, 25 %. "server started behind its store"
          // (about 3 %) is counted but too rare to guard without flaking.
          Map.entry("restored backup", 10.0),
          Map.entry("connection bound to an earlier id", 15.0),
          Map.entry("clock jump", 15.0),
          Map.entry("CLOCK_DRIFT refusal", 7.0));

  static final int DEFAULT_FRAME = 1_048_576;

  /** Room for WELCOME (160 bytes) and little more. */
  // Small enough that documents need several frames; large enough for WELCOME, whose limits map
  // grew past 200 bytes with the drift, catch-up and byte-rate limits.
  static final int SMALL_FRAME = 400;

  // Just above WELCOME's size, so that the pinned example's document needs several frames.
  private static final int PARTS_FRAME = 256;

  // 170 tries: issue 11's faults make each try longer; this keeps the property's CI time near
  // what 200 tries took before them.
  @Property(tries = 170)
  void clientsAndServerConvergeAfterFaults(
      @ForAll @IntRange(min = 2, max = 4) int clients,
      @ForAll @IntRange(min = 1, max = 2) int documents,
      @ForAll long seed,
      @ForAll @Size(4) List<@IntRange(min = -3000, max = 3000) Integer> skewMillis,
      @ForAll("frameLimits") int maxFrameBytes,
      @ForAll boolean tightRate,
      @ForAll("schedules") List<SimStep> steps) {
    SyncSimulation sim =
        assertConverges(
            new SyncSimulation.Setup(
                clients, documents, seed, skewMillis, maxFrameBytes, tightRate),
            steps);
    Map<String, Integer> counts = sim.counts();
    COVERAGE.keySet().forEach(k -> Statistics.label(k).collect(counts.containsKey(k)));
    COVERAGE.forEach(
        (k, min) -> Statistics.label(k).coverage(c -> c.check(true).percentage(p -> p >= min)));
  }

  /**
   * A run is a pure function of its inputs, so a reported seed replays the same story: the same
   * setup and steps give the same trace, step for step, frame for frame.
   */
  @Property(tries = 20)
  void aRunReplaysExactly(
      @ForAll @IntRange(min = 2, max = 4) int clients,
      @ForAll long seed,
      @ForAll @Size(4) List<@IntRange(min = -3000, max = 3000) Integer> skewMillis,
      @ForAll("frameLimits") int maxFrameBytes,
      @ForAll("schedules") List<SimStep> steps) {
    SyncSimulation.Setup setup =
        new SyncSimulation.Setup(clients, 2, seed, skewMillis, maxFrameBytes, true);
    String first = assertConverges(setup, steps).report(Integer.MAX_VALUE);
    String second = assertConverges(setup, steps).report(Integer.MAX_VALUE);
    assertThat(second).isEqualTo(first);
  }

  /** The schedule that found the handshake without a timeout, shrunk by jqwik; kept as a replay. */
  @Example
  void aServerThatDiesSilentlyDuringTheHandshakeIsLeftBehind() {
    assertConverges(
        new SyncSimulation.Setup(2, 1, 0, List.of(0, 0, 0, 0), DEFAULT_FRAME, false),
        List.of(new SimStep.Deliver(0), new SimStep.Restart(RestartKind.SILENT_CRASH)));
  }

  /**
   * A client that subscribes late to a document larger than the server's frame: its SYNC goes in
   * parts. Pinned here because random schedules split a SYNC in only a few percent of tries.
   */
  @Example
  void aLateSubscriberGetsADocumentLargerThanAFrameInParts() {
    List<SimStep> steps = new ArrayList<>();
    steps.add(new SimStep.Deliver(0)); // c0's connection opens
    steps.add(new SimStep.Drop(1, true)); // c1's is refused: it retries after a backoff
    for (int field = 0; field < SimStep.FIELDS.length; field++) {
      for (int writer : new int[] {0, 2, 3}) {
        steps.add(new SimStep.Edit(writer, 0, field, writer + 1));
      }
    }
    SyncSimulation sim =
        assertConverges(
            new SyncSimulation.Setup(4, 1, 0, List.of(0, 0, 0, 0), PARTS_FRAME, false), steps);
    assertThat(sim.counts()).as(sim.report(100)).containsKey("SYNC in parts");
  }

  static SyncSimulation assertConverges(SyncSimulation.Setup setup, List<SimStep> steps) {
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
              + sim.report(Integer.getInteger("lattice.faults.trace", 200)));
    }
    return sim;
  }

  /**
   * The protocol's default, or a frame so small that a few edits overflow it: SYNCs and catch-ups
   * then travel in parts whose context is claimed only once every part arrived.
   */
  @Provide
  Arbitrary<Integer> frameLimits() {
    return Arbitraries.of(DEFAULT_FRAME, SMALL_FRAME);
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
    Arbitrary<SimStep> restartClient =
        Combinators.combine(client, Arbitraries.of(true, false)).as(SimStep.RestartClient::new);
    Arbitrary<SimStep> serverEdit =
        Combinators.combine(document, Arbitraries.integers().between(0, 5))
            .as(SimStep.ServerEdit::new);
    Arbitrary<SimStep> advance =
        Arbitraries.of(1L, 20L, 300L, 2_000L, 12_000L, 31_000L, 65_000L).map(SimStep.Advance::new);
    Arbitrary<SimStep> backup = client.map(SimStep.Backup::new);
    Arbitrary<SimStep> restore = client.map(SimStep.Restore::new);
    // Forward by less than the client's own drift bound (60 s), so a held CLOCK_DRIFT resend is
    // waited out; back by up to a day.
    Arbitrary<SimStep> clockJump =
        Combinators.combine(
                client, Arbitraries.of(-86_400_000L, -20_000L, -1_500L, 1_500L, 20_000L))
            .as(SimStep.ClockJump::new);
    Arbitrary<SimStep> serverClockJump =
        Arbitraries.of(-86_400_000L, -3_000L, 3_000L).map(SimStep.ServerClockJump::new);
    return Arbitraries.frequencyOf(
            Tuple.of(40, deliver),
            Tuple.of(18, edit),
            Tuple.of(10, commit),
            Tuple.of(6, advance),
            Tuple.of(5, presence),
            Tuple.of(6, drop),
            Tuple.of(3, restart),
            Tuple.of(3, restartClient),
            Tuple.of(3, serverEdit),
            Tuple.of(2, backup),
            Tuple.of(1, restore),
            Tuple.of(2, clockJump),
            Tuple.of(1, serverClockJump))
        .list()
        .ofMaxSize(200)
        // jqwik favours short lists; faults need room to happen between edits and deliveries.
        .withSizeDistribution(RandomDistribution.uniform());
  }
}

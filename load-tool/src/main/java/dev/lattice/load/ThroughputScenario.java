package dev.lattice.load;

import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The {@code throughput} scenario: C connections, each on its own document (or all on one), each
 * keeping W G-Counter increments in flight (pipelined: the server acks in order per connection),
 * until N updates in total are acknowledged or T has passed, whichever comes first. A warm-up phase
 * of the same shape runs first and is not measured. Each phase stops sending at its bound, then
 * waits for every outstanding ACK, so the measured time covers exactly the acknowledged updates. At
 * the end, a fresh connection subscribes to every document and checks that the server's counter
 * equals the number of acknowledged increments.
 *
 * <p>Not thread-safe: {@link #run} is called by one thread, which it blocks until the run ends.
 */
final class ThroughputScenario {

  /** The counter field every update increments. */
  static final String FIELD = "n";

  /**
   * What to run.
   *
   * @param connections concurrent connections, at least 1
   * @param sharedDocument whether every connection writes the same document (then each also
   *     receives the others' updates as fan-out)
   * @param window updates in flight per connection, at least 1
   * @param updates the measured phase stops after this many updates in total, at least 1
   * @param duration or after this long, whichever comes first
   * @param warmup length of the unmeasured warm-up phase; zero for none
   * @param timeout longest wait for any one answer (ACK, WELCOME, SYNC) before the run fails
   */
  record Config(
      int connections,
      boolean sharedDocument,
      int window,
      long updates,
      Duration duration,
      Duration warmup,
      Duration timeout) {

    Config {
      positive("connections", connections);
      positive("window", window);
      positive("updates", updates);
      Runs.checkTimes(warmup, duration, timeout);
    }

    private static void positive(String name, long value) {
      if (value < 1) {
        throw new IllegalArgumentException(name + " must be at least 1, was " + value);
      }
    }
  }

  /**
   * What a run measured and checked.
   *
   * @param config what ran
   * @param warmupAcked updates acknowledged during the warm-up
   * @param sent updates sent in the measured phase
   * @param acked of those, acknowledged
   * @param errors of those, refused with an ERROR (RATE_LIMITED from a remote server, say)
   * @param firstError the first ERROR's text, or empty
   * @param seconds length of the measured phase, first send to last ACK
   * @param ackLatency send-to-ACK latency of the measured updates
   * @param serverCounter the server's counter, summed over the run's documents, read at the end
   * @param stopReason "count" or "time": which bound ended the measured phase
   * @param wireBytesPerUpdate bytes on the wire per update sent (MessagePack plus WebSocket header
   *     and mask), over the whole run
   * @param protocolVersion the protocol version the connections negotiated
   */
  record Result(
      Config config,
      long warmupAcked,
      long sent,
      long acked,
      long errors,
      String firstError,
      double seconds,
      LatencySummary ackLatency,
      long serverCounter,
      String stopReason,
      double wireBytesPerUpdate,
      int protocolVersion) {

    /** Acknowledged updates per second in the measured phase. */
    double ackedPerSecond() {
      return seconds > 0 ? acked / seconds : 0;
    }

    /** Every increment acknowledged, warm-up included. */
    long totalAcked() {
      return warmupAcked + acked;
    }

    /**
     * Whether the server's counter is right: equal to the acknowledged increments when none was
     * refused. A refused increment is still counted by the next accepted one (a G-Counter delta
     * carries its writer's total), so with refusals it must lie between acknowledged and sent.
     */
    boolean counterVerified() {
      if (errors == 0) {
        return serverCounter == totalAcked();
      }
      return serverCounter >= totalAcked() && serverCounter <= warmupAcked + sent;
    }

    /**
     * Every sent update acknowledged and the counter right. Refusals fail the run: figures from a
     * server that was refusing (RATE_LIMITED, say) do not measure what it can acknowledge.
     */
    boolean ok() {
      return errors == 0 && acked == sent && counterVerified();
    }
  }

  private ThroughputScenario() {}

  /**
   * Runs the scenario against the server at {@code uri}.
   *
   * @throws LoadException if a connection fails or an answer does not come within the timeout
   */
  static Result run(URI uri, Config config) throws InterruptedException {
    HttpClient http = HttpClient.newHttpClient();
    String prefix = Runs.documentPrefix();
    List<PipelinedWriter> writers = new ArrayList<>();
    try {
      for (int i = 0; i < config.connections(); i++) {
        String documentId = prefix + (config.sharedDocument() ? "shared" : Integer.toString(i));
        PipelinedWriter w = new PipelinedWriter(documentId, FIELD, config.window());
        w.connection = ProtocolConnection.open(http, uri, w.replica, w, config.timeout());
        writers.add(w);
        // Unblock a sender waiting for ACKs that will never come, so the run fails at once.
        w.connection.closed().whenComplete((code, error) -> w.lost());
        w.connection.subscribe(1, documentId);
      }
      long warmupAcked = 0;
      if (!config.warmup().isZero()) {
        PipelinedWriter.Phase warm =
            PipelinedWriter.phase(
                writers, config.updates(), false, config.warmup(), false, config.timeout());
        warmupAcked = warm.acked();
        if (warm.errors() > 0) {
          throw new LoadException(
              "the server refused " + warm.errors() + " warm-up updates: " + warm.firstError());
        }
      }
      PipelinedWriter.Phase measured =
          PipelinedWriter.phase(
              writers, config.updates(), false, config.duration(), true, config.timeout());
      List<Samples> latencies = new ArrayList<>();
      for (PipelinedWriter w : writers) {
        latencies.add(w.latencies);
      }
      List<String> documents = writers.stream().map(w -> w.documentId).distinct().toList();
      long counter =
          Runs.serverCounterSum(http, uri, documents, FIELD, config.timeout().multipliedBy(2));
      return new Result(
          config,
          warmupAcked,
          measured.sent(),
          measured.acked(),
          measured.errors(),
          measured.firstError(),
          measured.nanos() / 1e9,
          LatencySummary.of(Samples.concat(latencies)),
          counter,
          measured.stopReason(),
          writers.stream().mapToLong(w -> w.connection.updateWireBytes()).sum()
              / (double)
                  Math.max(1, writers.stream().mapToLong(w -> w.connection.updatesSent()).sum()),
          writers.get(0).connection.version());
    } finally {
      ProtocolConnection.closeAll(
          writers.stream().map(w -> w.connection).filter(Objects::nonNull).toList());
    }
  }
}

package dev.lattice.load;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.VersionVector;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.Update;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.LongSummaryStatistics;
import java.util.Objects;
import java.util.Set;
import java.util.function.ToLongFunction;
import org.HdrHistogram.Histogram;

/**
 * The {@code catchup} scenario, the catch-up target of the server-load issue ("catch-up of 10,000
 * missed counter updates: one round trip, under 50 ms, bytes in proportion to the fields changed").
 * A reader subscribes to a document, keeps its replica and version vector, and disconnects. Then,
 * in each repetition, W writers (each owning one G-Counter field {@code "c" + i} under its own
 * replica, as in the workload) send M increments in all, pipelined and every one acknowledged; the
 * reader reconnects and SUBSCRIBEs with its stale vector (docs/PROTOCOL.md, "Catch-up"). Measured
 * per repetition: from just before the SUBSCRIBE is handed to the socket until the SYNC is decoded,
 * with every part of a catch-up too large for one frame before it ("Deltas larger than one frame");
 * the frames and bytes the server sent in that time. The reader merges parts and SYNC, and the run
 * fails unless each of its counters then equals its writer's exact total and its version vector
 * equals the server's. The reader disconnects again, and the next repetition's writes are what it
 * misses next.
 *
 * <p>Unmeasured repetitions of the same shape warm the server up first. The run stops after R
 * measured repetitions or, once one has run, when the duration has passed.
 *
 * <p>Not thread-safe: {@link #run} is called by one thread, which it blocks until the run ends.
 */
final class CatchupScenario {

  /** The latency target of the issue, for the report. */
  static final double TARGET_MS = 50;

  /**
   * What to run.
   *
   * @param missed M: increments the writers send in all per repetition, at least one per writer
   * @param writers W, at least 1; each owns one field
   * @param repeats R measured repetitions, at least 1
   * @param window increments in flight per writer, at least 1
   * @param warmup unmeasured repetitions run until this has passed (zero for none)
   * @param duration no measured repetition starts after this (the first always runs)
   * @param timeout longest wait for any one answer (WELCOME, SYNC, ACK)
   */
  record Config(
      long missed,
      int writers,
      int repeats,
      int window,
      Duration warmup,
      Duration duration,
      Duration timeout) {

    Config {
      if (writers < 1) {
        throw new IllegalArgumentException("writers must be at least 1, was " + writers);
      }
      if (missed < writers) {
        throw new IllegalArgumentException(
            "missed must be at least the number of writers ("
                + writers
                + "), so that every writer changes its field, was "
                + missed);
      }
      if (repeats < 1) {
        throw new IllegalArgumentException("repeats must be at least 1, was " + repeats);
      }
      if (window < 1) {
        throw new IllegalArgumentException("window must be at least 1, was " + window);
      }
      Runs.checkTimes(warmup, duration, timeout);
    }

    /**
     * How long one repetition's writes may take: the longer of the duration and the timeout. A
     * repetition whose writers have not had M updates acknowledged by then fails the run.
     */
    Duration writeLimit() {
      return duration.compareTo(timeout) > 0 ? duration : timeout;
    }
  }

  /**
   * One measured catch-up.
   *
   * @param nanos SUBSCRIBE sent to SYNC decoded
   * @param frames frames the server sent for it (parts and the SYNC)
   * @param bytes their encoded bytes
   * @param wireBytes the same with WebSocket headers
   * @param fields fields the catch-up carried (those of the parts and the SYNC)
   * @param writeSeconds how long the writers took to send and have acknowledged the missed updates
   */
  record Repetition(
      long nanos, long frames, long bytes, long wireBytes, int fields, double writeSeconds) {}

  /**
   * What a run measured and checked.
   *
   * @param config what ran
   * @param protocolVersion what the reader's connections negotiated
   * @param warmupRepeats unmeasured repetitions run first
   * @param repetitions the measured ones, in order
   * @param stopReason "count" when R ran, "time" when the duration ended the run
   * @param failures what went wrong (a wrong total, a gap), empty when the run counts
   * @param loadStart /proc/loadavg before the measured repetitions
   * @param loadEnd /proc/loadavg after them
   */
  record Result(
      Config config,
      int protocolVersion,
      int warmupRepeats,
      List<Repetition> repetitions,
      String stopReason,
      List<String> failures,
      String loadStart,
      String loadEnd) {

    /** Catch-up latency of the measured repetitions, ns. */
    Histogram latency() {
      Histogram h = new Histogram(3);
      repetitions.forEach(r -> h.recordValue(r.nanos()));
      return h;
    }

    /** Frames the server sent per catch-up. */
    Span frames() {
      return Span.of(repetitions, Repetition::frames);
    }

    /** Encoded bytes the server sent per catch-up. */
    Span bytes() {
      return Span.of(repetitions, Repetition::bytes);
    }

    /** The same on the wire. */
    Span wireBytes() {
      return Span.of(repetitions, Repetition::wireBytes);
    }

    /** Fields per catch-up. */
    Span fields() {
      return Span.of(repetitions, Repetition::fields);
    }

    /** Acknowledged missed updates per second while the writers wrote, over all repetitions. */
    double writesPerSecond() {
      double seconds = repetitions.stream().mapToDouble(Repetition::writeSeconds).sum();
      return seconds > 0 ? repetitions.size() * config.missed() / seconds : 0;
    }

    /** At least one repetition measured and every catch-up exact. */
    boolean ok() {
      return failures.isEmpty() && !repetitions.isEmpty();
    }
  }

  /** The least and the largest of a figure over the repetitions; 0 and 0 for none. */
  record Span(long min, long max) {
    static Span of(List<Repetition> repetitions, ToLongFunction<Repetition> figure) {
      LongSummaryStatistics s = repetitions.stream().mapToLong(figure).summaryStatistics();
      return s.getCount() == 0 ? new Span(0, 0) : new Span(s.getMin(), s.getMax());
    }

    /** "5", or "5 to 7". */
    @Override
    public String toString() {
      return min == max
          ? String.format(Locale.ROOT, "%,d", min)
          : String.format(Locale.ROOT, "%,d to %,d", min, max);
    }
  }

  private CatchupScenario() {}

  /**
   * Runs the scenario against the server at {@code uri}.
   *
   * @throws LoadException if a connection fails, an update is refused or an answer does not come
   *     within the timeout
   */
  static Result run(URI uri, Config config) throws InterruptedException {
    HttpClient http = HttpClient.newHttpClient();
    String documentId = Runs.documentPrefix() + "catchup";
    List<PipelinedWriter> writers = new ArrayList<>();
    try {
      for (int i = 0; i < config.writers(); i++) {
        PipelinedWriter w = new PipelinedWriter(documentId, "c" + i, config.window());
        w.connection = ProtocolConnection.open(http, uri, w.replica, w, config.timeout());
        writers.add(w);
        w.connection.closed().whenComplete((code, error) -> w.lost());
        w.connection.subscribe(1, documentId);
      }
      Reader reader = new Reader(http, uri, documentId, config.timeout());
      reader.catchUp(); // the vector every later catch-up starts from

      List<String> failures = new ArrayList<>();
      int warm = 0;
      long warmEnd = System.nanoTime() + config.warmup().toNanos();
      while (!config.warmup().isZero() && (warm == 0 || System.nanoTime() - warmEnd < 0)) {
        repetition(writers, reader, config, warm + 1, failures);
        warm++;
        if (!failures.isEmpty()) {
          throw new LoadException("the warm-up failed: " + String.join("; ", failures));
        }
      }

      String loadStart = WorkloadScenario.loadAverage();
      List<Repetition> measured = new ArrayList<>();
      long deadline = System.nanoTime() + config.duration().toNanos();
      String stop = "count";
      while (measured.size() < config.repeats()) {
        if (!measured.isEmpty() && System.nanoTime() - deadline >= 0) {
          stop = "time";
          break;
        }
        measured.add(repetition(writers, reader, config, measured.size() + 1, failures));
      }
      return new Result(
          config,
          reader.version,
          warm,
          Collections.unmodifiableList(measured),
          stop,
          List.copyOf(failures),
          loadStart,
          WorkloadScenario.loadAverage());
    } finally {
      ProtocolConnection.closeAll(
          writers.stream().map(w -> w.connection).filter(Objects::nonNull).toList());
    }
  }

  /**
   * The writers miss the reader M updates, then the reader catches up; wrong totals go to {@code
   * failures}.
   */
  private static Repetition repetition(
      List<PipelinedWriter> writers, Reader reader, Config config, int index, List<String> failures)
      throws InterruptedException {
    PipelinedWriter.Phase p =
        PipelinedWriter.phase(
            writers, config.missed(), true, config.writeLimit(), false, config.timeout());
    if (p.errors() > 0 || p.acked() != config.missed() || !"count".equals(p.stopReason())) {
      throw new LoadException(
          "repetition "
              + index
              + ": the writers had "
              + p.acked()
              + " of "
              + config.missed()
              + " updates acknowledged ("
              + p.errors()
              + " refused"
              + (p.firstError().isEmpty() ? "" : ", first: " + p.firstError())
              + ", stopped by "
              + p.stopReason()
              + ")");
    }
    ProtocolConnection.Synced s = reader.catchUp();
    for (PipelinedWriter w : writers) {
      long expected = w.doc.counterValue(w.field); // every increment it ever sent, all acked
      long actual = reader.doc.counterValue(w.field);
      if (actual != expected || w.acked.get() != expected) {
        failures.add(
            "repetition "
                + index
                + ": the reader's "
                + w.field
                + " is "
                + actual
                + ", its writer sent "
                + expected
                + " and had "
                + w.acked.get()
                + " acknowledged");
      }
    }
    if (!reader.doc.versionVector().equals(s.sync().vector())) {
      failures.add(
          "repetition "
              + index
              + ": after the catch-up the reader holds "
              + reader.doc.versionVector()
              + ", the server "
              + s.sync().vector());
    }
    if (reader.errors != null) {
      failures.add("repetition " + index + ": " + reader.errors);
    }
    return new Repetition(
        s.nanos(), s.frames(), s.bytes(), s.wireBytes(), reader.fieldsLastCatchUp, p.nanos() / 1e9);
  }

  /**
   * The reader: one replica that connects only to catch up. Its receiver merges what arrives before
   * the SYNC (parts of a large catch-up) on the connection's receive thread; {@link #catchUp} reads
   * the document after the SYNC, which that thread decoded after every earlier frame.
   */
  private static final class Reader implements ProtocolConnection.Receiver {
    final HttpClient http;
    final URI uri;
    final String documentId;
    final Duration timeout;
    final ReplicaId replica = ReplicaId.random();
    final Document doc;
    final Set<String> fieldsReceived = new HashSet<>(); // guarded by doc
    volatile String errors;
    int fieldsLastCatchUp;
    int version;

    Reader(HttpClient http, URI uri, String documentId, Duration timeout) {
      this.http = http;
      this.uri = uri;
      this.documentId = documentId;
      this.timeout = timeout;
      this.doc = Document.create(documentId);
    }

    /** Connects, subscribes with the vector it holds, merges the catch-up and disconnects. */
    ProtocolConnection.Synced catchUp() {
      VersionVector stale;
      synchronized (doc) {
        fieldsReceived.clear();
        stale = doc.versionVector();
      }
      try (ProtocolConnection c = ProtocolConnection.open(http, uri, replica, this, timeout)) {
        version = c.version();
        ProtocolConnection.Synced s = c.subscribeSince(1, documentId, stale);
        synchronized (doc) {
          fieldsReceived.addAll(s.sync().delta().fields().keySet());
          doc.merge(s.sync().delta());
          fieldsLastCatchUp = fieldsReceived.size();
        }
        return s;
      }
    }

    @Override
    public void onMessage(Message message, long receivedNanos) {
      if (message instanceof Update u && u.documentId().equals(documentId)) {
        synchronized (doc) {
          fieldsReceived.addAll(u.delta().fields().keySet());
          doc.merge(u.delta());
        }
      } else if (message instanceof ErrorMessage e) {
        errors = "the reader got ERROR " + e.code() + ": " + e.message();
      }
    }
  }
}

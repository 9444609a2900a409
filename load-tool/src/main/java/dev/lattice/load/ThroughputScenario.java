package dev.lattice.load;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.protocol.Ack;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Message;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;

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
      Objects.requireNonNull(duration, "duration");
      Objects.requireNonNull(warmup, "warmup");
      Objects.requireNonNull(timeout, "timeout");
      if (duration.isNegative() || duration.isZero()) {
        throw new IllegalArgumentException("duration must be positive, was " + duration);
      }
      if (warmup.isNegative()) {
        throw new IllegalArgumentException("warmup must not be negative, was " + warmup);
      }
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("timeout must be positive, was " + timeout);
      }
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
    List<Writer> writers = new ArrayList<>();
    try {
      for (int i = 0; i < config.connections(); i++) {
        String documentId = prefix + (config.sharedDocument() ? "shared" : Integer.toString(i));
        Writer w = new Writer(documentId, config.window());
        w.connection = ProtocolConnection.open(http, uri, w.replica, w, config.timeout());
        writers.add(w);
        // Unblock a sender waiting for ACKs that will never come, so the run fails at once.
        w.connection.closed().whenComplete((code, error) -> w.lost());
        w.connection.subscribe(1, documentId);
      }
      long warmupAcked = 0;
      if (!config.warmup().isZero()) {
        Phase warm = phase(writers, config.updates(), config.warmup(), false, config.timeout());
        warmupAcked = warm.acked;
        if (warm.errors > 0) {
          throw new LoadException(
              "the server refused " + warm.errors + " warm-up updates: " + warm.firstError);
        }
      }
      Phase measured = phase(writers, config.updates(), config.duration(), true, config.timeout());
      List<Samples> latencies = new ArrayList<>();
      for (Writer w : writers) {
        latencies.add(w.latencies);
      }
      List<String> documents = writers.stream().map(w -> w.documentId).distinct().toList();
      long counter =
          Runs.serverCounterSum(http, uri, documents, FIELD, config.timeout().multipliedBy(2));
      return new Result(
          config,
          warmupAcked,
          measured.sent,
          measured.acked,
          measured.errors,
          measured.firstError,
          measured.nanos / 1e9,
          LatencySummary.of(Samples.concat(latencies)),
          counter,
          measured.stopReason,
          writers.stream().mapToLong(w -> w.connection.updateWireBytes()).sum()
              / (double)
                  Math.max(1, writers.stream().mapToLong(w -> w.connection.updatesSent()).sum()),
          writers.get(0).connection.version());
    } finally {
      ProtocolConnection.closeAll(
          writers.stream().map(w -> w.connection).filter(Objects::nonNull).toList());
    }
  }

  private record Phase(
      long sent, long acked, long errors, String firstError, long nanos, String stopReason) {}

  /**
   * One phase: every writer sends on its own thread until the shared budget or the time is spent,
   * then waits for its outstanding answers.
   */
  private static Phase phase(
      List<Writer> writers, long budget, Duration maxTime, boolean recording, Duration timeout)
      throws InterruptedException {
    AtomicLong remaining = new AtomicLong(budget);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    long[] before = new long[writers.size() * 2];
    for (int i = 0; i < writers.size(); i++) {
      Writer w = writers.get(i);
      w.recording = recording;
      before[2 * i] = w.acked.get();
      before[2 * i + 1] = w.errors.get();
    }
    List<Thread> threads = new ArrayList<>();
    long start = System.nanoTime();
    long deadline = start + maxTime.toNanos();
    for (Writer w : writers) {
      Thread t =
          Runs.daemonThreads("load-writer-" + w.documentId)
              .newThread(
                  () -> {
                    try {
                      w.pump(remaining, deadline, timeout);
                      w.drain(timeout);
                    } catch (Throwable e) {
                      failure.compareAndSet(null, e);
                    }
                  });
      threads.add(t);
      t.start();
    }
    // Each writer waits at most `timeout` per ACK and once more to drain, so this bound holds.
    Runs.joinAll(threads, deadline + timeout.multipliedBy(3).toNanos());
    long nanos = System.nanoTime() - start;
    if (failure.get() != null) {
      Throwable e = failure.get();
      throw e instanceof LoadException le ? le : new LoadException(e.toString(), e);
    }
    long sent = 0;
    long acked = 0;
    long errors = 0;
    String firstError = "";
    for (int i = 0; i < writers.size(); i++) {
      Writer w = writers.get(i);
      sent += w.sentInPhase;
      acked += w.acked.get() - before[2 * i];
      errors += w.errors.get() - before[2 * i + 1];
      if (firstError.isEmpty() && w.firstError.get() != null) {
        firstError = w.firstError.get();
      }
    }
    return new Phase(
        sent, acked, errors, firstError, nanos, remaining.get() <= 0 ? "count" : "time");
  }

  /** One connection's writer: its sender runs on a phase thread, its receiver on the socket's. */
  private static final class Writer implements ProtocolConnection.Receiver {
    final ReplicaId replica = ReplicaId.random();
    final String documentId;
    final Document doc;
    final int window;
    final Semaphore permits;
    final AtomicLongArray sentAt;
    final AtomicLong acked = new AtomicLong();
    final AtomicLong errors = new AtomicLong();
    final AtomicReference<String> firstError = new AtomicReference<>();
    final Samples latencies = new Samples(); // receive thread only, read after a drain
    volatile boolean recording;
    volatile boolean lost;
    ProtocolConnection connection;
    long nextRequest = 2; // 1 was the SUBSCRIBE; sender thread only
    long sentInPhase; // sender thread only, read after join

    Writer(String documentId, int window) {
      this.documentId = documentId;
      this.doc = Document.create(documentId);
      this.window = window;
      this.permits = new Semaphore(window);
      this.sentAt = new AtomicLongArray(window);
    }

    /** The connection ended: wake the sender, which then fails the run. */
    void lost() {
      lost = true;
      permits.release(window);
    }

    private void checkOpen() {
      if (lost) {
        throw new LoadException(
            "the connection of "
                + documentId
                + " ended during the run ("
                + connection.state()
                + ")");
      }
    }

    void pump(AtomicLong remaining, long deadline, Duration timeout) throws InterruptedException {
      sentInPhase = 0;
      while (System.nanoTime() - deadline < 0 && remaining.getAndDecrement() > 0) {
        checkOpen();
        if (!permits.tryAcquire(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
          throw new LoadException(
              "no ACK within "
                  + timeout
                  + " with "
                  + window
                  + " updates in flight on "
                  + documentId
                  + " (connection "
                  + connection.state()
                  + ")");
        }
        checkOpen();
        long request = nextRequest++;
        DocumentDelta delta = doc.incrementGCounter(replica, FIELD, 1);
        // Requests are consecutive and at most `window` are outstanding, so a slot is reused only
        // after the ACK of the request that held it released the permit taken above.
        sentAt.set(slot(request), System.nanoTime());
        connection.sendUpdate(request, documentId, delta);
        sentInPhase++;
      }
    }

    void drain(Duration timeout) throws InterruptedException {
      if (!permits.tryAcquire(window, timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new LoadException(
            "outstanding updates on "
                + documentId
                + " not answered within "
                + timeout
                + " (connection "
                + connection.state()
                + ")");
      }
      permits.release(window);
      checkOpen();
    }

    private int slot(long request) {
      return (int) (request % window);
    }

    @Override
    public void onMessage(Message message, long receivedNanos) {
      if (message instanceof Ack ack) {
        if (recording) {
          latencies.add(receivedNanos - sentAt.get(slot(ack.requestId())));
        }
        acked.incrementAndGet();
        permits.release();
      } else if (message instanceof ErrorMessage error) {
        firstError.compareAndSet(null, "ERROR " + error.code() + ": " + error.message());
        if (error.requestId().isPresent()) {
          errors.incrementAndGet();
          permits.release();
        }
      }
      // Fan-out UPDATEs (shared document) need nothing: this writer never reads the counter.
    }
  }
}

package dev.lattice.load;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.DotRange;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.Ack;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.Update;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * The {@code fanout} scenario: S subscribers of one document and one writer that sends register
 * updates at a fixed rate, each update's value being {@link System#nanoTime()} as it is sent. The
 * subscribers run in the same JVM, so each delivery's latency is its arrival time minus that value.
 * The run sends N updates or stops after T, waits until every subscriber has received every update
 * (deliveries = sent x S, checked per subscriber) and reports percentiles over all deliveries. A
 * warm-up writes another field of the same document first; its deliveries are awaited, not
 * measured.
 *
 * <p>Not thread-safe: {@link #run} is called by one thread, which it blocks until the run ends.
 */
final class FanoutScenario {

  /** The register the measured updates write. */
  static final String FIELD = "sent-at";

  /** The register the warm-up writes. */
  static final String WARMUP_FIELD = "warm-up";

  /** Updates the writer may have unacknowledged before it waits: bounds its memory. */
  private static final int MAX_IN_FLIGHT = 1024;

  /**
   * What to run.
   *
   * @param subscribers subscribers of the document, at least 1
   * @param ratePerSecond updates sent per second, at least 1
   * @param updates the measured phase sends this many updates, at least 1
   * @param duration or stops sending after this long, whichever comes first
   * @param warmup length of the unmeasured warm-up (at the same rate); zero for none
   * @param timeout longest wait for any answer, and for deliveries after the last send
   */
  record Config(
      int subscribers,
      int ratePerSecond,
      long updates,
      Duration duration,
      Duration warmup,
      Duration timeout) {

    Config {
      if (subscribers < 1) {
        throw new IllegalArgumentException("subscribers must be at least 1, was " + subscribers);
      }
      if (ratePerSecond < 1) {
        throw new IllegalArgumentException("rate must be at least 1/s, was " + ratePerSecond);
      }
      if (updates < 1) {
        throw new IllegalArgumentException("updates must be at least 1, was " + updates);
      }
      Runs.checkTimes(warmup, duration, timeout);
    }
  }

  /**
   * What a run measured and checked.
   *
   * @param config what ran
   * @param sent measured updates sent
   * @param acked of those, acknowledged to the writer
   * @param deliveries measured updates received, over all subscribers
   * @param subscribersShort subscribers that received fewer than {@code sent} (or more)
   * @param seconds from the first measured send to the last delivery
   * @param latency send-to-delivery latency over all deliveries
   * @param stopReason "count" or "time": which bound ended the sending
   */
  record Result(
      Config config,
      long sent,
      long acked,
      long deliveries,
      int subscribersShort,
      double seconds,
      LatencySummary latency,
      String stopReason) {

    /** Deliveries the run must see: every sent update at every subscriber. */
    long expectedDeliveries() {
      return sent * config.subscribers();
    }

    /** Every update acknowledged and delivered exactly once to every subscriber. */
    boolean ok() {
      return acked == sent && deliveries == expectedDeliveries() && subscribersShort == 0;
    }
  }

  private FanoutScenario() {}

  /**
   * Runs the scenario against the server at {@code uri}.
   *
   * @throws LoadException if a connection fails or an answer does not come within the timeout
   */
  static Result run(URI uri, Config config) throws InterruptedException {
    HttpClient http = HttpClient.newHttpClient();
    String documentId = Runs.documentPrefix() + "fanout";
    Deliveries deliveries = new Deliveries();
    List<Subscriber> subscribers = new ArrayList<>();
    Writer writer = new Writer(documentId);
    try {
      for (int i = 0; i < config.subscribers(); i++) {
        Subscriber s = new Subscriber(deliveries, writer);
        subscribers.add(s);
        s.connection = ProtocolConnection.open(http, uri, ReplicaId.random(), s, config.timeout());
        s.connection.subscribe(1, documentId);
        // A subscriber that is closed mid-run will never catch up: fail the run at once.
        ProtocolConnection c = s.connection;
        c.closed().whenComplete((code, error) -> deliveries.lost(c.state()));
      }
      writer.connection =
          ProtocolConnection.open(http, uri, writer.replica, writer, config.timeout());
      writer.connection.subscribe(1, documentId);

      if (!config.warmup().isZero()) {
        long warm =
            writer.send(
                WARMUP_FIELD, config.ratePerSecond(), Long.MAX_VALUE, config.warmup(), config);
        writer.drain(config.timeout());
        deliveries.await(
            Deliveries.Kind.WARMUP, warm * config.subscribers(), config.timeout(), subscribers);
      }

      long start = System.nanoTime();
      long sent =
          writer.send(FIELD, config.ratePerSecond(), config.updates(), config.duration(), config);
      String stopReason = sent >= config.updates() ? "count" : "time";
      writer.drain(config.timeout());
      long expected = sent * config.subscribers();
      deliveries.await(Deliveries.Kind.MEASURED, expected, config.timeout(), subscribers);
      long nanos = System.nanoTime() - start;

      List<Samples> all = new ArrayList<>();
      int wrong = 0;
      synchronized (deliveries) { // the subscribers' last adds happen-before this
        for (Subscriber s : subscribers) {
          all.add(s.latencies);
          if (s.latencies.size() != sent) {
            wrong++;
          }
        }
      }
      return new Result(
          config,
          sent,
          writer.acked.get() - writer.ackedBeforeMeasuring,
          deliveries.measured,
          wrong,
          nanos / 1e9,
          LatencySummary.of(Samples.concat(all)),
          stopReason);
    } finally {
      List<ProtocolConnection> connections = new ArrayList<>();
      if (writer.connection != null) {
        connections.add(writer.connection);
      }
      for (Subscriber s : subscribers) {
        if (s.connection != null) {
          connections.add(s.connection);
        }
      }
      ProtocolConnection.closeAll(connections);
    }
  }

  /** Counts deliveries over all subscribers and lets the run thread wait for a total. */
  private static final class Deliveries {
    enum Kind {
      WARMUP,
      MEASURED
    }

    private long warmup; // guarded by this
    private long measured; // guarded by this
    private String lost; // guarded by this: how the first subscriber connection ended, or null

    synchronized void lost(String state) {
      if (lost == null) {
        lost = state;
      }
      notifyAll();
    }

    synchronized void add(Kind kind) {
      if (kind == Kind.WARMUP) {
        warmup++;
      } else {
        measured++;
      }
      notifyAll();
    }

    synchronized void await(Kind kind, long target, Duration timeout, List<Subscriber> subs)
        throws InterruptedException {
      long deadline = System.nanoTime() + timeout.toNanos();
      while ((kind == Kind.WARMUP ? warmup : measured) < target) {
        if (lost != null) {
          throw new LoadException("a subscriber's connection ended during the run: " + lost);
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          long closed = subs.stream().filter(s -> s.connection.closed().isDone()).count();
          throw new LoadException(
              (kind == Kind.WARMUP ? "warm-up" : "measured")
                  + " deliveries: "
                  + (kind == Kind.WARMUP ? warmup : measured)
                  + " of "
                  + target
                  + " after waiting "
                  + timeout
                  + " ("
                  + closed
                  + " subscriber connections closed)");
        }
        TimeUnit.NANOSECONDS.timedWait(this, left);
      }
    }
  }

  /**
   * Records the latency of every measured delivery; runs on its connection's receive thread. The
   * server may join several of the writer's updates into one fan-out (a register then carries only
   * the latest value), so an update counts as delivered when a fan-out's dots include its sequence
   * number, and its latency is measured from the time the writer recorded for that number.
   */
  private static final class Subscriber implements ProtocolConnection.Receiver {
    final Deliveries deliveries;
    final Writer writer;
    final Samples latencies = new Samples();
    long lastSequence; // receive thread only
    ProtocolConnection connection;

    Subscriber(Deliveries deliveries, Writer writer) {
      this.deliveries = deliveries;
      this.writer = writer;
    }

    @Override
    public void onMessage(Message message, long receivedNanos) {
      if (!(message instanceof Update update)) {
        return;
      }
      for (DotRange range : update.delta().context().ranges()) {
        if (!range.replica().equals(writer.replica)) {
          continue;
        }
        for (long seq = Math.max(range.first(), lastSequence + 1); seq <= range.last(); seq++) {
          Long sentAt = writer.measuredSentAt.get(seq);
          if (sentAt != null) {
            synchronized (deliveries) {
              latencies.add(receivedNanos - sentAt);
              deliveries.add(Deliveries.Kind.MEASURED);
            }
          } else {
            deliveries.add(Deliveries.Kind.WARMUP);
          }
        }
        lastSequence = Math.max(lastSequence, range.last());
      }
    }
  }

  /** Sends paced register writes on the run thread; counts ACKs on the receive thread. */
  private static final class Writer implements ProtocolConnection.Receiver {
    final ReplicaId replica = ReplicaId.random();
    final String documentId;
    final Document doc;
    final HybridLogicalClock clock = new HybridLogicalClock();
    final Semaphore inFlight = new Semaphore(MAX_IN_FLIGHT);
    final AtomicLong acked = new AtomicLong();
    final AtomicReference<String> firstError = new AtomicReference<>();

    /** Send time of each measured update, by its sequence number; written before the send. */
    final Map<Long, Long> measuredSentAt = new ConcurrentHashMap<>();

    long ackedBeforeMeasuring;
    ProtocolConnection connection;
    long nextRequest = 2; // 1 was the SUBSCRIBE

    Writer(String documentId) {
      this.documentId = documentId;
      this.doc = Document.create(documentId);
    }

    /**
     * Sends up to {@code count} writes of {@code field} at {@code rate} per second, for at most
     * {@code maxTime}; returns how many it sent. Paces by a fixed schedule (the i-th send is due at
     * start + i / rate), so a late send is followed by catch-up sends, not by a lower rate.
     */
    long send(String field, int rate, long count, Duration maxTime, Config config)
        throws InterruptedException {
      ackedBeforeMeasuring = acked.get();
      long interval = 1_000_000_000L / rate;
      long start = System.nanoTime();
      long deadline = start + maxTime.toNanos();
      long sent = 0;
      while (sent < count) {
        long due = start + sent * interval;
        if (due - deadline >= 0) {
          break;
        }
        for (long wait = due - System.nanoTime(); wait > 0; wait = due - System.nanoTime()) {
          LockSupport.parkNanos(wait);
        }
        if (!inFlight.tryAcquire(config.timeout().toMillis(), TimeUnit.MILLISECONDS)) {
          throw new LoadException(
              "the writer has "
                  + MAX_IN_FLIGHT
                  + " updates unacknowledged for "
                  + config.timeout()
                  + " (connection "
                  + connection.state()
                  + ")");
        }
        if (firstError.get() != null) {
          throw new LoadException("the server refused an update: " + firstError.get());
        }
        long sentAt = System.nanoTime();
        DocumentDelta delta = doc.setRegister(replica, field, Value.of(sentAt), clock.now());
        if (FIELD.equals(field)) {
          measuredSentAt.put(delta.context().singleDot().orElseThrow().sequence(), sentAt);
        }
        connection.sendUpdate(nextRequest++, documentId, delta);
        sent++;
      }
      return sent;
    }

    void drain(Duration timeout) throws InterruptedException {
      if (!inFlight.tryAcquire(MAX_IN_FLIGHT, timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new LoadException(
            "the writer's updates were not all acknowledged within "
                + timeout
                + " (connection "
                + connection.state()
                + ")");
      }
      inFlight.release(MAX_IN_FLIGHT);
      if (firstError.get() != null) {
        throw new LoadException("the server refused an update: " + firstError.get());
      }
    }

    @Override
    public void onMessage(Message message, long receivedNanos) {
      if (message instanceof Ack) {
        acked.incrementAndGet();
        inFlight.release();
      } else if (message instanceof ErrorMessage error) {
        firstError.compareAndSet(null, "ERROR " + error.code() + ": " + error.message());
        if (error.requestId().isPresent()) {
          inFlight.release();
        }
      }
    }
  }
}

package dev.lattice.load;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.protocol.Ack;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.Update;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/**
 * The {@code workload} scenario (the tool's default), the benchmark workload of the server-load
 * issue: N clients, client g a member of document {@code g mod D}, each owning one G-Counter field
 * ({@code "c" + g}) under its own replica id and incrementing it K times, one UPDATE per increment.
 * In an open loop each client sends at R updates/s on a fixed schedule ({@link WorkloadPlan}),
 * without waiting for ACKs; in a closed loop (R = 0) it sends its next increment when the previous
 * one is acknowledged.
 *
 * <p>Every time is {@link System#nanoTime()} in this one process: the send time just before the
 * frame is handed to the socket, the receive time as the frame arrived at the receiving client.
 * Fan-out latency runs until the last other member of the document observed the update ({@link
 * WorkloadLedger}); ACK latency until the sender got its ACK. The run counts only if every update
 * was acknowledged and every client ends with its document's exact total (members x K) within the
 * time limit.
 *
 * <p>A closed-loop warm-up of the same shape on separate documents runs first, unmeasured, so the
 * JIT has compiled the paths the measured phase takes.
 *
 * <p>Not thread-safe: {@link #run} is called by one thread, which it blocks until the run ends.
 */
final class WorkloadScenario {

  /**
   * What to run.
   *
   * @param clients N, at least 1
   * @param docs D, 1 to N
   * @param updates K per client, at least 1
   * @param rate R updates/s per client; 0 for a closed loop
   * @param warmupUpdates updates per client of the closed-loop warm-up; 0 for none
   * @param timeout the measured phase may take this long beyond its schedule (open loop: K/R);
   *     connecting and subscribing each wait {@link #answerTimeout()}
   */
  record Config(
      int clients, int docs, int updates, double rate, int warmupUpdates, Duration timeout) {

    Config {
      if (clients < 1) {
        throw new IllegalArgumentException("clients must be at least 1, was " + clients);
      }
      if (docs < 1 || docs > clients) {
        throw new IllegalArgumentException(
            "docs must be between 1 and the number of clients (" + clients + "), was " + docs);
      }
      if (updates < 1) {
        throw new IllegalArgumentException("updates must be at least 1, was " + updates);
      }
      if (!(rate >= 0) || Double.isInfinite(rate)) {
        throw new IllegalArgumentException("rate must be 0 (closed loop) or positive, was " + rate);
      }
      if (warmupUpdates < 0) {
        throw new IllegalArgumentException(
            "warm-up updates must not be negative, was " + warmupUpdates);
      }
      Objects.requireNonNull(timeout, "timeout");
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("timeout must be positive, was " + timeout);
      }
    }

    boolean openLoop() {
      return rate > 0;
    }

    /** The longest wait for a WELCOME, SYNC or a send: the timeout, but at least 10 s. */
    Duration answerTimeout() {
      Duration floor = Duration.ofSeconds(10);
      return timeout.compareTo(floor) < 0 ? floor : timeout;
    }

    /** Offered load: updates/s over all clients (open loop), 0 for a closed loop. */
    double offeredPerSecond() {
      return rate * clients;
    }

    /** How long the open-loop schedule lasts; zero for a closed loop. */
    Duration schedule() {
      return openLoop() ? Duration.ofNanos(Math.round(updates / rate * 1e9)) : Duration.ZERO;
    }

    Config withRate(double newRate) {
      return new Config(clients, docs, updates, newRate, warmupUpdates, timeout);
    }
  }

  /**
   * What one phase measured and checked.
   *
   * @param config what ran
   * @param servers how many server URIs the clients were spread over
   * @param warmupUpdates updates per client of the warm-up that converged before (0: none)
   * @param warmupSeconds how long the warm-up took
   * @param sent updates sent
   * @param acked of those, acknowledged
   * @param errors ERRORs the server sent
   * @param deliveries fan-out UPDATE frames received, over all clients
   * @param observed (update, receiver) observations made; one delivery may carry several
   * @param expectedObserved observations a complete run makes
   * @param clientsWrong clients whose view of their document is not members x K
   * @param failures what went wrong, empty when the run counts
   * @param seconds first send to last ACK
   * @param fanout fan-out latency, ns, one value per update that every receiver observed
   * @param ack send-to-ACK latency, ns
   * @param wireBytesSent client-to-server bytes of the UPDATEs: encoded frame plus the WebSocket
   *     client header and mask ({@link WorkloadPlan#clientFrameBytes})
   * @param loadStart /proc/loadavg before the measured phase
   * @param loadEnd /proc/loadavg after it
   * @param sendLag open loop: how late each send left against its schedule, ns (the generator
   *     falling behind shows here); empty for a closed loop
   */
  record Result(
      Config config,
      int servers,
      int warmupUpdates,
      double warmupSeconds,
      long sent,
      long acked,
      long errors,
      long deliveries,
      long observed,
      long expectedObserved,
      int clientsWrong,
      List<String> failures,
      double seconds,
      Histogram fanout,
      Histogram ack,
      long wireBytesSent,
      String loadStart,
      String loadEnd,
      Histogram sendLag) {

    long expectedUpdates() {
      return (long) config.clients() * config.updates();
    }

    /** Every update acknowledged in time and every client converged on the exact totals. */
    boolean ok() {
      return failures.isEmpty()
          && errors == 0
          && acked == expectedUpdates()
          && observed == expectedObserved
          && clientsWrong == 0;
    }

    double ackedPerSecond() {
      return seconds > 0 ? acked / seconds : 0;
    }

    double wireBytesPerUpdate() {
      return sent > 0 ? (double) wireBytesSent / sent : 0;
    }
  }

  private WorkloadScenario() {}

  /** Warm-up (unless configured off), then the measured phase. */
  static Result run(List<URI> targets, Config config) throws InterruptedException {
    double warmSeconds = warmUp(targets, config);
    return measure(targets, config, config.warmupUpdates(), warmSeconds);
  }

  /**
   * The closed-loop warm-up: {@code config.warmupUpdates()} per client on fresh documents, which
   * must converge. Returns its length in seconds (0 when there is none).
   *
   * @throws LoadException if it does not converge
   */
  static double warmUp(List<URI> targets, Config config) throws InterruptedException {
    int warm = config.warmupUpdates();
    if (warm == 0) {
      return 0;
    }
    Config warmConfig = new Config(config.clients(), config.docs(), warm, 0, 0, config.timeout());
    Result w = phase(targets, warmConfig, Runs.documentPrefix() + "warm-", 0, 0);
    if (!w.ok()) {
      throw new LoadException("the warm-up failed: " + String.join("; ", describe(w)));
    }
    return w.seconds();
  }

  /** One measured phase on fresh documents, after a warm-up that is only reported. */
  static Result measure(List<URI> targets, Config config, int warmupUpdates, double warmupSeconds)
      throws InterruptedException {
    return phase(targets, config, Runs.documentPrefix(), warmupUpdates, warmupSeconds);
  }

  /** Why {@code r} does not count; empty when it does. */
  static List<String> describe(Result r) {
    List<String> why = new ArrayList<>(r.failures());
    if (r.acked() != r.expectedUpdates()) {
      why.add("acknowledged " + r.acked() + " of " + r.expectedUpdates() + " updates");
    }
    if (r.errors() > 0) {
      why.add(r.errors() + " ERRORs from the server");
    }
    if (r.observed() != r.expectedObserved()) {
      why.add("observed " + r.observed() + " of " + r.expectedObserved() + " (update, receiver)");
    }
    if (r.clientsWrong() > 0) {
      why.add(r.clientsWrong() + " clients did not end with their document's exact total");
    }
    return List.copyOf(new java.util.LinkedHashSet<>(why));
  }

  /** The first field of /proc/loadavg and the two after it, or "n/a" off Linux. */
  static String loadAverage() {
    try {
      String[] parts = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return parts[0] + " " + parts[1] + " " + parts[2];
    } catch (IOException | RuntimeException e) {
      return "n/a";
    }
  }

  private static Result phase(
      List<URI> targets, Config config, String prefix, int warmupUpdates, double warmupSeconds)
      throws InterruptedException {
    int n = config.clients();
    int k = config.updates();
    List<Client> clients = new ArrayList<>(n);
    Map<ReplicaId, Integer> clientOf = new HashMap<>();
    for (int g = 0; g < n; g++) {
      Client c = new Client(g, prefix + "doc-" + WorkloadPlan.documentOf(g, config.docs()), k);
      clients.add(c);
      clientOf.put(c.replica, g);
    }
    Run run = new Run(config, new WorkloadLedger(n, config.docs(), k, clientOf), clients);
    HttpClient http = HttpClient.newHttpClient();
    String loadStart = loadAverage();
    try {
      for (Client c : clients) {
        URI uri = targets.get(WorkloadPlan.serverOf(c.g, config.docs(), targets.size()));
        c.run = run;
        c.connection = ProtocolConnection.open(http, uri, c.replica, c, config.answerTimeout());
        ProtocolConnection conn = c.connection;
        conn.closed()
            .whenComplete(
                (code, error) -> run.fail("client " + c.g + "'s connection " + conn.state()));
        conn.subscribe(1, c.documentId);
      }
      long deadline = System.nanoTime() + config.schedule().toNanos() + config.timeout().toNanos();
      Thread sender = Runs.daemonThreads("workload-sender").newThread(() -> run.sendAll(deadline));
      sender.start();
      try {
        run.done.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        run.fail(
            "time limit passed (schedule "
                + config.schedule()
                + " + timeout "
                + config.timeout()
                + ")");
      } catch (ExecutionException e) {
        // run.failures holds why
      }
      run.finished = true;
      sender.join(config.timeout().toMillis());
      if (sender.isAlive()) {
        sender.interrupt();
      }
      return run.result(targets.size(), warmupUpdates, warmupSeconds, loadStart, loadAverage());
    } finally {
      run.finished = true;
      ProtocolConnection.closeAll(
          clients.stream().map(c -> c.connection).filter(Objects::nonNull).toList());
    }
  }

  /** The shared state of one phase. */
  private static final class Run {
    final Config config;
    final WorkloadLedger ledger;
    final List<Client> clients;
    final CompletableFuture<Void> done = new CompletableFuture<>();
    final AtomicLong outstanding; // ACKs plus observations still to come
    final AtomicLong firstSend = new AtomicLong(Long.MAX_VALUE);
    final AtomicLong lastAck = new AtomicLong(Long.MIN_VALUE);
    final AtomicLong errors = new AtomicLong();
    final AtomicLong deliveries = new AtomicLong();
    final AtomicLong observed = new AtomicLong();
    final Histogram ack = new ConcurrentHistogram(3);
    final Histogram sendLag = new Histogram(3); // sender thread; read after it ended
    final List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
    final LinkedBlockingQueue<Integer> ready = new LinkedBlockingQueue<>();
    volatile boolean finished;
    volatile boolean senderDone;
    long sent; // sender thread; read after join or after done
    long wireBytes; // sender thread

    Run(Config config, WorkloadLedger ledger, List<Client> clients) {
      this.config = config;
      this.ledger = ledger;
      this.clients = clients;
      this.outstanding =
          new AtomicLong(
              (long) config.clients() * config.updates() + ledger.expectedObservations());
    }

    void fail(String why) {
      if (finished) {
        return; // connections closing after the run are not failures
      }
      synchronized (failures) {
        if (failures.size() < 10 && !failures.contains(why)) {
          failures.add(why);
        }
      }
      done.completeExceptionally(new LoadException(why));
    }

    void countDown(long amount) {
      if (amount > 0 && outstanding.addAndGet(-amount) == 0) {
        done.complete(null);
      }
    }

    /** Sends every update, paced (open loop) or on ACKs (closed loop). On the sender thread. */
    void sendAll(long deadline) {
      try {
        if (config.openLoop()) {
          sendOpenLoop(deadline);
        } else {
          sendClosedLoop(deadline);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (RuntimeException e) {
        fail("sending failed: " + e.getMessage());
      } finally {
        senderDone = true;
      }
    }

    private void sendOpenLoop(long deadline) {
      int n = config.clients();
      long total = (long) n * config.updates();
      long t0 = System.nanoTime();
      // Sorting the schedule by time gives send i = (k - 1) * N + g, since g/N < 1.
      for (long i = 0; i < total && !done.isDone(); i++) {
        int g = (int) (i % n);
        int k = (int) (i / n) + 1;
        long due = t0 + WorkloadPlan.openLoopOffsetNanos(g, n, k, config.rate());
        for (long wait = due - System.nanoTime(); wait > 0; wait = due - System.nanoTime()) {
          if (done.isDone() || System.nanoTime() - deadline > 0) {
            return;
          }
          LockSupport.parkNanos(wait);
        }
        send(g, k);
        sendLag.recordValue(Math.max(0, System.nanoTime() - due));
      }
    }

    private void sendClosedLoop(long deadline) throws InterruptedException {
      long total = (long) config.clients() * config.updates();
      for (int g = 0; g < config.clients(); g++) {
        ready.add(g);
      }
      while (sent < total && !done.isDone()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return;
        }
        Integer g = ready.poll(Math.min(left, 100_000_000L), TimeUnit.NANOSECONDS);
        if (g != null) {
          Client c = clients.get(g);
          send(g, c.sentCount + 1);
        }
      }
    }

    private void send(int g, int k) {
      Client c = clients.get(g);
      DocumentDelta delta = c.doc.incrementGCounter(c.replica, c.field, 1);
      long now = System.nanoTime();
      ledger.sent(g, k, now);
      firstSend.accumulateAndGet(now, Math::min);
      c.sentCount = k;
      // UPDATE_OWN on a version 2 connection, else UPDATE.
      int bytes = c.connection.sendUpdate(c.requestIdFor(k), c.documentId, delta);
      wireBytes += WorkloadPlan.clientFrameBytes(bytes);
      sent++;
    }

    Result result(
        int servers, int warmupUpdates, double warmupSeconds, String loadStart, String loadEnd) {
      int wrong = 0;
      long acked = 0;
      for (Client c : clients) {
        acked += c.acked.get();
        if (ledger.view(c.g, c.acked.get()) != ledger.expectedView(c.g)) {
          wrong++;
        }
      }
      long first = firstSend.get();
      long last = lastAck.get();
      double seconds = first != Long.MAX_VALUE && last != Long.MIN_VALUE ? (last - first) / 1e9 : 0;
      List<String> why;
      synchronized (failures) {
        why = List.copyOf(failures);
      }
      return new Result(
          config,
          servers,
          warmupUpdates,
          warmupSeconds,
          sent,
          acked,
          errors.get(),
          deliveries.get(),
          observed.get(),
          ledger.expectedObservations(),
          wrong,
          why,
          seconds,
          ledger.fanoutLatency().copy(),
          ack.copy(),
          wireBytes,
          loadStart,
          loadEnd,
          senderDone ? sendLag.copy() : new Histogram(3));
    }
  }

  /** One client: its connection's receive thread calls {@link #onMessage}. */
  private static final class Client implements ProtocolConnection.Receiver {
    private static final int RING = 126;
    final int g;
    final String documentId;
    final String field;
    final ReplicaId replica = ReplicaId.random();
    final Document doc;
    final AtomicLong acked = new AtomicLong();
    volatile Run run;
    volatile ProtocolConnection connection;
    volatile int sentCount; // written by the sender thread
    // The request id of update k (index k), written by the sender, read when its ACK arrives.
    final AtomicLongArray requestIds;

    Client(int g, String documentId, int updates) {
      this.g = g;
      this.documentId = documentId;
      this.field = "c" + g;
      this.doc = Document.create(documentId);
      this.requestIds = new AtomicLongArray(updates + 1);
    }

    /**
     * The request id of update {@code k}: one of the one-byte ids 2 to 127 (1 was the SUBSCRIBE)
     * while fewer than 126 updates are unacknowledged, as PROTOCOL.md allows once an id is
     * answered, so the wire bytes per update measure what a client like the SDK sends; beyond that,
     * an id no ring slot can hold.
     */
    long requestIdFor(int k) {
      long unacknowledged = (k - 1) - acked.get();
      // ACKs come in order: with fewer than RING outstanding, update k - RING is acknowledged, so
      // its slot is free.
      long id = unacknowledged < RING ? 2 + (k - 1) % RING : 128L + k;
      requestIds.set(k, id);
      return id;
    }

    @Override
    public void onMessage(Message message, long receivedNanos) {
      Run r = run;
      if (message instanceof Ack a) {
        // The server answers a connection's UPDATEs in order, so this is the next one's ACK.
        long k = acked.get() + 1;
        if (k > r.config.updates() || a.requestId() != requestIds.get((int) k)) {
          r.fail("client " + g + " got an ACK for unexpected request " + a.requestId());
          return;
        }
        r.ack.recordValue(Math.max(0, receivedNanos - r.ledger.sentAt(g, (int) k)));
        r.lastAck.accumulateAndGet(receivedNanos, Math::max);
        acked.incrementAndGet();
        if (!r.config.openLoop() && k < r.config.updates()) {
          r.ready.add(g);
        }
        r.countDown(1);
      } else if (message instanceof Update u && u.requestId().isEmpty()) {
        r.deliveries.incrementAndGet();
        long newly = r.ledger.observe(g, u.delta(), receivedNanos);
        r.observed.addAndGet(newly);
        r.countDown(newly);
      } else if (message instanceof ErrorMessage e) {
        r.errors.incrementAndGet();
        r.fail("client " + g + " got ERROR " + e.code() + ": " + e.message());
      }
    }
  }
}

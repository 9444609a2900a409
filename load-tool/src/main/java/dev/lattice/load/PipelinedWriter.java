package dev.lattice.load;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.protocol.Ack;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Message;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One connection that increments its G-Counter field of one document under its own replica id,
 * keeping up to W increments in flight (pipelined: the server acks in order per connection). Its
 * sender runs on a phase thread ({@link #phase}), its receiver on the socket's. Used by the {@code
 * throughput} scenario (one field shared by every connection) and by {@code catchup} (a field per
 * writer).
 */
final class PipelinedWriter implements ProtocolConnection.Receiver {

  /**
   * What one phase did over all its writers.
   *
   * @param sent updates sent
   * @param acked of those, acknowledged
   * @param errors of those, refused with an ERROR
   * @param firstError the first ERROR's text, or empty
   * @param nanos from the start of the phase until every writer had its answers
   * @param stopReason "count" when the budget was spent, "time" when the time bound ended sending
   */
  record Phase(
      long sent, long acked, long errors, String firstError, long nanos, String stopReason) {}

  final ReplicaId replica = ReplicaId.random();
  final String documentId;
  final String field;

  /** The writer's own replica of the document; the sender thread's only. */
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

  PipelinedWriter(String documentId, String field, int window) {
    this.documentId = documentId;
    this.field = field;
    this.doc = Document.create(documentId);
    this.window = window;
    this.permits = new Semaphore(window);
    this.sentAt = new AtomicLongArray(window);
  }

  /**
   * One phase: every writer sends on its own thread until its budget or the time is spent, then
   * waits for its outstanding answers. With {@code evenSplit} writer i of n sends {@code budget /
   * n} updates, one more when {@code i < budget % n}; without, the writers draw on one shared
   * budget, each as fast as its ACKs come.
   *
   * @throws LoadException if a connection ends or an answer does not come within {@code timeout}
   */
  static Phase phase(
      List<PipelinedWriter> writers,
      long budget,
      boolean evenSplit,
      Duration maxTime,
      boolean recording,
      Duration timeout)
      throws InterruptedException {
    int n = writers.size();
    List<AtomicLong> budgets = new ArrayList<>(n);
    AtomicLong shared = new AtomicLong(budget);
    for (int i = 0; i < n; i++) {
      budgets.add(evenSplit ? new AtomicLong(budget / n + (i < budget % n ? 1 : 0)) : shared);
    }
    AtomicReference<Throwable> failure = new AtomicReference<>();
    long[] before = new long[n * 2];
    for (int i = 0; i < n; i++) {
      PipelinedWriter w = writers.get(i);
      w.recording = recording;
      before[2 * i] = w.acked.get();
      before[2 * i + 1] = w.errors.get();
    }
    List<Thread> threads = new ArrayList<>();
    long start = System.nanoTime();
    long deadline = start + maxTime.toNanos();
    for (int i = 0; i < n; i++) {
      PipelinedWriter w = writers.get(i);
      AtomicLong remaining = budgets.get(i);
      Thread t =
          Runs.daemonThreads("load-writer-" + w.documentId + "-" + w.field)
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
    for (int i = 0; i < n; i++) {
      PipelinedWriter w = writers.get(i);
      sent += w.sentInPhase;
      acked += w.acked.get() - before[2 * i];
      errors += w.errors.get() - before[2 * i + 1];
      if (firstError.isEmpty() && w.firstError.get() != null) {
        firstError = w.firstError.get();
      }
    }
    boolean spent = budgets.stream().allMatch(b -> b.get() <= 0);
    return new Phase(sent, acked, errors, firstError, nanos, spent ? "count" : "time");
  }

  /** The connection ended: wake the sender, which then fails the run. */
  void lost() {
    lost = true;
    permits.release(window);
  }

  private void checkOpen() {
    if (lost) {
      throw new LoadException(
          "the connection of " + documentId + " ended during the run (" + connection.state() + ")");
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
      DocumentDelta delta = doc.incrementGCounter(replica, field, 1);
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
    // Fan-out UPDATEs (shared document) need nothing: a writer never reads the counter.
  }
}

package dev.lattice.load;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.ReplicaId;
import java.util.Map;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/**
 * The workload's bookkeeping of who has observed which update, free of any network so it can be
 * tested alone.
 *
 * <p>Every client g owns one G-Counter and sends its count 1, 2, ..., K, one UPDATE each. The
 * server may coalesce: one fan-out delta can carry several updates of one sender (only its latest
 * count), several senders at once, and the receiver's own update. So each receiver keeps, per other
 * member of its document, the highest count it has observed; a fan-out delta that shows sender s at
 * count c marks s's updates from (previous highest + 1) to c as observed at that receive time. An
 * update's fan-out latency is from its send to the moment the last other member of its document
 * observed it; it is recorded once that last member has.
 *
 * <p>Thread-safety: {@link #sent} is called by the sending thread before the update's frame is
 * sent; {@link #observe} for one receiver by one thread at a time (its connection's receive
 * thread), different receivers concurrently. Counts and histograms are read after the run.
 */
final class WorkloadLedger {

  private final int clients;
  private final int docs;
  private final int updates;
  private final Map<ReplicaId, Integer> clientOf;
  private final AtomicLongArray sentAt; // [g * K + (k - 1)]
  private final AtomicLongArray lastObserved; // [g * K + (k - 1)]: latest receive time so far
  private final AtomicIntegerArray receiversLeft; // [g * K + (k - 1)]
  private final long[][] highest; // [receiver][sender's position in the document]
  private final Histogram fanout = new ConcurrentHistogram(3);

  /**
   * @param clients N
   * @param docs D
   * @param updates K, the updates each client sends
   * @param clientOf each client's replica id to its index g
   */
  WorkloadLedger(int clients, int docs, int updates, Map<ReplicaId, Integer> clientOf) {
    long size = (long) clients * updates;
    if (size > Integer.MAX_VALUE / 2) {
      throw new IllegalArgumentException(
          "clients x updates must stay below 2^30, was " + clients + " x " + updates);
    }
    this.clients = clients;
    this.docs = docs;
    this.updates = updates;
    this.clientOf = Map.copyOf(clientOf);
    this.sentAt = new AtomicLongArray((int) size);
    this.lastObserved = new AtomicLongArray((int) size);
    this.receiversLeft = new AtomicIntegerArray((int) size);
    this.highest = new long[clients][];
    for (int g = 0; g < clients; g++) {
      int members = WorkloadPlan.membersOf(WorkloadPlan.documentOf(g, docs), clients, docs);
      highest[g] = new long[members];
      for (int k = 0; k < updates; k++) {
        receiversLeft.set(g * updates + k, members - 1);
        lastObserved.set(g * updates + k, Long.MIN_VALUE);
      }
    }
  }

  /** Observations the run must see in all: each update by each other member of its document. */
  long expectedObservations() {
    long total = 0;
    for (int g = 0; g < clients; g++) {
      total += (long) (highest[g].length - 1) * updates;
    }
    return total;
  }

  /** Records that client {@code g} sends its {@code k}-th update (1-based) now. */
  void sent(int g, int k, long nanos) {
    sentAt.set(index(g, k), nanos);
  }

  /** When client {@code g} sent its {@code k}-th update. */
  long sentAt(int g, int k) {
    return sentAt.get(index(g, k));
  }

  private int index(int g, int k) {
    return g * updates + (k - 1);
  }

  /**
   * Receiver {@code receiver} decoded a fan-out {@code delta} at {@code receivedNanos}: marks every
   * update it newly shows as observed.
   *
   * @return how many (sender, count) updates this delta newly showed to this receiver
   */
  long observe(int receiver, DocumentDelta delta, long receivedNanos) {
    int doc = WorkloadPlan.documentOf(receiver, docs);
    long newly = 0;
    for (FieldState field : delta.fields().values()) {
      if (!(field.state() instanceof GCounter counter)) {
        continue;
      }
      for (int i = 0; i < counter.replicaCount(); i++) {
        Integer sender = clientOf.get(counter.replicaAt(i));
        if (sender == null || sender == receiver || WorkloadPlan.documentOf(sender, docs) != doc) {
          continue; // a verifier, the receiver's own update, or (never) another document's
        }
        newly += observe(receiver, sender, counter.countAt(i), receivedNanos);
      }
    }
    return newly;
  }

  /**
   * Receiver observed {@code sender} at {@code count}; see {@link #observe(int, DocumentDelta,
   * long)}.
   */
  long observe(int receiver, int sender, long count, long receivedNanos) {
    int position = WorkloadPlan.positionOf(sender, docs);
    long before = highest[receiver][position];
    long upTo = Math.min(count, updates);
    if (upTo <= before) {
      return 0;
    }
    highest[receiver][position] = upTo;
    for (long k = before + 1; k <= upTo; k++) {
      int at = index(sender, (int) k);
      // Publish this receiver's time before counting it off, so the last one sees every time.
      lastObserved.accumulateAndGet(at, receivedNanos, Math::max);
      if (receiversLeft.decrementAndGet(at) == 0) {
        fanout.recordValue(Math.max(0, lastObserved.get(at) - sentAt.get(at)));
      }
    }
    return upTo - before;
  }

  /** The highest count of {@code sender} that {@code receiver} has observed. */
  long highestObserved(int receiver, int sender) {
    return highest[receiver][WorkloadPlan.positionOf(sender, docs)];
  }

  /**
   * Client {@code g}'s view of its document's total: its own count plus the highest count it
   * observed of every other member.
   */
  long view(int g, long ownCount) {
    long total = ownCount;
    int own = WorkloadPlan.positionOf(g, docs);
    for (int p = 0; p < highest[g].length; p++) {
      if (p != own) {
        total += highest[g][p];
      }
    }
    return total;
  }

  /** The total every member of {@code g}'s document must see: members x K. */
  long expectedView(int g) {
    return (long) highest[g].length * updates;
  }

  /** Fan-out latency (ns) of every update that all other members of its document observed. */
  Histogram fanoutLatency() {
    return fanout;
  }
}

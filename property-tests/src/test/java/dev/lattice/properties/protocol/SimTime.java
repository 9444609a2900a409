package dev.lattice.properties.protocol;

import java.util.Comparator;
import java.util.PriorityQueue;

/**
 * The one clock of a {@link SyncSimulation}: monotonic nanoseconds that move only when the
 * simulation advances them, and the timers of every process (client sessions, server sessions, the
 * hub) in one queue, so timers fire in due order across processes and a crashed server's timers can
 * be dropped by owner.
 *
 * <p>Not thread-safe: the simulation is single-threaded.
 */
final class SimTime {

  /** A timer; cancelled timers stay queued and are skipped. */
  static final class Timer {
    final long dueNanos;
    final long order;
    final Object owner;
    final Runnable task;
    boolean cancelled;

    Timer(long dueNanos, long order, Object owner, Runnable task) {
      this.dueNanos = dueNanos;
      this.order = order;
      this.owner = owner;
      this.task = task;
    }

    void cancel() {
      cancelled = true;
    }
  }

  private final PriorityQueue<Timer> timers =
      new PriorityQueue<>(
          Comparator.<Timer>comparingLong(t -> t.dueNanos).thenComparingLong(t -> t.order));
  private long nowNanos = 1_000_000_000L;
  private long order;

  long nanoTime() {
    return nowNanos;
  }

  /** Milliseconds since the simulation started, for wall clocks. */
  long elapsedMillis() {
    return (nowNanos - 1_000_000_000L) / 1_000_000L;
  }

  Timer schedule(Object owner, long delayNanos, Runnable task) {
    Timer timer = new Timer(nowNanos + Math.max(0, delayNanos), order++, owner, task);
    timers.add(timer);
    return timer;
  }

  /** Moves time forward by {@code nanos}, running every timer that falls due, in due order. */
  void advance(long nanos) {
    long target = nowNanos + nanos;
    while (true) {
      Timer next = peekLive();
      if (next == null || next.dueNanos > target) {
        break;
      }
      timers.poll();
      nowNanos = Math.max(nowNanos, next.dueNanos);
      next.task.run();
    }
    nowNanos = target;
  }

  /** Moves time to the next live timer and runs it; false if there is none. */
  boolean runNext() {
    Timer next = peekLive();
    if (next == null) {
      return false;
    }
    timers.poll();
    nowNanos = Math.max(nowNanos, next.dueNanos);
    next.task.run();
    return true;
  }

  /** Cancels every timer of {@code owner} (a crashed process). */
  void cancelOwnedBy(Object owner) {
    for (Timer t : timers) {
      if (t.owner == owner) {
        t.cancelled = true;
      }
    }
  }

  private Timer peekLive() {
    while (!timers.isEmpty() && timers.peek().cancelled) {
      timers.poll();
    }
    return timers.peek();
  }
}

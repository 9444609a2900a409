package dev.lattice.properties.sim;

import java.util.Comparator;
import java.util.PriorityQueue;

/**
 * The one clock of a seeded simulation (the protocol simulation, the multi-server one): monotonic
 * nanoseconds that move only when the simulation advances them, and the timers of every process
 * (client and server sessions, hubs, replicators) in one queue, so timers fire in due order across
 * processes and a crashed process's timers can be dropped by owner.
 *
 * <p>Not thread-safe: the simulation is single-threaded.
 */
public final class SimTime {

  /** Where {@link #wallMillis} starts. */
  public static final long EPOCH_MILLIS = 1_700_000_000_000L;

  private static final long START_NANOS = 1_000_000_000L;

  /** A timer; cancelled timers stay queued and are skipped. */
  public static final class Timer {
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

    public void cancel() {
      cancelled = true;
    }
  }

  private final PriorityQueue<Timer> timers =
      new PriorityQueue<>(
          Comparator.<Timer>comparingLong(t -> t.dueNanos).thenComparingLong(t -> t.order));
  private long nowNanos = START_NANOS;
  private long order;

  public long nanoTime() {
    return nowNanos;
  }

  /** A wall clock: milliseconds since the epoch, moving with the simulation. */
  public long wallMillis() {
    return EPOCH_MILLIS + elapsedMillis();
  }

  /** Milliseconds since the simulation started, for wall clocks. */
  public long elapsedMillis() {
    return (nowNanos - START_NANOS) / 1_000_000L;
  }

  public Timer schedule(Object owner, long delayNanos, Runnable task) {
    Timer timer = new Timer(nowNanos + Math.max(0, delayNanos), order++, owner, task);
    timers.add(timer);
    return timer;
  }

  /** Moves time forward by {@code nanos}, running every timer that falls due, in due order. */
  public void advance(long nanos) {
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
  public boolean runNext() {
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
  public void cancelOwnedBy(Object owner) {
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

package dev.lattice.client.internal;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Timers under a manual clock: tasks run only when the test advances time. Not thread-safe. */
final class ManualScheduler implements ClientScheduler {

  private final class Task implements Cancellable {
    final long dueNanos;
    final long order;
    final Runnable runnable;
    boolean cancelled;

    Task(long dueNanos, long order, Runnable runnable) {
      this.dueNanos = dueNanos;
      this.order = order;
      this.runnable = runnable;
    }

    @Override
    public void cancel() {
      cancelled = true;
    }
  }

  private final List<Task> tasks = new ArrayList<>();
  private long nowNanos = 1_000_000_000L;
  private long order;
  final List<Long> delays = new ArrayList<>();

  long nanoTime() {
    return nowNanos;
  }

  @Override
  public Cancellable schedule(Runnable task, long delayMillis) {
    delays.add(delayMillis);
    Task t = new Task(nowNanos + delayMillis * 1_000_000L, order++, task);
    tasks.add(t);
    return t;
  }

  /** Moves time forward, running every task that falls due, in due order. */
  void advanceMillis(long millis) {
    long target = nowNanos + millis * 1_000_000L;
    while (true) {
      Task next =
          tasks.stream()
              .filter(t -> !t.cancelled && t.dueNanos <= target)
              .min(Comparator.<Task>comparingLong(t -> t.dueNanos).thenComparingLong(t -> t.order))
              .orElse(null);
      if (next == null) {
        break;
      }
      tasks.remove(next);
      nowNanos = Math.max(nowNanos, next.dueNanos);
      next.runnable.run();
    }
    nowNanos = target;
  }

  long pending() {
    return tasks.stream().filter(t -> !t.cancelled).count();
  }
}

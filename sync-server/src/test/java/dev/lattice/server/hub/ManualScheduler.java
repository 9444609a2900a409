package dev.lattice.server.hub;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** A {@link HubScheduler} whose time moves only when the test calls {@link #advance}. */
final class ManualScheduler implements HubScheduler {

  private static final class Task {
    final long due;
    final long order;
    final Runnable action;
    boolean cancelled;

    Task(long due, long order, Runnable action) {
      this.due = due;
      this.order = order;
      this.action = action;
    }
  }

  private final List<Task> tasks = new ArrayList<>();
  private long now;
  private long sequence;

  @Override
  public synchronized Cancellable schedule(Runnable task, Duration delay) {
    Task t = new Task(now + Math.max(0, delay.toNanos()), sequence++, task);
    tasks.add(t);
    return () -> {
      synchronized (this) {
        t.cancelled = true;
      }
    };
  }

  @Override
  public synchronized long nanoTime() {
    return now;
  }

  /** Moves time forward, running every task that falls due, in due order, on this thread. */
  void advance(Duration by) {
    long target;
    synchronized (this) {
      target = now + by.toNanos();
    }
    while (true) {
      Task next;
      synchronized (this) {
        next =
            tasks.stream()
                .filter(t -> !t.cancelled && t.due <= target)
                .min(Comparator.<Task>comparingLong(t -> t.due).thenComparingLong(t -> t.order))
                .orElse(null);
        if (next == null) {
          now = target;
          tasks.removeIf(t -> t.cancelled);
          return;
        }
        tasks.remove(next);
        now = Math.max(now, next.due);
      }
      next.action.run();
    }
  }
}

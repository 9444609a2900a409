package dev.lattice.server.session;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.LongSupplier;

/** A nanosecond clock and scheduler that move only when a test calls {@link #advance}. */
final class ManualTime implements LongSupplier, SessionScheduler {

  private long nanos = 1_000_000_000L;
  private long seq;
  private final List<Timer> timers = new ArrayList<>();

  @Override
  public long getAsLong() {
    return nanos;
  }

  @Override
  public Cancellable schedule(Runnable task, long delayNanos) {
    Timer timer = new Timer(nanos + delayNanos, seq++, task);
    timers.add(timer);
    return () -> timer.cancelled = true;
  }

  /** Moves time forward by {@code d}, running every timer that falls due, in due order. */
  void advance(Duration d) {
    long target = nanos + d.toNanos();
    while (true) {
      Timer next =
          timers.stream()
              .filter(t -> !t.cancelled && t.due <= target)
              .min(Comparator.comparingLong((Timer t) -> t.due).thenComparingLong(t -> t.seq))
              .orElse(null);
      if (next == null) {
        break;
      }
      timers.remove(next);
      nanos = Math.max(nanos, next.due);
      next.task.run();
    }
    nanos = target;
  }

  long pendingTimers() {
    return timers.stream().filter(t -> !t.cancelled).count();
  }

  private static final class Timer {
    final long due;
    final long seq;
    final Runnable task;
    boolean cancelled;

    Timer(long due, long seq, Runnable task) {
      this.due = due;
      this.seq = seq;
      this.task = task;
    }
  }
}

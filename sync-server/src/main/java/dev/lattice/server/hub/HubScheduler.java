package dev.lattice.server.hub;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Time as the hub sees it: a monotonic clock and delayed tasks, used for presence expiry. Injected
 * (like Caffeine's {@code Ticker} and {@code Scheduler}) so tests drive time by hand instead of
 * sleeping.
 *
 * <p>Implementations are thread-safe: the hub schedules from its document executors. Tasks may run
 * on any thread; the hub hands them straight back to the document's serial executor.
 */
public interface HubScheduler {

  /**
   * Runs {@code task} once, no earlier than {@code delay} from now.
   *
   * @return a handle that cancels the task if it has not started yet
   */
  Cancellable schedule(Runnable task, Duration delay);

  /** A monotonic reading in nanoseconds, comparable only with other readings of this scheduler. */
  long nanoTime();

  /** A scheduled task that can be called off. */
  @FunctionalInterface
  interface Cancellable {
    /** Stops the task from running if it has not started; harmless when it has. */
    void cancel();
  }

  /** A scheduler over {@code service} and {@link System#nanoTime()}. */
  static HubScheduler of(ScheduledExecutorService service) {
    Objects.requireNonNull(service, "service");
    return new HubScheduler() {
      @Override
      public Cancellable schedule(Runnable task, Duration delay) {
        ScheduledFuture<?> future =
            service.schedule(task, Math.max(0, delay.toNanos()), TimeUnit.NANOSECONDS);
        return () -> future.cancel(false);
      }

      @Override
      public long nanoTime() {
        return System.nanoTime();
      }
    };
  }
}

package dev.lattice.server.session;

import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs a task once after a delay: the session's only source of timers (idle pings and the idle
 * timeout). Injected so that tests and simulations advance time by hand.
 *
 * <p>Implementations are thread-safe; tasks may run on any thread.
 */
@FunctionalInterface
public interface SessionScheduler {

  /**
   * Runs {@code task} once, {@code delayNanos} (at least 0) from now, unless cancelled first. Never
   * early; a coarse implementation ({@link SessionTimerWheel}) may run it up to its granularity
   * late.
   */
  Cancellable schedule(Runnable task, long delayNanos);

  /** A scheduled task that can still be cancelled. */
  @FunctionalInterface
  interface Cancellable {

    /** Stops the task from running if it has not started; does nothing otherwise. */
    void cancel();
  }

  /** A scheduler backed by {@code executor}, which keeps its own thread(s). */
  static SessionScheduler of(ScheduledExecutorService executor) {
    Objects.requireNonNull(executor, "executor");
    return (task, delayNanos) -> {
      ScheduledFuture<?> future = executor.schedule(task, delayNanos, TimeUnit.NANOSECONDS);
      return () -> future.cancel(false);
    };
  }
}

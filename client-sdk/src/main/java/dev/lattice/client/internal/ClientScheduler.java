package dev.lattice.client.internal;

/**
 * Timers of the {@link ClientSession}: tasks run on the session's thread after a delay. Production
 * uses the session's scheduled executor; tests a manual clock.
 *
 * <p>Implementations are thread-safe.
 */
public interface ClientScheduler {

  /** Runs {@code task} on the session's thread after {@code delayMillis}. */
  Cancellable schedule(Runnable task, long delayMillis);

  /** A scheduled task. */
  interface Cancellable {
    /** Cancels the task if it has not run yet. Idempotent. */
    void cancel();
  }
}

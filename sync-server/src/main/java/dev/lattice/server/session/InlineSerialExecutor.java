package dev.lattice.server.session;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Runs tasks one at a time, in submission order, on the submitting threads (a trampoline): the
 * thread that finds the executor idle drains the queue, including tasks other threads add
 * meanwhile. A task that submits another never runs it re-entrantly; it runs after the current task
 * returns.
 *
 * <p>Thread-safe. Never blocks a submitter on another's task: a submitter either drains or leaves.
 */
final class InlineSerialExecutor implements Executor {

  private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean draining = new AtomicBoolean();
  private final Thread.UncaughtExceptionHandler onFailure;

  InlineSerialExecutor(Thread.UncaughtExceptionHandler onFailure) {
    this.onFailure = onFailure;
  }

  @Override
  public void execute(Runnable task) {
    tasks.add(task);
    // Re-check after releasing: a task added between the last poll and the release would be
    // stranded.
    while (!tasks.isEmpty() && draining.compareAndSet(false, true)) {
      try {
        Runnable next;
        while ((next = tasks.poll()) != null) {
          try {
            next.run();
          } catch (RuntimeException e) {
            onFailure.uncaughtException(Thread.currentThread(), e);
          }
        }
      } finally {
        draining.set(false);
      }
    }
  }
}

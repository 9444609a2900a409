package dev.lattice.server.session;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;

/**
 * Runs tasks one at a time, in submission order, on the submitting threads (a trampoline): the
 * thread that finds the executor idle drains the queue, including tasks other threads add
 * meanwhile. A task that submits another never runs it re-entrantly; it runs after the current task
 * returns.
 *
 * <p>Thread-safe. Never blocks a submitter on another's task: a submitter either drains or leaves.
 */
final class InlineSerialExecutor implements Executor {

  // A field updater rather than an AtomicBoolean: one object fewer on every connection.
  private static final AtomicIntegerFieldUpdater<InlineSerialExecutor> DRAINING =
      AtomicIntegerFieldUpdater.newUpdater(InlineSerialExecutor.class, "draining");

  private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
  private volatile int draining; // 1 while a thread drains
  private final Thread.UncaughtExceptionHandler onFailure;

  InlineSerialExecutor(Thread.UncaughtExceptionHandler onFailure) {
    this.onFailure = onFailure;
  }

  @Override
  public void execute(Runnable task) {
    tasks.add(task);
    // Re-check after releasing: a task added between the last poll and the release would be
    // stranded.
    while (!tasks.isEmpty() && DRAINING.compareAndSet(this, 0, 1)) {
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
        draining = 0;
      }
    }
  }
}

package dev.lattice.server.hub;

import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Runs tasks one at a time, in submission order, on a shared {@link Executor}: the single writer of
 * one document. A small actor: a queue and a flag saying whether a drain is scheduled, so no thread
 * is held while the queue is empty and a document costs nothing when idle.
 *
 * <p>Each task happens-before the next (the queue and the flag publish it), so state touched only
 * from tasks needs no locks. A task that throws is logged and does not stop later tasks. A drain
 * runs at most {@link #BATCH} tasks before yielding the pool thread, so one busy document cannot
 * starve the others sharing the pool. A drain runs inside a {@link WriteBatch}: the frames its
 * tasks send (a round's ACKs and fan-out) leave as one write per connection when the drain ends.
 *
 * <p>Thread-safe: {@link #execute} may be called from any thread, also from inside a task.
 */
final class SerialExecutor implements Executor {

  private static final System.Logger LOG = System.getLogger(SerialExecutor.class.getName());
  static final int BATCH = 64;

  private final Executor delegate;
  private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean scheduled = new AtomicBoolean();

  SerialExecutor(Executor delegate) {
    this.delegate = Objects.requireNonNull(delegate, "delegate");
  }

  /**
   * Queues {@code task} behind every task submitted before it.
   *
   * @throws java.util.concurrent.RejectedExecutionException if the shared executor refuses to run
   *     the drain (it is shut down); the task stays queued but will not run
   */
  @Override
  public void execute(Runnable task) {
    tasks.add(Objects.requireNonNull(task, "task"));
    scheduleDrain();
  }

  private void scheduleDrain() {
    if (scheduled.compareAndSet(false, true)) {
      try {
        delegate.execute(this::drain);
      } catch (RuntimeException e) {
        scheduled.set(false);
        throw e;
      }
    }
  }

  private void drain() {
    WriteBatch.open();
    try {
      for (int i = 0; i < BATCH; i++) {
        Runnable task = tasks.poll();
        if (task == null) {
          break;
        }
        try {
          task.run();
        } catch (RuntimeException e) {
          LOG.log(System.Logger.Level.ERROR, "document task failed", e);
        }
      }
    } finally {
      // Flushed before the flag drops, so the next drain, perhaps on another thread, writes after
      // everything this one held back.
      WriteBatch.close();
      scheduled.set(false);
      // A task may have arrived after the last poll but before the flag dropped: its execute()
      // saw the flag still set and did not schedule, so we must.
      if (!tasks.isEmpty()) {
        scheduleDrain();
      }
    }
  }
}

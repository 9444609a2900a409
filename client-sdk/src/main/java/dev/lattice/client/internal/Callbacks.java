package dev.lattice.client.internal;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;

/**
 * Hands listener calls to the application's callback executor, one task per event so that events
 * keep their order on a serial executor (such as {@code SwingUtilities::invokeLater}), and isolates
 * listeners from each other: one that throws is logged and the others still run.
 *
 * <p>Thread-safe: {@link #deliver} may be called from any thread.
 */
public final class Callbacks {

  private static final Logger LOG = System.getLogger(Callbacks.class.getName());

  private final Executor executor;

  public Callbacks(Executor executor) {
    this.executor = executor;
  }

  /** Calls every listener of {@code listeners} (a snapshot) with {@code event}, on the executor. */
  public <E> void deliver(List<? extends Consumer<? super E>> listeners, E event) {
    if (listeners.isEmpty()) {
      return;
    }
    List<? extends Consumer<? super E>> snapshot = List.copyOf(listeners);
    try {
      executor.execute(
          () -> {
            for (Consumer<? super E> listener : snapshot) {
              try {
                listener.accept(event);
              } catch (RuntimeException | Error e) {
                if (e instanceof VirtualMachineError) {
                  throw e;
                }
                LOG.log(Level.WARNING, "a Lattice listener threw on " + event + "; ignored", e);
              }
            }
          });
    } catch (RejectedExecutionException e) {
      // The application shut its executor down (or the client is closing): nobody is listening.
      LOG.log(Level.DEBUG, "callback executor refused an event; dropped " + event);
    }
  }

  /** Runs {@code task} on the executor; inline if the executor refuses it (it is shut down). */
  void run(Runnable task) {
    try {
      executor.execute(task);
    } catch (RejectedExecutionException e) {
      task.run();
    }
  }
}

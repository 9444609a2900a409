package dev.lattice.examples;

import static org.assertj.core.api.Assertions.fail;

import dev.lattice.client.LatticeClient;
import dev.lattice.client.LatticeDocument;
import dev.lattice.client.Registration;
import java.awt.EventQueue;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import javax.swing.Timer;

/**
 * Waits for what a panel shows, never on sleeps: the condition is re-checked on the EDT after every
 * event of the client and document the panel follows (the panel registered its listeners first and
 * one event's listeners run in order in one EDT task, so the panel has already updated for that
 * event), and every {@value #RECHECK_MILLIS} ms by a Swing timer until the deadline. The timer is
 * needed: the SDK takes its snapshot of the listeners before handing an event to the EDT, so an
 * event already in flight when a waiter registers updates the panel without calling the waiter, and
 * if it was the last event the waiter would otherwise miss it (seen once in five runs).
 */
final class EdtAwaits {

  static final long TIMEOUT_SECONDS = 10;

  static final int RECHECK_MILLIS = 20;

  private EdtAwaits() {}

  /** Waits until {@code condition}, read on the EDT, holds; fails showing {@code actual}. */
  static void until(
      LatticeClient client,
      LatticeDocument document,
      Supplier<Boolean> condition,
      Supplier<?> actual,
      String description)
      throws Exception {
    CompletableFuture<Void> reached = new CompletableFuture<>();
    Runnable check =
        () -> {
          if (condition.get()) {
            reached.complete(null);
          }
        };
    Timer recheck = new Timer(RECHECK_MILLIS, e -> check.run());
    List<Registration> registrations =
        call(
            () -> {
              List<Registration> r =
                  List.of(
                      client.onConnectionState(s -> check.run()),
                      document.onChange(e -> check.run()),
                      document.onPresence(e -> check.run()));
              check.run();
              recheck.start();
              return r;
            });
    try {
      reached.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      fail(
          "%s within %d s; shows %s instead",
          description, TIMEOUT_SECONDS, call(() -> String.valueOf(actual.get())));
    } finally {
      run(
          () -> {
            recheck.stop();
            registrations.forEach(Registration::close);
          });
    }
  }

  /** Runs {@code task} on the EDT and waits for it. */
  static void run(Runnable task) throws Exception {
    EventQueue.invokeAndWait(task);
  }

  /** Calls {@code task} on the EDT and returns its result. */
  static <T> T call(Callable<T> task) throws Exception {
    AtomicReference<T> result = new AtomicReference<>();
    AtomicReference<Exception> failure = new AtomicReference<>();
    EventQueue.invokeAndWait(
        () -> {
          try {
            result.set(task.call());
          } catch (Exception e) {
            failure.set(e);
          }
        });
    if (failure.get() != null) {
      throw failure.get();
    }
    return result.get();
  }
}

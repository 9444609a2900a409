package dev.lattice.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/** Waits on listeners, never on sleeps: each helper completes a future from the events. */
final class Awaits {

  static final long TIMEOUT_SECONDS = 10;

  private Awaits() {}

  /**
   * Waits until {@code read} returns {@code expected}, re-reading on every change of {@code doc}.
   */
  static <T> void awaitValue(LatticeDocument doc, Supplier<T> read, T expected) throws Exception {
    CompletableFuture<Void> reached = new CompletableFuture<>();
    Runnable check =
        () -> {
          try {
            if (Objects.equals(read.get(), expected)) {
              reached.complete(null);
            }
          } catch (RuntimeException e) {
            // A transient type conflict: read again on the next change.
          }
        };
    try (Registration r = doc.onChange(e -> check.run())) {
      check.run();
      reached.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      assertThat(read.get())
          .as("value of %s within %d s", doc.id(), TIMEOUT_SECONDS)
          .isEqualTo(expected);
    }
  }

  /** Waits until the client's connection is in {@code state}. */
  static void awaitState(LatticeClient client, ConnectionStatus.State state) throws Exception {
    CompletableFuture<Void> reached = new CompletableFuture<>();
    try (Registration r =
        client.onConnectionState(
            s -> {
              if (s.state() == state) {
                reached.complete(null);
              }
            })) {
      if (client.connectionState().state() == state) {
        return;
      }
      reached.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }
  }

  static <T> T get(CompletableFuture<T> future) throws Exception {
    return future.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
  }
}

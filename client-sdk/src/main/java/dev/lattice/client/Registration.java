package dev.lattice.client;

/**
 * A listener registration; {@link #close()} removes the listener. Closing twice does nothing.
 *
 * <p>Thread-safe: may be closed from any thread, including from inside the listener itself. A
 * callback already handed to the callback executor may still run once after {@code close()}.
 */
@FunctionalInterface
public interface Registration extends AutoCloseable {

  /** Removes the listener. Idempotent; never throws. */
  @Override
  void close();
}

package dev.lattice.server;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Closes what a test opened, last opened first, even when one close fails (the first failure is
 * thrown with the others suppressed). Public for the other modules' tests, which get it through
 * this module's test jar. Not thread-safe: one per test, used by the test thread.
 */
public final class Closer {

  private final Deque<AutoCloseable> open = new ArrayDeque<>();

  public <T extends AutoCloseable> T add(T closeable) {
    open.push(closeable);
    return closeable;
  }

  /** Closes everything added, last first. */
  public void closeAll() throws Exception {
    Exception failure = null;
    while (!open.isEmpty()) {
      try {
        open.pop().close();
      } catch (Exception e) {
        if (failure == null) {
          failure = e;
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }
}

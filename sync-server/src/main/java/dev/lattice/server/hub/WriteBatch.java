package dev.lattice.server.hub;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

/**
 * Corks the output of one thread for the length of a unit of work: frames a transport is given
 * while a batch is open on the sending thread may be held back, and each transport that held some
 * is flushed once when the outermost batch closes.
 *
 * <p>Why: a document's round acknowledges each of its senders and fans the joined delta out to
 * every subscriber, all on the document's thread. Written one by one, a sender's ACK and the
 * round's fan-out are two socket writes, and the profile of the hot-document run was dominated by
 * {@code writev}. Held back until the round's tasks are done, they leave as one write per
 * connection, whatever the number of frames. The hub opens a batch around each drain of a
 * document's task queue ({@link SerialExecutor}), so nothing waits longer than the tasks of that
 * drain.
 *
 * <p>A transport that does not {@link #join} writes at once, and one called on a thread with no
 * open batch must write at once: frames are never held by a thread that will not flush them.
 *
 * <p>Thread-safety: each thread has its own batch; the static methods act on the calling thread's.
 * A {@link Flushable} may be joined by batches of several threads at once (two documents fanning
 * out to one connection): each batch flushes it, which is harmless.
 */
public final class WriteBatch {

  /** A transport that held frames back and must write them when the batch closes. */
  @FunctionalInterface
  public interface Flushable {
    /** Writes whatever the transport held back. Called once per batch; must not block. */
    void flushBatch();
  }

  private static final System.Logger LOG = System.getLogger(WriteBatch.class.getName());
  private static final ThreadLocal<WriteBatch> BATCHES = new ThreadLocal<>();

  private int depth;
  private final Set<Flushable> held = Collections.newSetFromMap(new IdentityHashMap<>());

  private WriteBatch() {}

  /**
   * Opens a batch on the calling thread, or nests in the one already open; every {@code open()}
   * must be matched by a {@link #close()} in a {@code finally} block.
   */
  public static void open() {
    WriteBatch batch = BATCHES.get();
    if (batch == null) {
      batch = new WriteBatch();
      BATCHES.set(batch);
    }
    batch.depth++;
  }

  /**
   * Closes the calling thread's batch; the outermost close flushes every transport that joined it.
   * A transport whose flush throws is logged and does not stop the others.
   */
  public static void close() {
    WriteBatch batch = BATCHES.get();
    if (batch == null || batch.depth == 0) {
      throw new IllegalStateException("no write batch is open on this thread");
    }
    if (--batch.depth == 0) {
      batch.flush();
    }
  }

  /**
   * Registers {@code transport} with the batch open on the calling thread, if any.
   *
   * @return true if a batch is open, so the transport may hold the frame it is writing until the
   *     batch closes; false if it must write now
   */
  public static boolean join(Flushable transport) {
    WriteBatch batch = BATCHES.get();
    if (batch == null || batch.depth == 0) {
      return false;
    }
    batch.held.add(transport);
    return true;
  }

  /** Whether a batch is open on the calling thread. */
  public static boolean isOpen() {
    WriteBatch batch = BATCHES.get();
    return batch != null && batch.depth > 0;
  }

  private void flush() {
    if (held.isEmpty()) {
      return;
    }
    // Copied out first: a flush that fails may close a connection, and what that writes on this
    // thread (or a batch it opens and closes) must not touch the set being flushed.
    Flushable[] flushing = held.toArray(new Flushable[0]);
    held.clear();
    for (Flushable f : flushing) {
      try {
        f.flushBatch();
      } catch (RuntimeException e) {
        LOG.log(System.Logger.Level.WARNING, "flushing held frames failed", e);
      }
    }
  }
}

package dev.lattice.server.hub;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.DocumentStore;
import dev.lattice.server.spi.StoreCursor;
import dev.lattice.server.spi.StoreException;
import dev.lattice.server.spi.StoreStats;
import dev.lattice.server.spi.StoredChanges;
import dev.lattice.server.spi.StoredDocument;
import dev.lattice.server.store.InMemoryDocumentStore;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * An {@link InMemoryDocumentStore} whose next appends the test can fail, either before the store
 * runs them or after (the delta is stored, the reply is lost, as on a Redis timeout), and which can
 * lose everything at once, as a Redis without persistence does when it restarts. Positions keep
 * growing across such a loss, as Redis stream ids (taken from its clock) do. Several hubs may share
 * one. Thread-safe.
 */
final class FlakyStore implements DocumentStore {

  private InMemoryDocumentStore inner;
  private long offset;
  private long highest;
  private int failing;
  private boolean landed;
  private boolean holdNextReply;
  private CompletableFuture<Void> heldReply;
  private CompletableFuture<Void> readGate;
  private CompletableFuture<Void> replyGate;
  private boolean tellsStaleCursors = true;

  FlakyStore(InMemoryDocumentStore inner) {
    this.inner = inner;
  }

  FlakyStore() {
    this(new InMemoryDocumentStore());
  }

  /** The next {@code n} appends fail; with {@code landed} the store keeps them all the same. */
  synchronized void failNextAppends(int n, boolean landed) {
    this.failing = n;
    this.landed = landed;
  }

  /** The next append runs at once, but its reply waits for {@link #releaseHeldReply}. */
  synchronized void holdNextReply() {
    holdNextReply = true;
  }

  void releaseHeldReply() {
    CompletableFuture<Void> gate;
    synchronized (this) {
      gate = heldReply;
      heldReply = null;
    }
    gate.complete(null);
  }

  /**
   * Reads from now on run when {@link #releaseReads} is called, against the store as it is then.
   */
  synchronized void holdReads() {
    readGate = new CompletableFuture<>();
  }

  void releaseReads() {
    CompletableFuture<Void> gate;
    synchronized (this) {
      gate = readGate;
      readGate = null;
    }
    gate.complete(null);
  }

  /**
   * Whether a read from a cursor from before the last loss answers the origin (the default), as the
   * hub needs of a shared store; without it such a read answers like any other.
   */
  synchronized void tellStaleCursors(boolean tell) {
    tellsStaleCursors = tell;
  }

  /** Reads from now on run at once, but their replies wait for {@link #releaseReadReplies}. */
  synchronized void holdReadReplies() {
    replyGate = new CompletableFuture<>();
  }

  void releaseReadReplies() {
    CompletableFuture<Void> gate;
    synchronized (this) {
      gate = replyGate;
      replyGate = null;
    }
    gate.complete(null);
  }

  /** Loses every document; later positions still come after every earlier one. */
  synchronized void forget() {
    inner = new InMemoryDocumentStore();
    offset = highest;
  }

  private StoreCursor out(StoreCursor c) {
    if (c.equals(StoreCursor.ORIGIN)) {
      return c;
    }
    StoreCursor shifted = StoreCursor.of(c.major() + offset);
    highest = Math.max(highest, shifted.major());
    return shifted;
  }

  @Override
  public synchronized CompletableFuture<Appended> append(String documentId, DocumentDelta delta) {
    if (failing > 0) {
      failing--;
      if (landed) {
        out(inner.append(documentId, delta).join().position());
      }
      return CompletableFuture.failedFuture(new StoreException("timed out"));
    }
    Appended a = inner.append(documentId, delta).join();
    Appended shifted = new Appended(out(a.previous()), out(a.position()));
    if (holdNextReply) {
      holdNextReply = false;
      heldReply = new CompletableFuture<>();
      return heldReply.thenApply(ignored -> shifted);
    }
    return CompletableFuture.completedFuture(shifted);
  }

  @Override
  public synchronized Optional<Document> load(String documentId) {
    return inner.load(documentId);
  }

  @Override
  public synchronized CompletableFuture<Optional<StoredDocument>> loadAsync(String documentId) {
    return CompletableFuture.completedFuture(
        inner
            .loadAsync(documentId)
            .join()
            .map(s -> new StoredDocument(s.document(), out(s.position()))));
  }

  @Override
  public CompletableFuture<StoredChanges> readSince(String documentId, StoreCursor after) {
    CompletableFuture<Void> gate;
    CompletableFuture<Void> replies;
    synchronized (this) {
      gate = readGate;
      replies = replyGate;
    }
    if (gate != null) {
      return gate.thenCompose(ignored -> read(documentId, after));
    }
    if (replies != null) {
      CompletableFuture<StoredChanges> answer = read(documentId, after);
      return replies.thenCompose(ignored -> answer);
    }
    return read(documentId, after);
  }

  /**
   * The whole document (the store keeps no history); as a shared store answers: the origin for a
   * missing document, and for a cursor from before the store lost everything last (with the whole
   * document), so the reader learns that the history it knew is gone.
   */
  private synchronized CompletableFuture<StoredChanges> read(String documentId, StoreCursor after) {
    if (!inner.exists(documentId)) {
      return CompletableFuture.completedFuture(
          new StoredChanges(DocumentDelta.empty(), StoreCursor.ORIGIN));
    }
    StoredChanges c = inner.readSince(documentId, StoreCursor.ORIGIN).join();
    boolean stale =
        tellsStaleCursors && after.isAfter(StoreCursor.ORIGIN) && after.major() <= offset;
    return CompletableFuture.completedFuture(
        new StoredChanges(c.delta(), stale ? StoreCursor.ORIGIN : out(c.position())));
  }

  @Override
  public synchronized boolean exists(String documentId) {
    return inner.exists(documentId);
  }

  @Override
  public synchronized Set<String> documentIds() {
    return inner.documentIds();
  }

  @Override
  public void compact(String documentId) {}

  @Override
  public synchronized StoreStats stats() {
    return inner.stats();
  }

  @Override
  public void close() {}
}

package dev.lattice.server.hub;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.server.store.Appended;
import dev.lattice.server.store.DocumentStore;
import dev.lattice.server.store.InMemoryDocumentStore;
import dev.lattice.server.store.StoreCursor;
import dev.lattice.server.store.StoreException;
import dev.lattice.server.store.StoreStats;
import dev.lattice.server.store.StoredChanges;
import dev.lattice.server.store.StoredDocument;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * One server's view of a shared {@link InMemoryDocumentStore} whose next appends the test can fail:
 * either before the store runs them, or after (the delta is stored, the reply is lost, as on a
 * Redis timeout). Several hubs may each get their own view of one store. Thread-safe.
 */
final class FlakyStore implements DocumentStore {

  private final InMemoryDocumentStore inner;
  private int failing;
  private boolean landed;

  FlakyStore(InMemoryDocumentStore inner) {
    this.inner = inner;
  }

  /** The next {@code n} appends fail; with {@code landed} the store keeps them all the same. */
  synchronized void failNextAppends(int n, boolean landed) {
    this.failing = n;
    this.landed = landed;
  }

  @Override
  public CompletableFuture<Appended> append(String documentId, DocumentDelta delta) {
    synchronized (this) {
      if (failing > 0) {
        failing--;
        if (landed) {
          inner.append(documentId, delta);
        }
        return CompletableFuture.failedFuture(new StoreException("timed out"));
      }
    }
    return inner.append(documentId, delta);
  }

  @Override
  public Optional<Document> load(String documentId) {
    return inner.load(documentId);
  }

  @Override
  public CompletableFuture<Optional<StoredDocument>> loadAsync(String documentId) {
    return inner.loadAsync(documentId);
  }

  @Override
  public CompletableFuture<StoredChanges> readSince(String documentId, StoreCursor after) {
    return inner.readSince(documentId, after);
  }

  @Override
  public boolean exists(String documentId) {
    return inner.exists(documentId);
  }

  @Override
  public Set<String> documentIds() {
    return inner.documentIds();
  }

  @Override
  public void compact(String documentId) {}

  @Override
  public StoreStats stats() {
    return inner.stats();
  }

  @Override
  public void close() {}
}

package dev.lattice.server.store;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link DocumentStore} in memory, for {@code --in-memory} runs and tests: nothing survives the
 * process. Each document is kept merged, so {@link #compact} has nothing to do; futures are
 * complete when {@link #append} returns.
 *
 * <p>Thread-safe: each document is updated under its own lock; {@link #load} returns a copy.
 */
public final class InMemoryDocumentStore implements DocumentStore {

  private final ConcurrentHashMap<String, Document> documents = new ConcurrentHashMap<>();
  private final AtomicLong appended = new AtomicLong();
  private volatile boolean closed;

  /** An empty store. */
  public InMemoryDocumentStore() {}

  @Override
  public CompletableFuture<Void> append(String documentId, DocumentDelta delta) {
    Objects.requireNonNull(documentId, "documentId");
    Objects.requireNonNull(delta, "delta");
    if (closed) {
      return CompletableFuture.failedFuture(new IllegalStateException("the store is closed"));
    }
    try {
      documents.compute(
          documentId,
          (id, doc) -> {
            Document merged = doc == null ? Document.create(id) : doc;
            merged.merge(delta);
            return merged;
          });
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(
          new StoreException("cannot append to document '" + documentId + "'", e));
    }
    appended.incrementAndGet();
    return CompletableFuture.completedFuture(null);
  }

  @Override
  public Optional<Document> load(String documentId) {
    Objects.requireNonNull(documentId, "documentId");
    Document[] copy = new Document[1];
    // compute-if-present holds the entry's lock, so the copy never sees a merge half done.
    documents.computeIfPresent(
        documentId,
        (id, doc) -> {
          copy[0] = doc.copy();
          return doc;
        });
    return Optional.ofNullable(copy[0]);
  }

  @Override
  public boolean exists(String documentId) {
    return documents.containsKey(documentId);
  }

  @Override
  public Set<String> documentIds() {
    return Set.copyOf(documents.keySet());
  }

  @Override
  public void compact(String documentId) {
    Objects.requireNonNull(documentId, "documentId");
  }

  @Override
  public StoreStats stats() {
    long n = appended.get();
    return new StoreStats(n, n, n == 0 ? 0 : 1, 0, 0);
  }

  @Override
  public void close() {
    closed = true;
  }
}

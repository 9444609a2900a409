package dev.lattice.server.hub;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.DocumentStore;
import dev.lattice.server.spi.StoreCursor;
import dev.lattice.server.spi.StoreException;
import dev.lattice.server.spi.StoreStats;
import dev.lattice.server.spi.StoredDocument;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fake {@link DocumentStore} whose append futures the test completes by hand, whose loads are
 * counted and can be held on a latch or made to fail. Thread-safe.
 */
final class ControllableStore implements DocumentStore {

  record PendingAppend(
      String documentId, DocumentDelta delta, CompletableFuture<Appended> future) {}

  private final List<PendingAppend> appends = new ArrayList<>();
  private final AtomicInteger loadCalls = new AtomicInteger();
  private final AtomicInteger failingLoads = new AtomicInteger();
  private volatile CountDownLatch loadGate = new CountDownLatch(0);
  private volatile Document stored;
  private final List<CompletableFuture<Void>> heldAsyncLoads = new ArrayList<>();
  private boolean holdingAsyncLoads;

  /** From now on {@link #loadAsync} answers only when the test calls {@link #releaseAsyncLoads}. */
  synchronized void holdAsyncLoads() {
    holdingAsyncLoads = true;
  }

  /** Answers every held asynchronous load, on this thread, and stops holding. */
  void releaseAsyncLoads() {
    List<CompletableFuture<Void>> held;
    synchronized (this) {
      holdingAsyncLoads = false;
      held = List.copyOf(heldAsyncLoads);
      heldAsyncLoads.clear();
    }
    held.forEach(f -> f.complete(null));
  }

  @Override
  public CompletableFuture<Optional<StoredDocument>> loadAsync(String documentId) {
    CompletableFuture<Void> gate;
    synchronized (this) {
      if (!holdingAsyncLoads) {
        return DocumentStore.super.loadAsync(documentId);
      }
      gate = new CompletableFuture<>();
      heldAsyncLoads.add(gate);
    }
    return gate.thenCompose(ignored -> DocumentStore.super.loadAsync(documentId));
  }

  @Override
  public synchronized CompletableFuture<Appended> append(String documentId, DocumentDelta delta) {
    CompletableFuture<Appended> future = new CompletableFuture<>();
    appends.add(new PendingAppend(documentId, delta, future));
    return future;
  }

  synchronized List<PendingAppend> appends() {
    return List.copyOf(appends);
  }

  void completeAppend(int index) {
    appends().get(index).future().complete(new Appended(null, StoreCursor.of(index + 1)));
  }

  void failAppend(int index) {
    appends().get(index).future().completeExceptionally(new StoreException("disk full"));
  }

  /** The next {@code n} loads throw. */
  void failNextLoads(int n) {
    failingLoads.set(n);
  }

  /** Loads wait for {@code gate} before answering. */
  void holdLoads(CountDownLatch gate) {
    loadGate = gate;
  }

  /** What loads return (empty by default). */
  void setStored(Document document) {
    stored = document;
  }

  int loadCalls() {
    return loadCalls.get();
  }

  @Override
  public Optional<Document> load(String documentId) {
    loadCalls.incrementAndGet();
    try {
      if (!loadGate.await(10, TimeUnit.SECONDS)) {
        throw new StoreException("load gate never opened");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StoreException("interrupted", e);
    }
    if (failingLoads.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
      throw new StoreException("unreadable snapshot of '" + documentId + "'");
    }
    Document doc = stored;
    return doc == null ? Optional.empty() : Optional.of(doc.copy());
  }

  @Override
  public boolean exists(String documentId) {
    return stored != null;
  }

  @Override
  public Set<String> documentIds() {
    return Set.of();
  }

  @Override
  public void compact(String documentId) {}

  @Override
  public StoreStats stats() {
    return new StoreStats(0, 0, 0, 0, 0);
  }

  @Override
  public void close() {}
}

package dev.lattice.properties.protocol;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.DocumentStore;
import dev.lattice.server.spi.StoreStats;
import dev.lattice.server.store.InMemoryDocumentStore;
import java.util.ArrayDeque;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * An {@link InMemoryDocumentStore} whose appends become durable only when the simulation commits
 * them, one at a time in call order, as a store's committer thread would. A server crash drops the
 * appends not yet committed: the hub merged them and may have shown them to subscribers, but never
 * acknowledged them, so the clients' outboxes must bring them back. The durable part is shared by
 * every server incarnation.
 *
 * <p>Not thread-safe: the simulation is single-threaded.
 */
final class DeferredStore implements DocumentStore {

  private record Pending(
      String documentId, DocumentDelta delta, CompletableFuture<Appended> done) {}

  private final InMemoryDocumentStore durable = new InMemoryDocumentStore();
  private final ArrayDeque<Pending> pending = new ArrayDeque<>();

  @Override
  public CompletableFuture<Appended> append(String documentId, DocumentDelta delta) {
    CompletableFuture<Appended> done = new CompletableFuture<>();
    pending.add(new Pending(documentId, delta, done));
    return done;
  }

  int pendingAppends() {
    return pending.size();
  }

  /** Makes the oldest pending append durable and completes its future; false if none. */
  boolean commitOne() {
    Pending next = pending.poll();
    if (next == null) {
      return false;
    }
    next.done().complete(durable.append(next.documentId(), next.delta()).join());
    return true;
  }

  void commitAll() {
    while (commitOne()) {
      // each completion may queue further appends (none today), which commit too
    }
  }

  /** The process crashed: appends not yet durable are gone, their futures never complete. */
  int crash() {
    int lost = pending.size();
    pending.clear();
    return lost;
  }

  @Override
  public Optional<Document> load(String documentId) {
    return durable.load(documentId);
  }

  @Override
  public boolean exists(String documentId) {
    return durable.exists(documentId);
  }

  @Override
  public Set<String> documentIds() {
    return durable.documentIds();
  }

  @Override
  public void compact(String documentId) {
    durable.compact(documentId);
  }

  @Override
  public StoreStats stats() {
    return durable.stats();
  }

  @Override
  public void close() {
    commitAll();
    durable.close();
  }
}

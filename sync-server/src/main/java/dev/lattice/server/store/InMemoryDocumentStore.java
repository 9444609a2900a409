package dev.lattice.server.store;

import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.DocumentStore;
import dev.lattice.server.spi.FieldTypeConflictException;
import dev.lattice.server.spi.StoreCursor;
import dev.lattice.server.spi.StoreException;
import dev.lattice.server.spi.StoreStats;
import dev.lattice.server.spi.StoredChanges;
import dev.lattice.server.spi.StoredDocument;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link DocumentStore} in memory, for {@code --in-memory} runs and tests: nothing survives the
 * process. Each document is kept merged, so {@link #compact} has nothing to do; futures are
 * complete when {@link #append} returns. Appends of a document are numbered 1, 2, ... and {@link
 * #readSince} answers with the whole document (it keeps no history), so several hubs in one process
 * may share one store as servers share Redis. Like Redis, it refuses a delta that gives a field
 * another type than it holds ({@link FieldTypeConflictException}), so that two hubs sharing it
 * arbitrate a field both create at once as two servers sharing Redis do.
 *
 * <p>Thread-safe: each document is updated under its own lock; {@link #load} returns a copy.
 */
public final class InMemoryDocumentStore implements DocumentStore {

  /** A document and the number of appends it has had. Guarded by the map entry's lock. */
  private static final class Entry {
    final Document document;
    long appends;

    Entry(Document document) {
      this.document = document;
    }
  }

  private final ConcurrentHashMap<String, Entry> documents = new ConcurrentHashMap<>();
  private final AtomicLong appended = new AtomicLong();
  // Packed HlcTimestamp; -1 while nothing with a timestamp was appended.
  private final AtomicLong maxTimestamp = new AtomicLong(-1);
  private final ConcurrentHashMap<ReplicaId, String> replicaOwners = new ConcurrentHashMap<>();
  private volatile boolean closed;

  /** An empty store. */
  public InMemoryDocumentStore() {}

  @Override
  public CompletableFuture<Appended> append(String documentId, DocumentDelta delta) {
    Objects.requireNonNull(documentId, "documentId");
    Objects.requireNonNull(delta, "delta");
    if (closed) {
      return CompletableFuture.failedFuture(new IllegalStateException("the store is closed"));
    }
    long[] position = new long[1];
    try {
      documents.compute(
          documentId,
          (id, entry) -> {
            Entry e = entry == null ? new Entry(Document.create(id)) : entry;
            Map<String, CrdtType> held = conflicts(e.document, delta);
            if (!held.isEmpty()) {
              throw new FieldTypeConflictException(id, held);
            }
            e.document.merge(delta);
            position[0] = ++e.appends;
            return e;
          });
    } catch (FieldTypeConflictException e) {
      return CompletableFuture.failedFuture(e);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(
          new StoreException("cannot append to document '" + documentId + "'", e));
    }
    appended.incrementAndGet();
    delta.maxTimestamp().ifPresent(t -> maxTimestamp.accumulateAndGet(t.toLong(), Math::max));
    return CompletableFuture.completedFuture(
        new Appended(StoreCursor.of(position[0] - 1), StoreCursor.of(position[0])));
  }

  /** The fields {@code delta} gives another type than {@code held} has, with {@code held}'s. */
  private static Map<String, CrdtType> conflicts(Document held, DocumentDelta delta) {
    Map<String, CrdtType> out = Map.of();
    for (Map.Entry<String, FieldState> f : delta.fields().entrySet()) {
      Optional<CrdtType> type = held.typeOf(f.getKey());
      if (type.isPresent() && type.get() != f.getValue().type()) {
        if (out.isEmpty()) {
          out = new TreeMap<>();
        }
        out.put(f.getKey(), type.get());
      }
    }
    return out;
  }

  /** Kept as deltas are appended: one read. */
  @Override
  public Optional<HlcTimestamp> maxTimestamp() {
    long max = maxTimestamp.get();
    return max < 0 ? Optional.empty() : Optional.of(HlcTimestamp.fromLong(max));
  }

  @Override
  public Optional<Document> load(String documentId) {
    return read(documentId).map(StoredDocument::document);
  }

  @Override
  public CompletableFuture<Optional<StoredDocument>> loadAsync(String documentId) {
    return CompletableFuture.completedFuture(read(documentId));
  }

  @Override
  public CompletableFuture<StoredChanges> readSince(String documentId, StoreCursor after) {
    Objects.requireNonNull(after, "after");
    return CompletableFuture.completedFuture(
        read(documentId)
            .map(
                s ->
                    new StoredChanges(s.document().deltaSince(VersionVector.empty()), s.position()))
            .orElseGet(() -> new StoredChanges(DocumentDelta.empty(), StoreCursor.ORIGIN)));
  }

  private Optional<StoredDocument> read(String documentId) {
    Objects.requireNonNull(documentId, "documentId");
    StoredDocument[] copy = new StoredDocument[1];
    // compute-if-present holds the entry's lock, so the copy never sees a merge half done.
    documents.computeIfPresent(
        documentId,
        (id, e) -> {
          copy[0] = new StoredDocument(e.document.copy(), StoreCursor.of(e.appends));
          return e;
        });
    return Optional.ofNullable(copy[0]);
  }

  @Override
  public CompletableFuture<String> claimReplica(ReplicaId replica, String subject) {
    Objects.requireNonNull(replica, "replica");
    Objects.requireNonNull(subject, "subject");
    if (closed) {
      return CompletableFuture.failedFuture(new IllegalStateException("the store is closed"));
    }
    String owner = replicaOwners.putIfAbsent(replica, subject);
    return CompletableFuture.completedFuture(owner == null ? subject : owner);
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

package dev.lattice.client.internal;

import dev.lattice.client.LocalStateException;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;

/**
 * {@link LocalState} without a state directory: a fresh random replica id on every start, and
 * documents and outboxes kept only in memory, so a restarted client starts afresh (and, taking a
 * new id, never reuses a sequence number of an id whose state it lost).
 *
 * <p>Thread-safe: every method synchronizes on the instance. Stored documents are copies, so the
 * caller may keep mutating the replica it passed in.
 */
public final class MemoryLocalState implements LocalState {

  private ReplicaId replicaId;
  private final Map<String, Document> replicas = new HashMap<>();
  private final Map<String, List<OutboxEntry>> outboxes = new HashMap<>();
  private boolean closed;

  public MemoryLocalState() {
    this(ReplicaId.random());
  }

  public MemoryLocalState(ReplicaId replicaId) {
    this.replicaId = replicaId;
  }

  @Override
  public synchronized ReplicaId replicaId() {
    return replicaId;
  }

  @Override
  public synchronized ReplicaId retireReplicaId() {
    checkOpen();
    ReplicaId fresh = ReplicaId.random();
    while (fresh.equals(replicaId)) {
      fresh = ReplicaId.random();
    }
    replicaId = fresh;
    return fresh;
  }

  @Override
  public synchronized void replaceOutbox(
      String documentId, Map<Long, DocumentDelta> replaced, Set<Long> removed) {
    checkOpen();
    List<OutboxEntry> outbox = outboxes.get(documentId);
    if (outbox == null) {
      return;
    }
    List<OutboxEntry> next = new ArrayList<>(outbox.size());
    for (OutboxEntry entry : outbox) {
      if (removed.contains(entry.entryId())) {
        continue;
      }
      DocumentDelta delta = replaced.get(entry.entryId());
      next.add(delta == null ? entry : new OutboxEntry(entry.entryId(), delta));
    }
    outbox.clear();
    outbox.addAll(next);
  }

  private OptionalLong clockOffset = OptionalLong.empty();

  @Override
  public synchronized OptionalLong clockOffsetMillis() {
    return clockOffset;
  }

  @Override
  public synchronized void saveClockOffsetMillis(long offsetMillis) {
    checkOpen();
    clockOffset = OptionalLong.of(offsetMillis);
  }

  @Override
  public synchronized Optional<StoredDocument> load(String documentId) {
    checkOpen();
    Document replica = replicas.get(documentId);
    List<OutboxEntry> outbox = outboxes.getOrDefault(documentId, List.of());
    if (replica == null && outbox.isEmpty()) {
      return Optional.empty();
    }
    Document copy = replica == null ? Document.create(documentId) : replica.copy();
    return Optional.of(new StoredDocument(copy, outbox));
  }

  @Override
  public synchronized void appendOutbox(String documentId, OutboxEntry entry) {
    checkOpen();
    List<OutboxEntry> outbox = outboxes.computeIfAbsent(documentId, d -> new ArrayList<>());
    if (!outbox.isEmpty() && outbox.get(outbox.size() - 1).entryId() >= entry.entryId()) {
      throw new IllegalArgumentException(
          "outbox entry id "
              + entry.entryId()
              + " of document '"
              + documentId
              + "' is not greater than the last one, "
              + outbox.get(outbox.size() - 1).entryId());
    }
    outbox.add(entry);
  }

  @Override
  public synchronized void checkpoint(String documentId, Document replica, Set<Long> done) {
    checkOpen();
    replicas.put(documentId, replica.copy());
    List<OutboxEntry> outbox = outboxes.get(documentId);
    if (outbox != null) {
      outbox.removeIf(e -> done.contains(e.entryId()));
    }
  }

  @Override
  public synchronized void close() {
    closed = true;
  }

  private void checkOpen() {
    if (closed) {
      throw new LocalStateException("the in-memory local state is closed");
    }
  }
}

package dev.lattice.properties.protocol;

import dev.lattice.client.internal.LocalState;
import dev.lattice.client.internal.MemoryLocalState;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * A client's state directory in a {@link SyncSimulation}: {@link MemoryLocalState}'s behaviour,
 * with fresh replica ids drawn from a source that outlives the state (so a run is deterministic,
 * and a state restored from a backup never hands out an id its lost history already took), and a
 * deep {@link #copy} that stands for a backup of the directory.
 *
 * <p>Not thread-safe: the simulation is single-threaded.
 */
final class SimLocalState implements LocalState {

  private final Supplier<ReplicaId> freshIds;
  private ReplicaId replicaId;
  private final Map<String, Document> replicas = new TreeMap<>();
  private final Map<String, List<OutboxEntry>> outboxes = new TreeMap<>();
  private OptionalLong clockOffset = OptionalLong.empty();

  SimLocalState(Supplier<ReplicaId> freshIds) {
    this.freshIds = freshIds;
    this.replicaId = freshIds.get();
  }

  /** A backup: everything as it is now, sharing only the source of fresh ids. */
  SimLocalState copy() {
    SimLocalState copy = new SimLocalState(freshIds, replicaId);
    replicas.forEach((id, doc) -> copy.replicas.put(id, doc.copy()));
    outboxes.forEach((id, outbox) -> copy.outboxes.put(id, new ArrayList<>(outbox)));
    copy.clockOffset = clockOffset;
    return copy;
  }

  private SimLocalState(Supplier<ReplicaId> freshIds, ReplicaId replicaId) {
    this.freshIds = freshIds;
    this.replicaId = replicaId;
  }

  @Override
  public ReplicaId replicaId() {
    return replicaId;
  }

  @Override
  public ReplicaId retireReplicaId() {
    replicaId = freshIds.get();
    return replicaId;
  }

  @Override
  public Optional<StoredDocument> load(String documentId) {
    Document replica = replicas.get(documentId);
    List<OutboxEntry> outbox = outboxes.getOrDefault(documentId, List.of());
    if (replica == null && outbox.isEmpty()) {
      return Optional.empty();
    }
    Document copy = replica == null ? Document.create(documentId) : replica.copy();
    return Optional.of(new StoredDocument(copy, List.copyOf(outbox)));
  }

  @Override
  public void appendOutbox(String documentId, OutboxEntry entry) {
    outboxes.computeIfAbsent(documentId, d -> new ArrayList<>()).add(entry);
  }

  @Override
  public void checkpoint(String documentId, Document replica, Set<Long> done) {
    replicas.put(documentId, replica.copy());
    List<OutboxEntry> outbox = outboxes.get(documentId);
    if (outbox != null) {
      outbox.removeIf(e -> done.contains(e.entryId()));
    }
  }

  @Override
  public void replaceOutbox(
      String documentId, Map<Long, DocumentDelta> replaced, Set<Long> removed) {
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

  @Override
  public OptionalLong clockOffsetMillis() {
    return clockOffset;
  }

  @Override
  public void saveClockOffsetMillis(long offsetMillis) {
    clockOffset = OptionalLong.of(offsetMillis);
  }

  @Override
  public void close() {}
}

package dev.lattice.client;

import dev.lattice.client.LocalState.OutboxEntry;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.FieldTypeMismatchException;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.hlc.ClockDriftException;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.hlc.HybridLogicalClock;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * One open document: the local replica that reads and edits apply to, the outbox of edits the
 * server has not acknowledged, presence, listeners and flush waiters.
 *
 * <p>Two replicas are kept: {@code replica} (what the application sees: everything received plus
 * every local edit) and {@code base} (everything received plus the local edits the server
 * acknowledged). Always {@code replica = base ⊔ outbox}. The base is what lets a refused edit be
 * undone: the replica is rebuilt from the base and the edits still pending. Checkpoints store the
 * base (the outbox is stored beside it), so this holds across restarts too.
 *
 * <p>Thread-safe: every method synchronizes on the instance. Edits come from application threads,
 * merges, acks and refusals from the session thread. Listener calls are handed to {@link Callbacks}
 * while the lock is held, so events reach the callback executor in the order the changes applied.
 */
final class DocumentState {

  private static final Logger LOG = System.getLogger(DocumentState.class.getName());

  /** Rough bytes of an UPDATE frame around a one-field delta, besides the field's own content. */
  static final int UPDATE_OVERHEAD_BYTES = 96;

  final String id;
  private final ReplicaId me;
  private final LocalState localState;
  private final HybridLogicalClock clock;
  private final Callbacks callbacks;

  private Document replica;
  private Document base;
  private final TreeMap<Long, OutboxEntry> outbox = new TreeMap<>();
  private long lastEntryId;

  /** Entries to send on their own: they were in a coalesced UPDATE that the server refused. */
  private final Set<Long> solo = new HashSet<>();

  private final List<FlushWaiter> flushWaiters = new ArrayList<>();

  /** Completes once the server's state, as of the first subscription, is in the replica. */
  private final CompletableFuture<Void> synced = new CompletableFuture<>();

  /** Entries acknowledged or refused since the last checkpoint. */
  private final Set<Long> uncheckpointed = new HashSet<>();

  /** Acknowledged entries that trigger a checkpoint while the outbox is still busy. */
  static final int CHECKPOINT_EVERY = 256;

  private boolean closed;

  private Optional<Value> myPresence = Optional.empty();
  private final Map<ReplicaId, Value> others = new ConcurrentHashMap<>();

  final ListenerList<ChangeEvent> changeListeners = new ListenerList<>();
  final ListenerList<PresenceEvent> presenceListeners = new ListenerList<>();
  final ListenerList<UpdateRejectedException> rejectedListeners = new ListenerList<>();

  DocumentState(
      String id,
      ReplicaId me,
      LocalState localState,
      HybridLogicalClock clock,
      Callbacks callbacks) {
    this.id = id;
    this.me = me;
    this.localState = localState;
    this.clock = clock;
    this.callbacks = callbacks;
    Optional<LocalState.StoredDocument> stored = localState.load(id);
    if (stored.isPresent()) {
      // Checkpoints store the base, so a restarted client can still undo a refused edit.
      base = stored.get().checkpoint().copy();
      for (OutboxEntry entry : stored.get().outbox()) {
        outbox.put(entry.entryId(), entry);
        lastEntryId = Math.max(lastEntryId, entry.entryId());
      }
      rebuildReplica();
      // A restarted client must never write below its own earlier writes (nor anyone's it saw).
      replica
          .deltaSince(dev.lattice.crdt.VersionVector.empty())
          .maxTimestamp()
          .ifPresent(this::see);
    } else {
      replica = Document.create(id);
      base = Document.create(id);
    }
  }

  // ------------------------------------------------------------------ reads (app threads)

  synchronized long counterValue(String field) {
    return replica.counterValue(field);
  }

  synchronized Optional<Value> registerValue(String field) {
    return replica.registerValue(field);
  }

  synchronized Document snapshot() {
    return replica.copy();
  }

  synchronized int pendingChanges() {
    return outbox.size();
  }

  synchronized long lastEntryId() {
    return lastEntryId;
  }

  // ------------------------------------------------------------------ edits (app threads)

  /**
   * Applies a local edit to the replica and stores it in the outbox before returning.
   *
   * @throws IllegalStateException if the client is closed
   * @throws LocalStateException if the outbox cannot store the edit (the edit is then undone)
   */
  synchronized void edit(String field, Function<Document, DocumentDelta> mutation) {
    if (closed) {
      throw new IllegalStateException(
          "document '" + id + "' is closed (or its Lattice client is); open it again to edit");
    }
    DocumentDelta delta = mutation.apply(replica);
    OutboxEntry entry = new OutboxEntry(lastEntryId + 1, delta);
    try {
      localState.appendOutbox(id, entry);
    } catch (RuntimeException e) {
      // Not stored, so not seen by anyone: undo it, and its sequence number may be used again.
      rebuildReplica();
      throw e;
    }
    lastEntryId = entry.entryId();
    outbox.put(entry.entryId(), entry);
    callbacks.deliver(
        changeListeners.snapshot(), new ChangeEvent(id, Set.of(field), ChangeEvent.Origin.LOCAL));
  }

  /** A view of the first-sync future the application cannot complete itself. */
  CompletableFuture<Void> synced() {
    return synced.copy();
  }

  /** The server's answer to the first subscription is merged into the replica. */
  synchronized void markSynced() {
    if (!synced.isDone()) {
      // On the callback executor, as flush futures: continuations must not run on the session
      // thread.
      callbacks.run(() -> synced.complete(null));
    }
  }

  /** The server refused to serve the document for good. */
  synchronized void subscriptionRefused(UpdateRejectedException failure) {
    report(failure);
    if (!synced.isDone()) {
      callbacks.run(() -> synced.completeExceptionally(failure));
    }
  }

  synchronized CompletableFuture<Void> flush() {
    CompletableFuture<Void> future = new CompletableFuture<>();
    if (closed) {
      future.completeExceptionally(
          new IllegalStateException("the Lattice client is closed; document '" + id + "'"));
    } else if (outbox.isEmpty() || outbox.firstKey() > lastEntryId) {
      future.complete(null);
    } else {
      flushWaiters.add(new FlushWaiter(lastEntryId, future));
    }
    return future;
  }

  // ------------------------------------------------------------------ session thread

  /** The outbox entries not in {@code exclude}, in order. */
  synchronized List<OutboxEntry> unsent(Set<Long> exclude) {
    List<OutboxEntry> out = new ArrayList<>();
    for (OutboxEntry entry : outbox.values()) {
      if (!exclude.contains(entry.entryId())) {
        out.add(entry);
      }
    }
    return out;
  }

  synchronized boolean isSolo(long entryId) {
    return solo.contains(entryId);
  }

  synchronized void markSolo(List<Long> entryIds) {
    solo.addAll(entryIds);
  }

  /** What the server lacks of the acknowledged and received state, given its vector. */
  synchronized DocumentDelta catchUp(dev.lattice.crdt.VersionVector serverVector) {
    return base.deltaSince(serverVector);
  }

  synchronized dev.lattice.crdt.VersionVector versionVector() {
    return replica.versionVector();
  }

  /** Merges a change from the server; the server's field types win over local unsent ones. */
  synchronized void mergeRemote(DocumentDelta delta) {
    delta.maxTimestamp().ifPresent(this::see);
    mergeServerWins(base, delta);
    Set<String> changed;
    try {
      changed = replica.merge(delta);
    } catch (FieldTypeMismatchException e) {
      // A local edit not yet sent (or about to be refused) gave a field another type than the
      // server's: the server's type wins, and the server will refuse that edit.
      LOG.log(
          Level.INFO,
          "document '" + id + "': " + e.getMessage() + "; the server's field type wins locally");
      rebuildReplica();
      changed = delta.fields().keySet();
    }
    if (!changed.isEmpty()) {
      callbacks.deliver(
          changeListeners.snapshot(), new ChangeEvent(id, changed, ChangeEvent.Origin.REMOTE));
    }
  }

  /** The server acknowledged these entries: they join the base and leave the outbox. */
  synchronized void acknowledged(List<Long> entryIds) {
    Set<Long> done = new HashSet<>();
    for (Long entryId : entryIds) {
      OutboxEntry entry = outbox.remove(entryId);
      solo.remove(entryId);
      if (entry != null) {
        mergeServerWins(base, entry.delta());
        done.add(entryId);
      }
    }
    if (!done.isEmpty()) {
      checkpoint(done);
    }
    settleFlushWaiters(null, Set.of());
  }

  /**
   * The server refused this entry for good: it leaves the outbox and is undone locally. Its dot
   * stays held (a sequence number is never reused) and goes to the server as an empty change, so
   * the server's version vector has no gap that would make every catch-up resend our later edits.
   */
  synchronized void rejected(long entryId, UpdateRejectedException failure) {
    OutboxEntry entry = outbox.remove(entryId);
    solo.remove(entryId);
    if (entry == null) {
      return;
    }
    DotSet dots = entry.delta().context();
    DocumentDelta tombstone = DocumentDelta.of(dots, Map.of());
    base.merge(tombstone);
    Map<String, Optional<FieldState>> before = new HashMap<>();
    for (String field : entry.delta().fields().keySet()) {
      before.put(field, replica.field(field));
    }
    rebuildReplica();
    if (!closed) {
      OutboxEntry emptyChange = new OutboxEntry(lastEntryId + 1, tombstone);
      try {
        localState.appendOutbox(id, emptyChange);
        lastEntryId = emptyChange.entryId();
        outbox.put(emptyChange.entryId(), emptyChange);
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "document '" + id + "': could not store an empty change", e);
      }
      checkpoint(Set.of(entryId));
    }
    Set<String> undone = new HashSet<>();
    before.forEach(
        (field, state) -> {
          if (!state.equals(replica.field(field))) {
            undone.add(field);
          }
        });
    if (!undone.isEmpty()) {
      callbacks.deliver(
          changeListeners.snapshot(), new ChangeEvent(id, undone, ChangeEvent.Origin.REMOTE));
    }
    callbacks.deliver(rejectedListeners.snapshot(), failure);
    settleFlushWaiters(failure, Set.of(entryId));
  }

  /** Reports a refusal that concerns no outbox entry (a subscription, a catch-up). */
  synchronized void report(UpdateRejectedException failure) {
    callbacks.deliver(rejectedListeners.snapshot(), failure);
  }

  // ------------------------------------------------------------------ presence

  synchronized Optional<Value> myPresence() {
    return myPresence;
  }

  synchronized void setMyPresence(Optional<Value> value) {
    myPresence = value;
  }

  Map<ReplicaId, Value> others() {
    return Map.copyOf(others);
  }

  /** A PRESENCE from the server. */
  synchronized void presence(ReplicaId replicaId, Optional<Value> value) {
    if (replicaId.equals(me)) {
      return;
    }
    if (value.isEmpty()) {
      if (others.remove(replicaId) != null) {
        callbacks.deliver(
            presenceListeners.snapshot(),
            new PresenceEvent(id, replicaId, PresenceEvent.Kind.LEAVE, Optional.empty()));
      }
      return;
    }
    Value previous = others.put(replicaId, value.get());
    if (!value.get().equals(previous)) {
      PresenceEvent.Kind kind =
          previous == null ? PresenceEvent.Kind.JOIN : PresenceEvent.Kind.UPDATE;
      callbacks.deliver(
          presenceListeners.snapshot(), new PresenceEvent(id, replicaId, kind, value));
    }
  }

  /** The connection ended: this client no longer sees anyone. */
  synchronized void forgetOthers() {
    for (Iterator<ReplicaId> it = others.keySet().iterator(); it.hasNext(); ) {
      ReplicaId replicaId = it.next();
      it.remove();
      callbacks.deliver(
          presenceListeners.snapshot(),
          new PresenceEvent(id, replicaId, PresenceEvent.Kind.LEAVE, Optional.empty()));
    }
  }

  /** The client is closing: fail the flushes still waiting. */
  synchronized void close() {
    if (!closed) {
      checkpointNow();
    }
    closed = true;
    IllegalStateException failure =
        new IllegalStateException(
            "the Lattice client closed before the server acknowledged every change of '"
                + id
                + "' (they stay in the outbox)");
    for (FlushWaiter waiter : flushWaiters) {
      callbacks.run(() -> waiter.future.completeExceptionally(failure));
    }
    flushWaiters.clear();
    if (!synced.isDone()) {
      IllegalStateException notSynced =
          new IllegalStateException(
              "document '" + id + "' was closed before its first sync with the server");
      callbacks.run(() -> synced.completeExceptionally(notSynced));
    }
  }

  // ------------------------------------------------------------------ helpers (lock held)

  private void see(HlcTimestamp timestamp) {
    try {
      clock.update(timestamp);
    } catch (ClockDriftException e) {
      // The server accepted it, so merge it anyway; our later writes may then lose against it.
      LOG.log(Level.WARNING, "document '" + id + "': " + e.getMessage());
    }
  }

  private void rebuildReplica() {
    replica = LocalState.replay(base, outbox.values());
  }

  /** Merges {@code delta} into {@code doc}, replacing any field it gives another type. */
  private void mergeServerWins(Document doc, DocumentDelta delta) {
    try {
      doc.merge(delta);
    } catch (FieldTypeMismatchException e) {
      Map<String, FieldState> kept = new HashMap<>(doc.fields());
      delta
          .fields()
          .forEach(
              (name, field) -> {
                FieldState mine = kept.get(name);
                if (mine != null && mine.type() != field.type()) {
                  kept.remove(name);
                }
              });
      Document replaced = Document.restore(doc.id(), doc.context(), kept);
      replaced.merge(delta);
      if (doc == base) {
        base = replaced;
      } else {
        replica = replaced;
      }
    }
  }

  /**
   * Records {@code done} for the next checkpoint, and takes it when the outbox has drained or
   * enough entries are waiting. A checkpoint rewrites the whole stored replica, so one per ack
   * would make a busy client of a large document write it again and again; entries acknowledged but
   * not yet checkpointed are only resent after a crash, which is harmless.
   */
  private void checkpoint(Set<Long> done) {
    uncheckpointed.addAll(done);
    if (outbox.isEmpty() || uncheckpointed.size() >= CHECKPOINT_EVERY) {
      checkpointNow();
    }
  }

  private void checkpointNow() {
    if (uncheckpointed.isEmpty()) {
      return;
    }
    try {
      localState.checkpoint(id, base, uncheckpointed);
      uncheckpointed.clear();
    } catch (RuntimeException e) {
      // The entries stay in the stored outbox and are resent after a restart: harmless.
      LOG.log(Level.WARNING, "document '" + id + "': could not checkpoint the local state", e);
    }
  }

  private void settleFlushWaiters(UpdateRejectedException failure, Set<Long> failedIds) {
    for (Iterator<FlushWaiter> it = flushWaiters.iterator(); it.hasNext(); ) {
      FlushWaiter waiter = it.next();
      if (failure != null && waiter.failure == null) {
        for (long failed : failedIds) {
          if (failed <= waiter.upTo) {
            waiter.failure = failure;
          }
        }
      }
      if (outbox.isEmpty() || outbox.firstKey() > waiter.upTo) {
        it.remove();
        UpdateRejectedException failed = waiter.failure;
        // Completed on the callback executor: the application's continuations must not run on
        // the session thread.
        callbacks.run(
            () -> {
              if (failed == null) {
                waiter.future.complete(null);
              } else {
                waiter.future.completeExceptionally(failed);
              }
            });
      }
    }
  }

  private static final class FlushWaiter {
    final long upTo;
    final CompletableFuture<Void> future;
    UpdateRejectedException failure;

    FlushWaiter(long upTo, CompletableFuture<Void> future) {
      this.upTo = upTo;
      this.future = Objects.requireNonNull(future);
    }
  }
}

package dev.lattice.client.internal;

import dev.lattice.client.ChangeEvent;
import dev.lattice.client.FieldChange;
import dev.lattice.client.LocalStateException;
import dev.lattice.client.PresenceEvent;
import dev.lattice.client.UpdateRejectedException;
import dev.lattice.client.internal.LocalState.OutboxEntry;
import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.CrdtKind;
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
public final class DocumentState {

  private static final Logger LOG = System.getLogger(DocumentState.class.getName());

  /** Rough bytes of an UPDATE frame around a one-field delta, besides the field's own content. */
  public static final int UPDATE_OVERHEAD_BYTES = 96;

  private static final dev.lattice.crdt.codec.Codec<DocumentDelta> DELTA_CODEC =
      dev.lattice.crdt.codec.CrdtCodecs.defaults().documentDelta();

  public final String id;

  /** The replica this document's edits are made by; changes only when a replica id is retired. */
  private ReplicaId me;

  private final LocalState localState;
  private final HybridLogicalClock clock;
  private final Callbacks callbacks;

  private Document replica;
  private Document base;
  private final TreeMap<Long, OutboxEntry> outbox = new TreeMap<>();
  private long lastEntryId;

  /**
   * Per field and earlier replica ({@code name + '\0' + replica}), its contribution as of the last
   * entry already re-issued under {@link #me}: an entry of it re-issued later makes only the
   * difference again, so an edit is never made twice when its entries are re-issued one by one.
   */
  private final Map<String, dev.lattice.crdt.Crdt<?>> reissuedUpTo = new HashMap<>();

  /** Entries to send on their own: they were in a coalesced UPDATE that the server refused. */
  private final Set<Long> solo = new HashSet<>();

  private final List<FlushWaiter> flushWaiters = new ArrayList<>();

  /** Completes once the server's state, as of the first subscription, is in the replica. */
  private final CompletableFuture<Void> synced = new CompletableFuture<>();

  /** Entries acknowledged or refused since the last checkpoint. */
  private final Set<Long> uncheckpointed = new HashSet<>();

  /** Acknowledged entries that trigger a checkpoint while the outbox is still busy. */
  static final int CHECKPOINT_EVERY = 256;

  /**
   * Received deltas that brought something new, not yet checkpointed. Received state is
   * checkpointed too, so that a client that only reads still has the document when it restarts
   * offline; batched so that a busy document is not rewritten on every fan-out.
   */
  private int receivedSinceCheckpoint;

  /** Whether the session holds a timer that will call {@link #checkpointReceived()}. */
  private boolean receivedCheckpointScheduled;

  /** Received deltas that trigger a checkpoint at once rather than at the timer. */
  static final int RECEIVED_CHECKPOINT_EVERY = 256;

  /** How long a received change may wait for its checkpoint, at most (while the client runs). */
  static final long RECEIVED_CHECKPOINT_MILLIS = 1_000;

  private boolean closed;

  private Optional<Value> myPresence = Optional.empty();
  private final Map<ReplicaId, Value> others = new ConcurrentHashMap<>();

  public final ListenerList<ChangeEvent> changeListeners = new ListenerList<>();
  public final ListenerList<PresenceEvent> presenceListeners = new ListenerList<>();
  public final ListenerList<UpdateRejectedException> rejectedListeners = new ListenerList<>();

  public DocumentState(
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
      // Entries of earlier replica ids stay as they are: the session delivers them on a
      // connection bound to their own id (a resend the server holds must be acknowledged, not made
      // again), and re-issues them under the current id only if the server refuses them.
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

  public synchronized long counterValue(String field) {
    return replica.counterValue(field);
  }

  public synchronized Optional<Value> registerValue(String field) {
    return replica.registerValue(field);
  }

  public synchronized <T extends Crdt<T>> Optional<T> stateAt(
      String field, List<String> keys, CrdtKind<T> kind) {
    return replica.stateAt(field, keys, kind);
  }

  public synchronized Document snapshot() {
    return replica.copy();
  }

  public synchronized int pendingChanges() {
    return outbox.size();
  }

  synchronized long lastEntryId() {
    return lastEntryId;
  }

  /** Whether the outbox still holds an entry with an id of at most {@code entryId}. */
  synchronized boolean hasEntriesUpTo(long entryId) {
    return !outbox.isEmpty() && outbox.firstKey() <= entryId;
  }

  /** The replica the next edit is made by. */
  public synchronized ReplicaId me() {
    return me;
  }

  /**
   * The greatest sequence number this client's replica has used in this document, acknowledged or
   * still in the outbox; 0 if none. A server holding a greater one of this replica holds edits this
   * client does not remember making: its state was restored from an older copy.
   */
  synchronized long ownMaxSequence() {
    return maxSequence(me);
  }

  /** The greatest sequence number {@code replica} has used in this document as far as we know. */
  synchronized long maxSequence(ReplicaId replica) {
    return this.replica.nextSequence(replica) - 1;
  }

  /**
   * The replica ids other than {@link #me} that made entries still in the outbox, in the order of
   * their first entry: edits of an earlier process (or of a retired id) still to be delivered, each
   * on a connection bound to its own id.
   */
  synchronized List<ReplicaId> earlierWriters() {
    Set<ReplicaId> out = new java.util.LinkedHashSet<>();
    for (OutboxEntry entry : outbox.values()) {
      ReplicaId writer = writerOf(entry.delta());
      if (writer != null && !writer.equals(me)) {
        out.add(writer);
      }
    }
    return List.copyOf(out);
  }

  /** Whether the outbox holds an entry made by {@code replica}. */
  synchronized boolean hasEntriesBy(ReplicaId replica) {
    for (OutboxEntry entry : outbox.values()) {
      if (replica.equals(writerOf(entry.delta()))) {
        return true;
      }
    }
    return false;
  }

  /** The replica that made an outbox entry (its dots'), or null for an entry with none. */
  static ReplicaId writerOf(DocumentDelta delta) {
    for (dev.lattice.crdt.DotRange range : delta.context().ranges()) {
      return range.replica();
    }
    for (FieldState field : delta.fields().values()) {
      for (ReplicaId writer : field.touched().entries().keySet()) {
        return writer;
      }
    }
    return null;
  }

  /**
   * Whether every dot of the outbox entries {@code entryIds} is at most {@code seq} (so a server
   * whose vector holds {@code seq} of this replica holds them all).
   */
  synchronized boolean entriesAtMost(List<Long> entryIds, long seq) {
    for (Long entryId : entryIds) {
      OutboxEntry entry = outbox.get(entryId);
      if (entry == null) {
        continue;
      }
      for (dev.lattice.crdt.DotRange range : entry.delta().context().ranges()) {
        if (range.last() > seq) {
          return false;
        }
      }
    }
    return true;
  }

  /**
   * Makes this document's new edits by {@code fresh} from now on. Entries of earlier ids stay as
   * they are (see {@link #reissue}).
   */
  synchronized void adopt(ReplicaId fresh) {
    me = fresh;
  }

  /**
   * Re-issues under {@link #me} the outbox entries made by {@code old} (those of {@code only}, or
   * all when null): the server holds their dots with other content, so these edits never reached it
   * under their own dots.
   */
  synchronized void reissue(ReplicaId old, Set<Long> only) {
    if (!old.equals(me)) {
      reissueStale(old, only);
    }
  }

  // ------------------------------------------------------------------ edits (app threads)

  /**
   * Applies a local edit to the replica and stores it in the outbox before returning.
   *
   * @throws IllegalStateException if the client is closed
   * @throws LocalStateException if the outbox cannot store the edit (the edit is then undone)
   */
  public synchronized void edit(String field, Function<Document, DocumentDelta> mutation) {
    edit(field, mutation, 0, null);
  }

  /**
   * {@link #edit}, refused (undone, nothing stored) with {@code refusal}'s exception, given the
   * frame's estimated bytes, if the edit's UPDATE would be larger than {@code maxFrameBytes}, when
   * that is positive, or if no codec could encode it. Costs an encoding of the delta.
   *
   * @throws IllegalArgumentException from {@code refusal}
   */
  public synchronized void edit(
      String field,
      Function<Document, DocumentDelta> mutation,
      int maxFrameBytes,
      java.util.function.LongFunction<IllegalArgumentException> refusal) {
    if (closed) {
      throw new IllegalStateException(
          "document '" + id + "' is closed (or its Lattice client is); open it again to edit");
    }
    Optional<Crdt<?>> was = replica.field(field).map(FieldState::state);
    DocumentDelta delta = mutation.apply(replica);
    if (maxFrameBytes > 0) {
      long frame;
      try {
        frame =
            (long) DELTA_CODEC.encode(delta).length
                + id.getBytes(java.nio.charset.StandardCharsets.UTF_8).length
                + UPDATE_OVERHEAD_BYTES;
      } catch (IllegalArgumentException e) {
        // Past a codec limit (collection size, depth): no server could take it either.
        rebuildReplica();
        throw e;
      }
      if (frame > maxFrameBytes) {
        // Not stored, so not seen by anyone: undo it, as a failed store is undone below.
        rebuildReplica();
        throw refusal.apply(frame);
      }
    }
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
    if (!changeListeners.snapshot().isEmpty()) {
      // Only with a listener to tell: the comparison costs the size of the field.
      FieldChange change =
          FieldChanges.between(field, was, replica.field(field).map(FieldState::state));
      callbacks.deliver(
          changeListeners.snapshot(),
          new ChangeEvent(id, Set.of(field), ChangeEvent.Origin.LOCAL, Map.of(field, change)));
    }
  }

  /** A view of the first-sync future the application cannot complete itself. */
  public CompletableFuture<Void> synced() {
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

  public synchronized CompletableFuture<Void> flush() {
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

  /**
   * What the server lacks of this replica's acknowledged edits, given its vector. Only this
   * replica's part: the server takes dots of a connection's own replica only, and every other
   * replica sends its own.
   */
  synchronized DocumentDelta catchUp(dev.lattice.crdt.VersionVector serverVector) {
    return catchUp(serverVector, me);
  }

  /** What the server lacks of {@code replica}'s acknowledged edits, given its vector. */
  synchronized DocumentDelta catchUp(
      dev.lattice.crdt.VersionVector serverVector, ReplicaId replica) {
    return ownPart(base.deltaSince(serverVector), replica);
  }

  /** The dots, touched entries and contributions of {@code replica} in {@code delta}. */
  static DocumentDelta ownPart(DocumentDelta delta, ReplicaId replica) {
    List<dev.lattice.crdt.DotRange> mine = new ArrayList<>();
    for (dev.lattice.crdt.DotRange range : delta.context().ranges()) {
      if (range.replica().equals(replica)) {
        mine.add(range);
      }
    }
    Map<String, FieldState> fields = new TreeMap<>();
    delta
        .fields()
        .forEach(
            (name, field) -> {
              long seq = field.touched().get(replica);
              if (seq > 0) {
                fields.put(
                    name,
                    new FieldState(
                        field.state().contributionsOf(replica::equals),
                        dev.lattice.crdt.VersionVector.empty().with(replica, seq)));
              }
            });
    return DocumentDelta.of(DotSet.of(mine), fields);
  }

  synchronized dev.lattice.crdt.VersionVector versionVector() {
    return replica.versionVector();
  }

  /**
   * Merges a change from the server; the server's field types win over local unsent ones. A change
   * that brought something new is checkpointed at the latest after {@link
   * #RECEIVED_CHECKPOINT_MILLIS} (by the caller's timer) or once {@link #RECEIVED_CHECKPOINT_EVERY}
   * such changes wait, and at {@link #close()}.
   *
   * @return whether the caller must schedule {@link #checkpointReceived()} in {@link
   *     #RECEIVED_CHECKPOINT_MILLIS}: true once per batch of received changes
   */
  synchronized boolean mergeRemote(DocumentDelta delta) {
    delta.maxTimestamp().ifPresent(this::see);
    boolean news = !base.containsAll(delta.context());
    mergeServerWins(base, delta);
    Map<String, Optional<Crdt<?>>> was = new HashMap<>();
    for (String field : delta.fields().keySet()) {
      was.put(field, replica.field(field).map(FieldState::state));
    }
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
    if (!changed.isEmpty() && !changeListeners.snapshot().isEmpty()) {
      callbacks.deliver(
          changeListeners.snapshot(),
          new ChangeEvent(id, changed, ChangeEvent.Origin.REMOTE, changes(changed, was)));
    }
    if (!news || closed) {
      return false;
    }
    receivedSinceCheckpoint++;
    if (receivedSinceCheckpoint >= RECEIVED_CHECKPOINT_EVERY) {
      checkpointNow();
    }
    if (receivedSinceCheckpoint == 0 || receivedCheckpointScheduled) {
      return false;
    }
    receivedCheckpointScheduled = true;
    return true;
  }

  /** The timer asked for by {@link #mergeRemote} is due: checkpoint what was received since. */
  synchronized void checkpointReceived() {
    receivedCheckpointScheduled = false;
    if (!closed) {
      checkpointNow();
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
    // A refused empty change is not followed by another: it would be refused the same way (a
    // read-only client's FORBIDDEN), and the client would send UPDATEs for ever.
    boolean retire = !entry.delta().fields().isEmpty();
    if (!closed) {
      if (retire) {
        OutboxEntry emptyChange = new OutboxEntry(lastEntryId + 1, tombstone);
        try {
          localState.appendOutbox(id, emptyChange);
          lastEntryId = emptyChange.entryId();
          outbox.put(emptyChange.entryId(), emptyChange);
        } catch (RuntimeException e) {
          LOG.log(Level.WARNING, "document '" + id + "': could not store an empty change", e);
        }
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
    if (!undone.isEmpty() && !changeListeners.snapshot().isEmpty()) {
      Map<String, Optional<Crdt<?>>> was = new HashMap<>();
      before.forEach((field, state) -> was.put(field, state.map(FieldState::state)));
      callbacks.deliver(
          changeListeners.snapshot(),
          new ChangeEvent(id, undone, ChangeEvent.Origin.REMOTE, changes(undone, was)));
    }
    callbacks.deliver(rejectedListeners.snapshot(), failure);
    settleFlushWaiters(failure, Set.of(entryId));
  }

  /** What changed in each of {@code fields} since {@code was}, against the replica now. */
  private Map<String, FieldChange> changes(Set<String> fields, Map<String, Optional<Crdt<?>>> was) {
    Map<String, FieldChange> out = new HashMap<>();
    for (String field : fields) {
      out.put(
          field,
          FieldChanges.between(
              field,
              was.getOrDefault(field, Optional.empty()),
              replica.field(field).map(FieldState::state)));
    }
    return out;
  }

  /** Reports a refusal that concerns no outbox entry (a subscription, a catch-up). */
  synchronized void report(UpdateRejectedException failure) {
    callbacks.deliver(rejectedListeners.snapshot(), failure);
  }

  // ------------------------------------------------------------------ presence

  synchronized Optional<Value> myPresence() {
    return myPresence;
  }

  public synchronized void setMyPresence(Optional<Value> value) {
    myPresence = value;
  }

  public Map<ReplicaId, Value> others() {
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
  public synchronized void close() {
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

  /**
   * Re-issues under {@link #me} the outbox entries made by {@code old}: each such edit is made
   * again as the same operation (a counter's amount, a register's value and timestamp, a set's adds
   * and removes, an MV-Register's write, an OR-Map's removals of keys and the same operations on
   * the values inside it, nested maps included) by the current replica, in the entry's place (same
   * entry id, so flush futures keep their meaning). A causal edit keeps what it had observed: its
   * adds and writes get fresh dots, and its removals retract the tags, writes and entries the
   * original retracted (under their new dots where this pass made them again), never what the
   * replica received since. The current replica's own entries after the first of them are made
   * again too: they were never sent (a connection bound to {@code old} carries none of them), and
   * their sequence numbers must follow the re-issued ones, since the server takes a replica's new
   * dots only in order. Entries left with nothing to do (an empty change) are dropped. The stored
   * outbox is rewritten in one atomic step, so a crash leaves either the old entries (delivered,
   * and refused and re-issued, again after the restart) or the new ones.
   */
  private void reissueStale(ReplicaId old, Set<Long> only) {
    boolean any = false;
    for (OutboxEntry entry : outbox.values()) {
      if (old.equals(writerOf(entry.delta())) && (only == null || only.contains(entry.entryId()))) {
        any = true;
        break;
      }
    }
    if (!any) {
      return;
    }
    Document scratch = base.copy();
    reissuedFrom.clear();
    // Per field and writer, its contribution before the entry at hand.
    Map<String, dev.lattice.crdt.Crdt<?>> previous = new HashMap<>();
    Map<Long, DocumentDelta> replaced = new HashMap<>();
    Set<Long> removed = new HashSet<>();
    Map<String, dev.lattice.crdt.Crdt<?>> accounted = new HashMap<>();
    boolean started = false;
    for (OutboxEntry entry : outbox.values()) {
      ReplicaId writer = writerOf(entry.delta());
      boolean stale = old.equals(writer) && (only == null || only.contains(entry.entryId()));
      started |= stale;
      boolean again = stale || (started && me.equals(writer));
      DocumentDelta fresh = DocumentDelta.empty();
      for (Map.Entry<String, FieldState> e : entry.delta().fields().entrySet()) {
        String name = e.getKey();
        FieldState field = e.getValue();
        if (field.touched().isEmpty() || writer == null) {
          continue;
        }
        String key = name + '\u0000' + writer;
        dev.lattice.crdt.Crdt<?> before = previous.get(key);
        if (before == null) {
          Optional<FieldState> held = base.field(name);
          before =
              held.isPresent()
                  ? held.get().state().contributionsOf(writer::equals)
                  : field.type().empty();
          dev.lattice.crdt.Crdt<?> done = reissuedUpTo.get(key);
          if (done != null) {
            before = join(before, done);
          }
        }
        // An OR-Map delta holds one key's entry, not the writer's whole part of the map: the
        // writer's part so far is the join of its deltas.
        dev.lattice.crdt.Crdt<?> upTo =
            field.state() instanceof dev.lattice.crdt.ORMap
                    && before instanceof dev.lattice.crdt.ORMap
                ? join(before, field.state())
                : field.state();
        previous.put(key, upTo);
        if (stale) {
          accounted.put(key, upTo);
        }
        if (!again) {
          continue;
        }
        try {
          fresh = fresh.join(redo(scratch, name, writer, before, field.state()));
        } catch (RuntimeException ex) {
          // A field the document now has with another type: the server would refuse it anyway.
          LOG.log(
              Level.INFO, "document '" + id + "': not re-issuing an edit of '" + name + "': " + ex);
        }
      }
      if (!again) {
        mergeQuietly(scratch, entry.delta());
      } else if (fresh.isEmpty()) {
        removed.add(entry.entryId());
      } else {
        replaced.put(entry.entryId(), fresh);
      }
    }
    try {
      localState.replaceOutbox(id, replaced, removed);
    } catch (RuntimeException e) {
      LOG.log(
          Level.WARNING,
          "document '" + id + "': could not store the re-issued edits; they stay as they were",
          e);
      return;
    }
    reissuedUpTo.putAll(accounted);
    for (Long entryId : removed) {
      outbox.remove(entryId);
      solo.remove(entryId);
    }
    replaced.forEach((entryId, delta) -> outbox.put(entryId, new OutboxEntry(entryId, delta)));
    LOG.log(
        Level.INFO,
        "document '"
            + id
            + "': re-issued "
            + replaced.size()
            + " unacknowledged edits of replica "
            + old
            + " under "
            + me);
    rebuildReplica();
    settleFlushWaiters(null, Set.of());
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static dev.lattice.crdt.Crdt<?> join(
      dev.lattice.crdt.Crdt<?> a, dev.lattice.crdt.Crdt<?> b) {
    return (dev.lattice.crdt.Crdt<?>) ((dev.lattice.crdt.Crdt) a).merge(b);
  }

  /** The edit that took {@code old}'s contribution from {@code before} to {@code after}, by me. */
  private DocumentDelta redo(
      Document scratch,
      String name,
      ReplicaId old,
      dev.lattice.crdt.Crdt<?> before,
      dev.lattice.crdt.Crdt<?> after) {
    if (after instanceof dev.lattice.crdt.GCounter g) {
      long amount = g.countOf(old) - ((dev.lattice.crdt.GCounter) before).countOf(old);
      return amount > 0 ? scratch.incrementGCounter(me, name, amount) : DocumentDelta.empty();
    }
    if (after instanceof dev.lattice.crdt.PNCounter pn) {
      dev.lattice.crdt.PNCounter was = (dev.lattice.crdt.PNCounter) before;
      long up = pn.increments().countOf(old) - was.increments().countOf(old);
      long down = pn.decrements().countOf(old) - was.decrements().countOf(old);
      DocumentDelta out = DocumentDelta.empty();
      if (up > 0) {
        out = out.join(scratch.addPNCounter(me, name, up));
      }
      if (down > 0) {
        out = out.join(scratch.addPNCounter(me, name, -down));
      }
      return out;
    }
    if (after instanceof dev.lattice.crdt.LWWRegister register
        && register.value().isPresent()
        && register.timestamp().isPresent()) {
      return scratch.setRegister(me, name, register.value().get(), register.timestamp().get());
    }
    if (after instanceof dev.lattice.crdt.ORSet set) {
      // The entry's delta: every live dot in it is one of its adds.
      return redoSet(scratch, name, List.of(), dev.lattice.crdt.ORSet.empty(), set);
    }
    if (after instanceof dev.lattice.crdt.MVRegister register) {
      return redoMVRegister(
          scratch, name, List.of(), dev.lattice.crdt.MVRegister.empty(), register);
    }
    if (after instanceof dev.lattice.crdt.ORMap map) {
      return redoMap(scratch, name, List.of(), (dev.lattice.crdt.ORMap) before, map);
    }
    LOG.log(
        Level.INFO,
        "document '" + id + "': an edit of " + after.type() + " '" + name + "' is not re-issued");
    return DocumentDelta.empty();
  }

  private static final CrdtKind<dev.lattice.crdt.ORMap> MAP =
      CrdtKind.of(dev.lattice.crdt.ORMap.class);

  /**
   * The edits by me that take the map at {@code keys} in {@code name} from {@code before} to {@code
   * after}, as far as they are the retired writer's: {@code after}'s entries whose value differs
   * from that writer's value of the key in {@code before} are made again value by value ({@link
   * #redoValue}); a key whose entries {@code after}'s context retracts (live in {@code before}, or
   * not seen by it) and that {@code after} does not hold is removed again, as far as the key of
   * such a dot is known (from {@code before}, or the map the base or the scratch holds at {@code
   * keys}).
   */
  private DocumentDelta redoMap(
      Document scratch,
      String name,
      List<String> keys,
      dev.lattice.crdt.ORMap before,
      dev.lattice.crdt.ORMap after) {
    DocumentDelta out = DocumentDelta.empty();
    Set<String> live = new java.util.TreeSet<>();
    for (Map.Entry<String, dev.lattice.crdt.Crdt<?>> e : after.values().entrySet()) {
      String key = e.getKey();
      dev.lattice.crdt.Crdt<?> value = e.getValue();
      live.add(key);
      dev.lattice.crdt.Crdt<?> was = before.get(key).orElse(null);
      if (was == null || was.type() != value.type()) {
        was = value.type().empty();
      }
      if (!was.equals(value)) {
        out = out.join(redoValue(scratch, name, FieldPaths.append(keys, key), was, value));
      }
    }
    Set<String> removed = new java.util.TreeSet<>();
    for (dev.lattice.crdt.DotRange range : after.context().ranges()) {
      for (long seq = range.first(); seq <= range.last() && seq - range.first() < 4096; seq++) {
        dev.lattice.crdt.Dot dot = new dev.lattice.crdt.Dot(range.replica(), seq);
        String key = keyOf(before, dot);
        if (key == null && before.context().contains(dot)) {
          continue; // retracted before this edit
        }
        if (key == null) {
          key = keyOf(base.stateAt(name, keys, MAP).orElse(null), dot);
        }
        if (key == null) {
          key = keyOf(scratch.stateAt(name, keys, MAP).orElse(null), dot);
        }
        if (key != null && !live.contains(key)) {
          removed.add(key);
        }
      }
    }
    // A key is removed as a whole only if none of the writer's own entries of it survives the
    // edit: with single-leaf entries, a nested remove of one element also retracts map entries.
    for (Map.Entry<dev.lattice.crdt.Dot, Map.Entry<String, dev.lattice.crdt.Crdt<?>>> e :
        before.entries().entrySet()) {
      if (!after.context().contains(e.getKey())) {
        removed.remove(e.getValue().getKey());
      }
    }
    // Retract exactly the single-leaf entries the original edit had observed (a nested remove or
    // write retracts those, under their new dots where this pass made them again), and of a key
    // removed as a whole also the other entries this replica made again for the writer's own
    // earlier updates of it; not every entry held now: an update received after the original
    // edit must stay, as it would have.
    List<dev.lattice.crdt.Dot> retract = new ArrayList<>();
    scratch
        .stateAt(name, keys, MAP)
        .ifPresent(
            held ->
                held.entries()
                    .forEach(
                        (t, entry) -> {
                          boolean observed =
                              observedRemoved(
                                  t,
                                  before.context(),
                                  before.entries().keySet(),
                                  after.context(),
                                  after.entries().keySet());
                          boolean whole =
                              removed.contains(entry.getKey())
                                  && t.replica().equals(me)
                                  && !reissuedFrom.containsKey(t);
                          if (held.isSingleLeaf(t)
                              ? observed || whole
                              : removed.contains(entry.getKey())
                                  && (observed || t.replica().equals(me))) {
                            retract.add(t);
                          }
                        }));
    if (!retract.isEmpty()) {
      out =
          out.join(
              joinMine(
                  scratch,
                  name,
                  keys,
                  MAP,
                  dot -> dev.lattice.crdt.ORMap.of(Map.of(), dotsWith(dot, retract))));
    }
    return out;
  }

  private static String keyOf(dev.lattice.crdt.ORMap map, dev.lattice.crdt.Dot dot) {
    if (map == null) {
      return null;
    }
    Map.Entry<String, dev.lattice.crdt.Crdt<?>> entry = map.entries().get(dot);
    return entry == null ? null : entry.getKey();
  }

  /**
   * The edits by me that take the value at {@code keys} (inside a map) from the retired writer's
   * part {@code before} to its part {@code after}, of one type: a counter's difference, a
   * register's write, a set's new adds and its removals, an MV-Register's write, a map's edits.
   */
  private DocumentDelta redoValue(
      Document scratch,
      String name,
      List<String> keys,
      dev.lattice.crdt.Crdt<?> before,
      dev.lattice.crdt.Crdt<?> after) {
    if (after instanceof dev.lattice.crdt.GCounter g) {
      long amount = g.value() - ((dev.lattice.crdt.GCounter) before).value();
      return amount > 0
          ? scratch.mutateAt(
              me,
              name,
              keys,
              CrdtKind.of(dev.lattice.crdt.GCounter.class),
              (c, dot) -> c.increment(me, amount))
          : DocumentDelta.empty();
    }
    if (after instanceof dev.lattice.crdt.PNCounter pn) {
      dev.lattice.crdt.PNCounter was = (dev.lattice.crdt.PNCounter) before;
      long up = pn.increments().value() - was.increments().value();
      long down = pn.decrements().value() - was.decrements().value();
      CrdtKind<dev.lattice.crdt.PNCounter> kind = CrdtKind.of(dev.lattice.crdt.PNCounter.class);
      DocumentDelta out = DocumentDelta.empty();
      if (up > 0) {
        out = out.join(scratch.mutateAt(me, name, keys, kind, (c, dot) -> c.add(me, up)));
      }
      if (down > 0) {
        out = out.join(scratch.mutateAt(me, name, keys, kind, (c, dot) -> c.add(me, -down)));
      }
      return out;
    }
    if (after instanceof dev.lattice.crdt.LWWRegister register
        && register.value().isPresent()
        && register.timestamp().isPresent()) {
      Value value = register.value().get();
      HlcTimestamp at = register.timestamp().get();
      return scratch.mutateAt(
          me,
          name,
          keys,
          CrdtKind.of(dev.lattice.crdt.LWWRegister.class),
          (r, dot) -> r.set(value, at, me));
    }
    if (after instanceof dev.lattice.crdt.ORSet set) {
      return redoSet(scratch, name, keys, (dev.lattice.crdt.ORSet) before, set);
    }
    if (after instanceof dev.lattice.crdt.MVRegister register) {
      return redoMVRegister(scratch, name, keys, (dev.lattice.crdt.MVRegister) before, register);
    }
    if (after instanceof dev.lattice.crdt.ORMap map) {
      return redoMap(scratch, name, keys, (dev.lattice.crdt.ORMap) before, map);
    }
    return DocumentDelta.empty();
  }

  /**
   * The retired writer's set edits from its part {@code was} to {@code set} (at {@code keys}; the
   * field itself with none), made again by me as a translation, not as new operations on what the
   * replica holds now: each new add gets a fresh dot of mine, and the removal retracts exactly the
   * tags the original had observed ({@code set}'s context), under their new dots where this pass
   * re-issued them. Made again as {@code remove(element)}, a removal would also retract adds the
   * replica received after the original edit, which that edit never saw.
   */
  private DocumentDelta redoSet(
      Document scratch,
      String name,
      List<String> keys,
      dev.lattice.crdt.ORSet was,
      dev.lattice.crdt.ORSet set) {
    CrdtKind<dev.lattice.crdt.ORSet> kind = CrdtKind.of(dev.lattice.crdt.ORSet.class);
    DocumentDelta out = DocumentDelta.empty();
    for (Map.Entry<Value, List<dev.lattice.crdt.Dot>> e : set.entries().entrySet()) {
      List<dev.lattice.crdt.Dot> added =
          e.getValue().stream().filter(d -> !was.context().contains(d)).toList();
      if (!added.isEmpty()) {
        Value element = e.getKey();
        DocumentDelta add =
            joinMine(
                scratch,
                name,
                keys,
                kind,
                dot ->
                    dev.lattice.crdt.ORSet.of(
                        Map.of(element, List.of(dot)), dev.lattice.crdt.DotSet.of(dot)));
        reissuedFrom.put(add.context().singleDot().orElseThrow(), added);
        out = out.join(add);
      }
    }
    List<dev.lattice.crdt.Dot> retract =
        observedRemoved(
            scratch.stateAt(name, keys, kind).map(held -> dotsOf(held.entries())).orElse(Set.of()),
            was.context(),
            dotsOf(was.entries()),
            set.context(),
            dotsOf(set.entries()));
    if (!retract.isEmpty()) {
      out =
          out.join(
              joinMine(
                  scratch,
                  name,
                  keys,
                  kind,
                  dot -> dev.lattice.crdt.ORSet.of(Map.of(), dotsWith(dot, retract))));
    }
    return out;
  }

  private static Set<dev.lattice.crdt.Dot> dotsOf(Map<Value, List<dev.lattice.crdt.Dot>> entries) {
    Set<dev.lattice.crdt.Dot> dots = new HashSet<>();
    entries.values().forEach(dots::addAll);
    return dots;
  }

  /**
   * The retired writer's MV-Register write from {@code was} to {@code register}, made again by me
   * as {@link #redoSet} makes set edits: the new write under a fresh dot, replacing exactly the
   * writes the original had observed.
   */
  private DocumentDelta redoMVRegister(
      Document scratch,
      String name,
      List<String> keys,
      dev.lattice.crdt.MVRegister was,
      dev.lattice.crdt.MVRegister register) {
    CrdtKind<dev.lattice.crdt.MVRegister> kind = CrdtKind.of(dev.lattice.crdt.MVRegister.class);
    List<dev.lattice.crdt.Dot> retract =
        observedRemoved(
            scratch.stateAt(name, keys, kind).map(held -> held.writes().keySet()).orElse(Set.of()),
            was.context(),
            was.writes().keySet(),
            register.context(),
            register.writes().keySet());
    DocumentDelta out = DocumentDelta.empty();
    for (Map.Entry<dev.lattice.crdt.Dot, Value> w : register.writes().entrySet()) {
      if (!was.context().contains(w.getKey())) {
        // One live write per writer's part: the retractions go with it.
        Value value = w.getValue();
        DocumentDelta write =
            joinMine(
                scratch,
                name,
                keys,
                kind,
                dot -> dev.lattice.crdt.MVRegister.of(Map.of(dot, value), dotsWith(dot, retract)));
        reissuedFrom.put(write.context().singleDot().orElseThrow(), List.of(w.getKey()));
        out = out.join(write);
        retract.clear();
      }
    }
    return out;
  }

  /**
   * The edit by me at {@code keys} in {@code name} whose delta is {@code delta} of my fresh dot: a
   * translated edit, given as the delta it must send rather than as an operation on the state.
   */
  private <T extends dev.lattice.crdt.Crdt<T>> DocumentDelta joinMine(
      Document scratch,
      String name,
      List<String> keys,
      CrdtKind<T> kind,
      Function<dev.lattice.crdt.Dot, T> delta) {
    return scratch.mutateAt(
        me,
        name,
        keys,
        kind,
        (state, dot) -> {
          T d = delta.apply(dot);
          return new dev.lattice.crdt.Mutation<>(state.merge(d), d);
        });
  }

  /** The dots of {@code held} that {@link #observedRemoved} says the original edit retracted. */
  private List<dev.lattice.crdt.Dot> observedRemoved(
      java.util.Collection<dev.lattice.crdt.Dot> held,
      dev.lattice.crdt.DotSet before,
      Set<dev.lattice.crdt.Dot> beforeLive,
      dev.lattice.crdt.DotSet seen,
      Set<dev.lattice.crdt.Dot> live) {
    List<dev.lattice.crdt.Dot> out = new ArrayList<>();
    for (dev.lattice.crdt.Dot t : held) {
      if (observedRemoved(t, before, beforeLive, seen, live)) {
        out.add(t);
      }
    }
    return out;
  }

  /**
   * Whether the held tag {@code t} is one the original edit retracted: its own dot, or one of the
   * dots this pass re-issued it from, is in the edit's context {@code seen}, is live in the
   * writer's earlier part {@code before} or was never seen by it (so this edit, not an earlier one,
   * retracted it), and none of them is one of the edit's live dots {@code live}.
   */
  private boolean observedRemoved(
      dev.lattice.crdt.Dot t,
      dev.lattice.crdt.DotSet before,
      Set<dev.lattice.crdt.Dot> beforeLive,
      dev.lattice.crdt.DotSet seen,
      Set<dev.lattice.crdt.Dot> live) {
    List<dev.lattice.crdt.Dot> origins = reissuedFrom.getOrDefault(t, List.of(t));
    boolean retracted = false;
    for (dev.lattice.crdt.Dot origin : origins) {
      if (live.contains(origin)) {
        return false;
      }
      retracted |=
          seen.contains(origin) && (beforeLive.contains(origin) || !before.contains(origin));
    }
    return retracted;
  }

  private static dev.lattice.crdt.DotSet dotsWith(
      dev.lattice.crdt.Dot dot, List<dev.lattice.crdt.Dot> more) {
    List<dev.lattice.crdt.DotRange> ranges = new ArrayList<>();
    ranges.add(new dev.lattice.crdt.DotRange(dot.replica(), dot.sequence(), dot.sequence()));
    for (dev.lattice.crdt.Dot d : more) {
      ranges.add(new dev.lattice.crdt.DotRange(d.replica(), d.sequence(), d.sequence()));
    }
    return dev.lattice.crdt.DotSet.of(ranges);
  }

  /**
   * For the dots a re-issue pass gave the retired writer's adds and writes, the dots they were made
   * from: a later removal of the same pass that had observed an old dot retracts the new one.
   */
  private final Map<dev.lattice.crdt.Dot, List<dev.lattice.crdt.Dot>> reissuedFrom =
      new HashMap<>();

  private static void mergeQuietly(Document doc, DocumentDelta delta) {
    try {
      doc.merge(delta);
    } catch (FieldTypeMismatchException e) {
      doc.merge(DocumentDelta.of(delta.context(), Map.of()));
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
    if (uncheckpointed.isEmpty() && receivedSinceCheckpoint == 0) {
      return;
    }
    try {
      localState.checkpoint(id, base, uncheckpointed);
      uncheckpointed.clear();
      receivedSinceCheckpoint = 0;
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

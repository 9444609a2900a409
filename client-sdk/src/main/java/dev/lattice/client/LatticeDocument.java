package dev.lattice.client;

import dev.lattice.client.internal.DocumentState;
import dev.lattice.client.internal.FieldPaths;
import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.Mutation;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.hlc.HybridLogicalClock;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A handle to the live local replica of one document, from {@link LatticeClient#open}. Reads are
 * local and immediate; edits apply to the local replica at once, are stored in the outbox before
 * the edit call returns, and reach the server when the client is online. Changes from other
 * replicas merge in as they arrive.
 *
 * <p>Thread-safe: any thread may read, edit and register listeners. Listeners run on the client's
 * callback executor, in the order the changes applied, never on a network thread.
 */
public final class LatticeDocument {

  private final LatticeClient client;
  private final DocumentState state;

  LatticeDocument(LatticeClient client, DocumentState state) {
    this.client = client;
    this.state = state;
  }

  /** The document's id. */
  public String id() {
    return state.id;
  }

  /** The grow-only counter field {@code name} (created by its first increment). */
  public CounterField counter(String name) {
    return new CounterField(this, checkName(name));
  }

  /** The up-and-down counter field {@code name} (created by its first change). */
  public PNCounterField pnCounter(String name) {
    return new PNCounterField(this, checkName(name));
  }

  /** The last-writer-wins register field {@code name} (created by its first write). */
  public RegisterField register(String name) {
    return new RegisterField(this, checkName(name));
  }

  /** The add-wins observed-remove set field {@code name} (created by its first edit). */
  public SetField set(String name) {
    return new SetField(this, checkName(name), List.of());
  }

  /** The multi-value register field {@code name} (created by its first write). */
  public MVRegisterField mvRegister(String name) {
    return new MVRegisterField(this, checkName(name), List.of());
  }

  /** The observed-remove map field {@code name}, of nested fields (created by its first edit). */
  public MapField map(String name) {
    return new MapField(this, checkName(name), List.of());
  }

  /** A copy of the whole local replica, for reading many fields at one instant. */
  public Document snapshot() {
    return state.snapshot();
  }

  /** Calls {@code listener} for every change of the document, local or remote. */
  public Registration onChange(Consumer<? super ChangeEvent> listener) {
    return state.changeListeners.add(listener);
  }

  /** Calls {@code listener} for every change that touches the field {@code field}. */
  public Registration onFieldChange(String field, Consumer<? super ChangeEvent> listener) {
    Objects.requireNonNull(field, "field");
    Objects.requireNonNull(listener, "listener");
    return state.changeListeners.add(
        event -> {
          if (event.fields().contains(field)) {
            listener.accept(event);
          }
        });
  }

  /**
   * Calls {@code listener} when the server refuses one of this document's changes for good (the
   * change is then undone locally and leaves the outbox), or refuses to serve the document.
   */
  public Registration onRejected(Consumer<? super UpdateRejectedException> listener) {
    return state.rejectedListeners.add(listener);
  }

  /** Local changes the server has not acknowledged yet. */
  public int pendingChanges() {
    return state.pendingChanges();
  }

  /**
   * A future that completes when every local change of this document made before the call is
   * acknowledged by the server (durable there). It completes exceptionally with {@link
   * UpdateRejectedException} if the server refused one of them, and with {@link
   * IllegalStateException} if the client closes first. It does not time out by itself: while the
   * client is offline it waits. It completes on the callback executor, so do not block on it from
   * that executor (for Swing: do not call {@code flush().get()} on the event dispatch thread).
   */
  public CompletableFuture<Void> flush() {
    return state.flush();
  }

  /**
   * A future that completes once this document has caught up with the server for the first time:
   * the server's state as of the subscription is merged into the local replica (local edits made
   * meanwhile are kept; catching the server up with them is what {@link #flush()} waits for). Use
   * it instead of polling, e.g. to show a document only once it holds what others wrote:
   *
   * <pre>{@code
   * LatticeDocument board = client.open("board-42");
   * board.synced().get(10, TimeUnit.SECONDS);
   * }</pre>
   *
   * <p>Already complete after the first sync, whatever happens later (reconnects sync again without
   * a new future). It completes exceptionally with {@link UpdateRejectedException} if the server
   * refuses to serve the document, and with {@link IllegalStateException} if the document or the
   * client is closed first. It does not time out by itself: while the client is offline it waits.
   * It completes on the callback executor (do not block on it there).
   */
  public CompletableFuture<Void> synced() {
    return state.synced();
  }

  /**
   * Sets this client's presence on the document (a cursor, a name), shown to the document's other
   * subscribers; renewed automatically while the client is online, and sent again after a
   * reconnect.
   *
   * @throws IllegalArgumentException if {@code value} is nil (use {@link #clearPresence()})
   */
  public void setPresence(Value value) {
    Objects.requireNonNull(value, "value");
    if (value.equals(Value.nil())) {
      throw new IllegalArgumentException("a presence value cannot be nil; use clearPresence()");
    }
    state.setMyPresence(Optional.of(value));
    client.presenceChanged(state.id);
  }

  /** Clears this client's presence; the others see it leave. */
  public void clearPresence() {
    state.setMyPresence(Optional.empty());
    client.presenceChanged(state.id);
  }

  /** The presences of the other replicas on this document that this client sees now. */
  public Map<ReplicaId, Value> presences() {
    return state.others();
  }

  /** Calls {@code listener} when another replica's presence appears, changes or ends. */
  public Registration onPresence(Consumer<? super PresenceEvent> listener) {
    return state.presenceListeners.add(listener);
  }

  /**
   * Stops following the document: the server stops sending its changes (UNSUBSCRIBE), presence
   * ends, pending {@link #flush()} futures fail, and this handle refuses edits. Unacknowledged
   * changes stay in the outbox and are sent when the document is opened again (with a state
   * directory, even after a restart). Frees a slot of the server's documents-per-connection limit.
   * Idempotent; {@link LatticeClient#open} afterwards gives a new handle.
   */
  public void close() {
    client.close(this);
  }

  @Override
  public String toString() {
    return "LatticeDocument[" + state.id + ", pending " + state.pendingChanges() + "]";
  }

  // ------------------------------------------------------------------ for the field handles

  DocumentState state() {
    return state;
  }

  /** The replica the next edit is made by: the document's current one (see retirement). */
  ReplicaId me() {
    return state.me();
  }

  HybridLogicalClock clock() {
    return client.clock();
  }

  /**
   * Applies an edit after checking that its change can fit one frame; stored in the outbox before
   * this returns.
   */
  void edit(
      String field, CrdtType type, int payloadBytes, Function<Document, DocumentDelta> mutation) {
    edit(field, List.of(), type, payloadBytes, mutation);
  }

  private void edit(
      String field,
      List<String> keys,
      CrdtType type,
      int payloadBytes,
      Function<Document, DocumentDelta> mutation) {
    long frame =
        (long) payloadBytes
            + field.getBytes(StandardCharsets.UTF_8).length
            + state.id.getBytes(StandardCharsets.UTF_8).length
            + DocumentState.UPDATE_OVERHEAD_BYTES;
    int limit = client.maxFrameBytes();
    if (frame > limit) {
      throw tooLarge(type, FieldPaths.describe(field, keys), frame, limit);
    }
    if (keys.isEmpty()) {
      state.edit(field, mutation);
    } else {
      // A value inside a map travels as its writer's whole part of the key's value (all its adds
      // to a nested set, say), so the change's size says little: the delta itself is measured.
      state.edit(
          field,
          mutation,
          limit,
          bytes -> tooLarge(type, FieldPaths.describe(field, keys), bytes, limit));
    }
    client.kick();
  }

  private IllegalArgumentException tooLarge(CrdtType type, String path, long frame, int limit) {
    return new IllegalArgumentException(
        "a change of "
            + type
            + " field '"
            + path
            + "' of document '"
            + state.id
            + "' would take about "
            + frame
            + " bytes on the wire, over the server's limit of "
            + limit
            + " (maxFrameBytes); nothing was applied");
  }

  /**
   * Applies a mutation of the value at {@code keys} inside the field {@code field} (the field
   * itself with no keys) of {@code kind}, as {@link #edit} does.
   */
  <T extends Crdt<T>> void editAt(
      String field,
      List<String> keys,
      CrdtKind<T> kind,
      int payloadBytes,
      BiFunction<T, Dot, Mutation<T>> mutator) {
    int keyBytes = 0;
    for (String key : keys) {
      keyBytes += key.getBytes(StandardCharsets.UTF_8).length + 8;
    }
    edit(
        field,
        keys,
        kind.type(),
        payloadBytes + keyBytes,
        (Document d) -> d.mutateAt(me(), field, keys, kind, mutator));
  }

  private static String checkName(String name) {
    Objects.requireNonNull(name, "field name");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("a field name must not be empty");
    }
    return name;
  }
}

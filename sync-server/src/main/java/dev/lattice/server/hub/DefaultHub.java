package dev.lattice.server.hub;

import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.FieldTypeMismatchException;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.ClockDriftException;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.Presence;
import dev.lattice.protocol.Update;
import dev.lattice.server.store.DocumentStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The {@link Hub}: live documents in memory, each behind its own {@link SerialExecutor} over one
 * shared executor, made durable through a {@link DocumentStore}.
 *
 * <h2>Per document</h2>
 *
 * <p>Every access to a document's {@link Document}, its subscribers and their presences happens in
 * a task on the document's serial executor, so merges, refusals, appends and fan-out follow one
 * order.
 *
 * <h2>Rounds: the fan-out pipeline</h2>
 *
 * <p>An accepted update is merged at once, then joins the document's open round. A round closes
 * when no round of the document is in flight, in a task queued behind the work already waiting, so
 * every update that arrived while the document was busy (merging, or waiting for the store's
 * commit) rides in it: one joined delta goes to the store in one append, and once it is durable
 * each update of the round is acknowledged and the joined delta is fanned out once, as one {@link
 * FanOut} whose frame is encoded once and shared by every subscriber. A round has at most one
 * append in flight per document, so acks and fan-out follow merge order, and an ack never precedes
 * the durability of its delta or of any delta merged before it. Under light load a round holds one
 * update and this is the plain path; under load it is group commit and Hocuspocus-style update
 * merging in one. A subscriber that sent every update of a round is not sent the round; when
 * several connections contributed, each receives the whole joined delta, its own changes included
 * (merging them again changes nothing). With {@link HubConfig#minRoundInterval()} set, a round of a
 * document that started a round less than that long ago waits for the rest of the interval: a hot
 * document then sends fewer, larger frames, and a quiet one is not delayed.
 *
 * <h2>Updates</h2>
 *
 * <p>A delta is refused, changing nothing, when the connection is not subscribed, when it would add
 * fields beyond {@link HubConfig#maxFieldsPerDocument()}, when it gives an existing field another
 * type (so the hub is the arbiter of concurrent field creation: the first type merged wins), or
 * when its greatest timestamp is too far ahead of the server's clock. A delta whose dots the
 * document already holds and which changes no field is a duplicate (a resend after a lost ack): it
 * is not appended again, and its future completes with its round, once every append before it is
 * durable.
 *
 * <p><b>Store failure.</b> When a round's append fails, the future of every update in it fails with
 * {@link ErrorCode#INTERNAL} and nothing is fanned out. The in-memory document keeps the merged
 * delta (joins cannot be undone, and reloading would also drop other deltas still in flight). That
 * is safe because the client keeps the unacknowledged delta in its outbox and resends it; to make
 * sure the resend reaches the store, a document that ever saw a failed append stops treating deltas
 * it holds as duplicates (they are appended again; the store merges, so duplicates are harmless),
 * and a duplicate waiting behind the failed append fails too instead of being acknowledged.
 * Subscribers that joined in between may have received the delta in their catch-up; their SDKs send
 * back what the server lacks on their next subscribe, so the store converges either way.
 *
 * <h2>Memory</h2>
 *
 * <p>A document is loaded once, on its first subscribe (concurrent subscribers of a cold document
 * queue behind that one load), and released when its last subscriber leaves and no append is
 * pending: an append still in flight might not be visible to a reload yet. A failed load caches
 * nothing, so the next subscribe tries again, and never creates an empty document in place of
 * unreadable data. This is the seam for a weight-bounded cache (Caffeine, in an adapter outside
 * this package): {@code LiveDocument#maybeRelease} is the one place that decides to drop a
 * document, and {@code LiveDocument#ensureLoaded} the one place that loads it.
 *
 * <h2>Presence</h2>
 *
 * <p>Kept per (connection, document) with its expiry, at most {@link HubConfig#maxPresenceTtl()};
 * set, renewed and cleared by {@link #presence}, stamped with the connection's replica id and
 * fanned out to the other subscribers. Expiry (through the injected {@link HubScheduler}), an empty
 * value, unsubscribe and disconnect announce {@link Presence#leave}. Right after a subscribe
 * completes, the new subscriber is sent every live presence of the document (with its remaining
 * TTL) from the document's executor; a session that needs SYNC on the wire before those, and before
 * fan-out updates, sends SYNC from a non-async stage of the subscribe future.
 *
 * <p>{@link #unsubscribe} takes effect in the document's order: fan-out already queued for the
 * connection may still arrive, so a session drops updates of documents it no longer follows.
 *
 * <p>Thread-safe. Connections are told apart by {@link Object#equals}.
 */
public final class DefaultHub implements Hub, AutoCloseable {

  private static final System.Logger LOG = System.getLogger(DefaultHub.class.getName());

  private final DocumentStore store;
  private final Executor executor;
  private final HubScheduler scheduler;
  private final HybridLogicalClock clock;
  private final int maxFields;
  private final Duration maxPresenceTtl;
  private final ReplicaId serverReplica;
  private final int maxFieldBytes;
  private final DocumentCache cache;
  private final HubObserver observer;
  private final long minRoundIntervalNanos;
  private final ExecutorService ownedExecutor;
  private final ScheduledExecutorService ownedScheduler;

  private final ConcurrentHashMap<String, LiveDocument> documents = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Connection, ConnectionState> connections =
      new ConcurrentHashMap<>();

  private final AtomicLong subscriptions = new AtomicLong();
  private final AtomicLong loads = new AtomicLong();
  private final AtomicLong updatesMerged = new AtomicLong();
  private final AtomicLong duplicateUpdates = new AtomicLong();
  private final AtomicLong refusedUpdates = new AtomicLong();
  private final AtomicLong appendFailures = new AtomicLong();
  private final AtomicLong fanOutMessages = new AtomicLong();
  private final AtomicLong presenceMessages = new AtomicLong();
  private final AtomicLong cacheHits = new AtomicLong();

  /** A hub with {@code config}; creates the default executor and scheduler where none is given. */
  public DefaultHub(HubConfig config) {
    Objects.requireNonNull(config, "config");
    this.store = config.store();
    this.clock = config.clock();
    this.maxFields = config.maxFieldsPerDocument();
    this.maxPresenceTtl = config.maxPresenceTtl();
    this.serverReplica = config.serverReplicaId();
    this.maxFieldBytes = config.maxEditFieldBytes();
    this.cache = config.cache();
    this.observer = config.observer();
    this.minRoundIntervalNanos = config.minRoundInterval().toNanos();
    if (config.executor().isPresent()) {
      this.executor = config.executor().get();
      this.ownedExecutor = null;
    } else {
      this.ownedExecutor =
          Executors.newFixedThreadPool(
              Runtime.getRuntime().availableProcessors(), daemonThreads("lattice-hub-"));
      this.executor = ownedExecutor;
    }
    if (config.scheduler().isPresent()) {
      this.scheduler = config.scheduler().get();
      this.ownedScheduler = null;
    } else {
      this.ownedScheduler =
          Executors.newSingleThreadScheduledExecutor(daemonThreads("lattice-hub-timer-"));
      this.scheduler = HubScheduler.of(ownedScheduler);
    }
  }

  private static ThreadFactory daemonThreads(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  @Override
  public CompletableFuture<SyncResult> subscribe(
      Connection connection, String documentId, VersionVector clientVector) {
    Objects.requireNonNull(connection, "connection");
    Objects.requireNonNull(documentId, "documentId");
    Objects.requireNonNull(clientVector, "clientVector");
    ConnectionState state = connections.computeIfAbsent(connection, c -> new ConnectionState());
    CompletableFuture<SyncResult> result = new CompletableFuture<>();
    subscribe(state, connection, documentId, clientVector, result);
    return result;
  }

  private void subscribe(
      ConnectionState state,
      Connection connection,
      String documentId,
      VersionVector clientVector,
      CompletableFuture<SyncResult> result) {
    LiveDocument live = documents.computeIfAbsent(documentId, LiveDocument::new);
    dispatch(live, result, () -> live.subscribe(state, connection, clientVector, result));
  }

  @Override
  public CompletableFuture<Void> update(
      Connection connection, String documentId, DocumentDelta delta) {
    Objects.requireNonNull(connection, "connection");
    Objects.requireNonNull(documentId, "documentId");
    Objects.requireNonNull(delta, "delta");
    long received = System.nanoTime();
    CompletableFuture<Void> result = new CompletableFuture<>();
    LiveDocument live = documents.get(documentId);
    if (live == null) {
      refusedUpdates.incrementAndGet();
      result.completeExceptionally(notSubscribed(documentId));
      return result;
    }
    dispatch(live, result, () -> live.update(connection, delta, result, received));
    return result;
  }

  @Override
  public CompletableFuture<DocumentDelta> edit(String documentId, Consumer<DocumentEdit> edits) {
    Objects.requireNonNull(documentId, "documentId");
    Objects.requireNonNull(edits, "edits");
    DocumentEdit edit = new DocumentEdit(maxFieldBytes);
    edits.accept(edit);
    long received = System.nanoTime();
    CompletableFuture<DocumentDelta> result = new CompletableFuture<>();
    edit(documentId, edit, result, received);
    return result;
  }

  private void edit(
      String documentId,
      DocumentEdit edit,
      CompletableFuture<DocumentDelta> result,
      long received) {
    LiveDocument live = documents.computeIfAbsent(documentId, LiveDocument::new);
    dispatch(live, result, () -> live.edit(edit, result, received));
  }

  @Override
  public void unsubscribe(Connection connection, String documentId) {
    Objects.requireNonNull(connection, "connection");
    Objects.requireNonNull(documentId, "documentId");
    LiveDocument live = documents.get(documentId);
    if (live != null) {
      executeQuietly(live, () -> live.unsubscribe(connection));
    }
  }

  @Override
  public void presence(
      Connection connection, String documentId, Optional<Value> value, Duration ttl) {
    Objects.requireNonNull(connection, "connection");
    Objects.requireNonNull(documentId, "documentId");
    Objects.requireNonNull(value, "value");
    Objects.requireNonNull(ttl, "ttl");
    if (ttl.isNegative()) {
      throw new IllegalArgumentException("presence ttl must not be negative, was " + ttl);
    }
    // The subscription set is written by the document's tasks; reading it here answers the
    // caller synchronously, as the contract asks. The task checks again, in the document's order.
    ConnectionState state = connections.get(connection);
    LiveDocument live = documents.get(documentId);
    if (state == null || live == null || !state.documents.contains(documentId)) {
      throw notSubscribed(documentId);
    }
    Duration capped = ttl.compareTo(maxPresenceTtl) > 0 ? maxPresenceTtl : ttl;
    executeQuietly(live, () -> live.presence(connection, value, capped));
  }

  @Override
  public void disconnect(Connection connection) {
    Objects.requireNonNull(connection, "connection");
    ConnectionState state = connections.remove(connection);
    if (state == null) {
      return;
    }
    // Pairs with LiveDocument#subscribe, which adds the id and then reads the flag: either that
    // subscribe sees the flag and backs out, or this loop sees the id and unsubscribes it.
    state.closed = true;
    for (String documentId : state.documents) {
      unsubscribe(connection, documentId);
    }
  }

  /** A snapshot of the hub's counters. Thread-safe. */
  public HubStats stats() {
    return new HubStats(
        documents.size(),
        subscriptions.get(),
        loads.get(),
        updatesMerged.get(),
        duplicateUpdates.get(),
        refusedUpdates.get(),
        appendFailures.get(),
        fanOutMessages.get(),
        presenceMessages.get(),
        cacheHits.get());
  }

  /**
   * Shuts down the executor and scheduler the hub created itself (injected ones are the caller's).
   * Does not close the store, which the caller owns and should close after this to flush pending
   * appends.
   */
  @Override
  public void close() {
    if (ownedScheduler != null) {
      ownedScheduler.shutdownNow();
    }
    if (ownedExecutor != null) {
      ownedExecutor.shutdown();
    }
  }

  private static HubException notSubscribed(String documentId) {
    return new HubException(
        ErrorCode.NOT_SUBSCRIBED, "not subscribed to document '" + documentId + "'");
  }

  private static void dispatch(LiveDocument live, CompletableFuture<?> result, Runnable task) {
    try {
      live.serial.execute(task);
    } catch (RejectedExecutionException e) {
      result.completeExceptionally(
          new HubException(ErrorCode.INTERNAL, "the hub is shutting down", e));
    }
  }

  private static void executeQuietly(LiveDocument live, Runnable task) {
    try {
      live.serial.execute(task);
    } catch (RejectedExecutionException e) {
      LOG.log(System.Logger.Level.DEBUG, "hub shutting down; dropped a task of " + live.id);
    }
  }

  /** What the hub knows about a connection across documents. */
  private static final class ConnectionState {
    /** Documents subscribed; written only by document tasks, read by presence and disconnect. */
    final Set<String> documents = ConcurrentHashMap.newKeySet();

    volatile boolean closed;
  }

  /** One subscriber of one document. Confined to the document's serial executor. */
  private static final class Subscriber {
    final Connection connection;
    Presence presence;
    long presenceExpiresAt;
    long presenceGeneration;
    HubScheduler.Cancellable expiry;

    Subscriber(Connection connection) {
      this.connection = connection;
    }

    /** The live presence with the TTL it has left at {@code nowNanos}, for a newcomer. */
    Presence livePresence(String documentId, long nowNanos) {
      long remainingMillis = Math.max(0, (presenceExpiresAt - nowNanos) / 1_000_000);
      return new Presence(documentId, presence.replicaId(), remainingMillis, presence.value());
    }

    void clearPresence() {
      presence = null;
      presenceGeneration++;
      if (expiry != null) {
        expiry.cancel();
        expiry = null;
      }
    }
  }

  /**
   * One live document and its subscribers. Every field but {@link #id} and {@link #serial} is
   * confined to {@link #serial}: read and written only by its tasks.
   */
  private final class LiveDocument {
    final String id;
    final SerialExecutor serial;

    /** Null until loaded, and again once released. */
    Document doc;

    /** Removed from the hub's map; tasks still queued here re-route or find no subscriber. */
    boolean released;

    /** The failure of this instance's load, shared by the subscribes that queued behind it. */
    HubException loadFailure;

    /** Ordered so fan-out goes out in subscription order, which makes tests reproducible. */
    final Map<Connection, Subscriber> subscribers = new LinkedHashMap<>();

    /** Updates merged since {@link #inFlight} left, waiting to go to the store as one; or null. */
    Round open;

    /** The round the store is making durable; at most one per document, or null. */
    Round inFlight;

    /** A task that closes {@link #open} is queued on the serial executor or scheduled. */
    boolean closeQueued;

    /** When the last round started ({@link HubScheduler#nanoTime()}); see minRoundInterval. */
    long lastRoundStart;

    /** A round started since the document was loaded: {@link #lastRoundStart} holds a time. */
    boolean roundStarted;

    /** Some append of this instance failed: in-memory state may be ahead of the store. */
    boolean appendFailed;

    LiveDocument(String id) {
      this.id = id;
      this.serial = new SerialExecutor(executor);
    }

    void subscribe(
        ConnectionState state,
        Connection connection,
        VersionVector clientVector,
        CompletableFuture<SyncResult> result) {
      if (released) {
        // Released between the lookup and this task: start over on a fresh instance.
        DefaultHub.this.subscribe(state, connection, id, clientVector, result);
        return;
      }
      if (!ensureLoaded(result)) {
        return;
      }
      state.documents.add(id);
      if (state.closed) {
        state.documents.remove(id);
        result.completeExceptionally(
            new HubException(ErrorCode.INTERNAL, "the connection closed while subscribing"));
        maybeRelease();
        return;
      }
      if (subscribers.putIfAbsent(connection, new Subscriber(connection)) == null) {
        subscriptions.incrementAndGet();
      }
      result.complete(new SyncResult(doc.deltaSince(clientVector), doc.versionVector()));
      sendLivePresences(connection);
    }

    /** Loads the document if needed; on failure fails {@code result} and caches nothing. */
    private boolean ensureLoaded(CompletableFuture<?> result) {
      if (loadFailure != null) {
        result.completeExceptionally(loadFailure);
        return false;
      }
      if (doc != null) {
        return true;
      }
      Optional<Document> cached = cache.take(id);
      if (cached.isPresent()) {
        cacheHits.incrementAndGet();
        doc = cached.get();
        return true;
      }
      try {
        Optional<Document> stored = store.load(id);
        loads.incrementAndGet();
        // Only a document the store says never existed starts empty (Hocuspocus #382).
        doc = stored.orElseGet(() -> Document.create(id));
        return true;
      } catch (RuntimeException e) {
        loadFailure =
            new HubException(
                ErrorCode.INTERNAL, "cannot load document '" + id + "': " + e.getMessage(), e);
        // Out of the map at once, so the next subscribe loads afresh; the subscribes already
        // queued here shared this load and share its failure.
        documents.remove(id, this);
        result.completeExceptionally(loadFailure);
        return false;
      }
    }

    void update(
        Connection connection, DocumentDelta delta, CompletableFuture<Void> result, long received) {
      long started = System.nanoTime();
      if (released || doc == null || !subscribers.containsKey(connection)) {
        refuse(result, notSubscribed(id));
        return;
      }
      // Checked before the clock so that a refused delta does not even advance the clock.
      HubException refusal = fieldRefusal(delta.fields(), FieldState::type);
      if (refusal != null) {
        refuse(result, refusal);
        return;
      }
      Optional<HlcTimestamp> max = delta.maxTimestamp();
      if (max.isPresent()) {
        try {
          clock.update(max.get());
        } catch (ClockDriftException e) {
          refuse(result, new HubException(ErrorCode.CLOCK_DRIFT, e.getMessage(), e));
          return;
        }
      }
      accept(connection, delta, result, null, started, received);
    }

    /**
     * Merges a checked delta and puts it in the open round: appended with the rest of the round
     * unless it is a duplicate, acknowledged once the round (and so every round before it) is
     * durable.
     */
    private <T> void accept(
        Connection sender,
        DocumentDelta delta,
        CompletableFuture<T> result,
        T value,
        long started,
        long received) {
      boolean newDots = !doc.containsAll(delta.context());
      Set<String> changed;
      try {
        changed = doc.merge(delta);
      } catch (FieldTypeMismatchException e) {
        // Unreachable after the caller's checks, kept so a refusal never escapes as INTERNAL.
        refuse(result, typeMismatch(e));
        maybeRelease();
        return;
      }
      observer.merged(System.nanoTime() - started);
      boolean duplicate = !newDots && changed.isEmpty() && !appendFailed;
      if (duplicate) {
        duplicateUpdates.incrementAndGet();
      } else {
        updatesMerged.incrementAndGet();
      }
      if (open == null) {
        open = new Round();
      }
      open.add(sender, duplicate ? null : delta, new Waiter<>(result, value, duplicate, received));
      maybeCloseRound();
    }

    void edit(DocumentEdit edit, CompletableFuture<DocumentDelta> result, long received) {
      if (released) {
        DefaultHub.this.edit(id, edit, result, received);
        return;
      }
      if (!ensureLoaded(result)) {
        return;
      }
      long started = System.nanoTime();
      HubException refusal = fieldRefusal(edit.types(), type -> type);
      if (refusal != null) {
        refuse(result, refusal);
        maybeRelease();
        return;
      }
      DocumentDelta delta;
      try {
        delta = serverDelta(edit);
      } catch (ArithmeticException e) {
        refusedUpdates.incrementAndGet();
        result.completeExceptionally(e);
        maybeRelease();
        return;
      }
      if (delta.fields().isEmpty()) {
        result.complete(delta);
        maybeRelease();
        return;
      }
      accept(null, delta, result, delta, started, received);
    }

    /**
     * The edit as one delta of the server's replica, made on a scratch replica that holds the
     * document's dots and only the fields the edit touches: an edit that fails half way (a counter
     * overflow) leaves the live document untouched, and the delta then takes the path of a client's
     * update.
     */
    private DocumentDelta serverDelta(DocumentEdit edit) {
      Map<String, FieldState> touched = new HashMap<>();
      for (String field : edit.types().keySet()) {
        doc.field(field).ifPresent(f -> touched.put(field, f));
      }
      Document scratch = Document.restore(id, doc.context(), touched);
      DocumentDelta joined = DocumentDelta.empty();
      for (DocumentEdit.Op op : edit.ops()) {
        DocumentDelta step =
            switch (op.type()) {
              case G_COUNTER -> scratch.incrementGCounter(serverReplica, op.field(), op.amount());
              case PN_COUNTER -> scratch.addPNCounter(serverReplica, op.field(), op.amount());
              case LWW_REGISTER ->
                  scratch.setRegister(serverReplica, op.field(), op.value(), clock.now());
            };
        joined = joined.join(step);
      }
      return joined;
    }

    /**
     * Why fields of these types may not be merged into the document, or null if they may: too many
     * new fields ({@code TOO_MANY_FIELDS}) first, then an existing field given another type ({@code
     * FIELD_TYPE_MISMATCH}: the server arbitrates, the first type wins).
     */
    private <V> HubException fieldRefusal(Map<String, V> fields, Function<V, CrdtType> typeOf) {
      int added = 0;
      FieldTypeMismatchException mismatch = null;
      for (Map.Entry<String, V> e : fields.entrySet()) {
        Optional<CrdtType> existing = doc.typeOf(e.getKey());
        CrdtType type = typeOf.apply(e.getValue());
        if (existing.isEmpty()) {
          added++;
        } else if (existing.get() != type && mismatch == null) {
          mismatch = new FieldTypeMismatchException(e.getKey(), existing.get(), type);
        }
      }
      if (added > 0 && (long) doc.fieldCount() + added > maxFields) {
        return tooManyFields(added);
      }
      return mismatch == null ? null : typeMismatch(mismatch);
    }

    private HubException tooManyFields(int added) {
      return new HubException(
          ErrorCode.TOO_MANY_FIELDS,
          "the update adds "
              + added
              + " fields to document '"
              + id
              + "', which has "
              + doc.fieldCount()
              + "; at most "
              + maxFields
              + " are allowed");
    }

    private CompletableFuture<Void> append(DocumentDelta delta) {
      long handedOver = System.nanoTime();
      try {
        CompletableFuture<Void> appended = store.append(id, delta);
        appended.thenRun(() -> observer.appended(System.nanoTime() - handedOver));
        return appended;
      } catch (RuntimeException e) {
        return CompletableFuture.failedFuture(e);
      }
    }

    /**
     * Queues the closing of the open round when none is in flight. Queued rather than done now, so
     * that updates already waiting on the serial executor join the round first: what arrives while
     * the document is busy (merging, or waiting for the store) goes out as one append and one
     * fan-out frame.
     */
    private void maybeCloseRound() {
      if (open != null && inFlight == null && !closeQueued) {
        closeQueued = true;
        long wait =
            minRoundIntervalNanos == 0 || !roundStarted
                ? 0
                : lastRoundStart + minRoundIntervalNanos - scheduler.nanoTime();
        try {
          if (wait > 0) {
            scheduler.schedule(
                () -> executeQuietly(this, this::closeRound), Duration.ofNanos(wait));
            return;
          }
          serial.execute(this::closeRound);
        } catch (RejectedExecutionException e) {
          closeQueued = false;
          Round r = open;
          open = null;
          r.failAll(new HubException(ErrorCode.INTERNAL, "the hub is shutting down", e));
        }
      }
    }

    /** Hands the open round to the store; its completion comes back on the serial executor. */
    private void closeRound() {
      closeQueued = false;
      Round r = open;
      if (r == null || inFlight != null) {
        return;
      }
      open = null;
      inFlight = r;
      if (minRoundIntervalNanos > 0) {
        lastRoundStart = scheduler.nanoTime();
        roundStarted = true;
      }
      CompletableFuture<Void> appended =
          r.joined == null ? CompletableFuture.completedFuture(null) : append(r.joined);
      appended.whenComplete(
          (ignored, failure) -> {
            try {
              serial.execute(() -> roundDone(r, failure));
            } catch (RejectedExecutionException e) {
              LOG.log(System.Logger.Level.WARNING, "hub shut down with appends in flight");
              r.failAll(new HubException(ErrorCode.INTERNAL, "the hub is shutting down", e));
            }
          });
    }

    /**
     * The store answered for round {@code r}: acknowledges (or fails) each of its updates, fans its
     * joined delta out once, and lets the next round go.
     */
    private void roundDone(Round r, Throwable failure) {
      inFlight = null;
      if (failure != null) {
        appendFailed = true;
        appendFailures.incrementAndGet();
        r.failAll(
            new HubException(
                ErrorCode.INTERNAL,
                "could not make the update of document '" + id + "' durable; retry it",
                unwrap(failure)));
      } else {
        for (Waiter<?> w : r.waiters) {
          if (w.duplicate && appendFailed) {
            // An append ahead of this resend failed: acking now would claim durability we do not
            // have. The client retries; it is no duplicate then.
            w.result.completeExceptionally(
                new HubException(
                    ErrorCode.INTERNAL,
                    "an earlier append of document '" + id + "' failed; retry"));
          } else {
            w.complete();
          }
        }
        if (r.joined != null) {
          fanOut(r);
        }
      }
      maybeCloseRound();
      maybeRelease();
    }

    /**
     * Sends the round's joined delta to every subscriber, encoded once. A subscriber that is the
     * round's only sender is skipped (it has every change of the round); when several connections
     * contributed, each gets the whole round, its own updates included, which merge as no-ops.
     */
    private void fanOut(Round r) {
      FanOut message = new FanOut(Update.fanOut(id, r.joined));
      int recipients = 0;
      for (Subscriber s : subscribers.values()) {
        if ((r.severalSenders || !s.connection.equals(r.sender))
            && sendFanOut(s.connection, message)) {
          recipients++;
        }
      }
      fanOutMessages.addAndGet(recipients);
      if (recipients > 0) {
        long now = System.nanoTime();
        for (Waiter<?> w : r.waiters) {
          if (!w.duplicate) {
            observer.fannedOut(recipients, now - w.received);
          }
        }
      }
    }

    void unsubscribe(Connection connection) {
      ConnectionState state = connections.get(connection);
      if (state != null) {
        state.documents.remove(id);
      }
      Subscriber s = subscribers.remove(connection);
      if (s != null) {
        subscriptions.decrementAndGet();
        if (s.presence != null) {
          s.clearPresence();
          announceGone(connection);
        }
      }
      maybeRelease();
    }

    void presence(Connection connection, Optional<Value> value, Duration ttl) {
      Subscriber s = subscribers.get(connection);
      if (released || s == null) {
        return; // unsubscribed since the caller's check; nothing to announce
      }
      boolean leaving = value.isEmpty() || value.get().equals(Value.nil());
      if (leaving) {
        if (s.presence != null) {
          s.clearPresence();
          announceGone(connection);
        }
        return;
      }
      s.clearPresence();
      Presence p = new Presence(id, connection.replicaId(), ttl.toMillis(), value);
      s.presence = p;
      s.presenceExpiresAt = scheduler.nanoTime() + ttl.toNanos();
      long generation = s.presenceGeneration;
      // The timer only posts to this executor; the generation tells a stale timer (the presence
      // was renewed or cleared since) from the live one, as cancel may lose the race.
      s.expiry = scheduler.schedule(() -> executeQuietly(this, () -> expire(s, generation)), ttl);
      announce(connection, p);
    }

    private void expire(Subscriber s, long generation) {
      if (subscribers.get(s.connection) != s
          || s.presence == null
          || s.presenceGeneration != generation) {
        return;
      }
      s.presence = null;
      s.expiry = null;
      s.presenceGeneration++;
      announceGone(s.connection);
    }

    /**
     * Announces that {@code gone}'s presence ended. Presence is keyed by replica id, and one
     * replica may have two connections for a moment (a client reconnecting before the server
     * noticed the old socket die): if another connection of the same replica still holds a live
     * presence, the others are sent that one instead of a leave, which would make them drop a live
     * presence.
     */
    private void announceGone(Connection gone) {
      long now = scheduler.nanoTime();
      for (Subscriber s : subscribers.values()) {
        if (!s.connection.equals(gone)
            && s.presence != null
            && s.connection.replicaId().equals(gone.replicaId())) {
          announce(s.connection, s.livePresence(id, now), gone);
          return;
        }
      }
      announce(gone, Presence.leave(id, gone.replicaId()));
    }

    /** Sends {@code message} to every subscriber but {@code from} and {@code alsoSkip}. */
    private void announce(Connection from, Message message, Connection alsoSkip) {
      for (Subscriber s : subscribers.values()) {
        if (!s.connection.equals(from)
            && !s.connection.equals(alsoSkip)
            && send(s.connection, message)) {
          presenceMessages.incrementAndGet();
        }
      }
    }

    private void sendLivePresences(Connection newcomer) {
      long now = scheduler.nanoTime();
      for (Subscriber s : subscribers.values()) {
        if (s.presence != null
            && !s.connection.equals(newcomer)
            && send(newcomer, s.livePresence(id, now))) {
          presenceMessages.incrementAndGet();
        }
      }
    }

    private void announce(Connection from, Message message) {
      announce(from, message, from);
    }

    /**
     * Drops the document from memory when nobody follows it and nothing is in flight: a pending
     * append might not be visible to a reload yet. The one place a cache policy would hook in.
     */
    private void maybeRelease() {
      if (!released && subscribers.isEmpty() && open == null && inFlight == null) {
        released = true;
        // After a failed append the live state may be ahead of the store; only the store's
        // version may be reloaded, so such a document is not cached. Cached before it leaves the
        // map, so a subscribe that starts over on a fresh instance finds it.
        if (doc != null && !appendFailed) {
          cache.put(doc);
        }
        doc = null;
        documents.remove(id, this);
      }
    }

    private void refuse(CompletableFuture<?> result, HubException e) {
      refusedUpdates.incrementAndGet();
      result.completeExceptionally(e);
    }
  }

  private static HubException typeMismatch(FieldTypeMismatchException e) {
    return new HubException(ErrorCode.FIELD_TYPE_MISMATCH, e.getMessage(), e);
  }

  private static Throwable unwrap(Throwable failure) {
    return failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
        ? failure.getCause()
        : failure;
  }

  /**
   * The updates merged into a document while the round before was in flight: appended as one joined
   * delta, acknowledged one by one, fanned out as one UPDATE. Confined to the document's serial
   * executor.
   */
  private static final class Round {
    /** The join of the round's new deltas; null while it has only duplicates. */
    DocumentDelta joined;

    /** The connection of the round's first new delta (null for a server edit). */
    Connection sender;

    /** New deltas came from more than one connection (or from a connection and an edit). */
    boolean severalSenders;

    final List<Waiter<?>> waiters = new ArrayList<>(4);

    void add(Connection from, DocumentDelta delta, Waiter<?> waiter) {
      waiters.add(waiter);
      if (delta == null) {
        return;
      }
      if (joined == null) {
        joined = delta;
        sender = from;
      } else {
        joined = joined.join(delta);
        if (!Objects.equals(sender, from)) {
          severalSenders = true;
        }
      }
    }

    void failAll(HubException e) {
      for (Waiter<?> w : waiters) {
        w.result.completeExceptionally(e);
      }
    }
  }

  /** One update of a round: its future, the value it completes with, and when it arrived. */
  private record Waiter<T>(CompletableFuture<T> result, T value, boolean duplicate, long received) {
    void complete() {
      result.complete(value);
    }
  }

  /** {@link #send} for a round's shared fan-out. */
  private static boolean sendFanOut(Connection connection, FanOut message) {
    return isolated(connection, c -> c.sendFanOut(message));
  }

  private static boolean send(Connection connection, Message message) {
    return isolated(connection, c -> c.send(message));
  }

  /**
   * Runs a send, isolating the document from a connection that throws: one bad peer stops no one.
   */
  private static boolean isolated(Connection connection, Consumer<Connection> send) {
    try {
      send.accept(connection);
      return true;
    } catch (RuntimeException e) {
      LOG.log(
          System.Logger.Level.WARNING,
          "sending to connection " + connection.id() + " failed; skipping it",
          e);
      return false;
    }
  }
}

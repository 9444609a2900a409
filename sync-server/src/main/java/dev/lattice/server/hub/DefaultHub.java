package dev.lattice.server.hub;

import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.FieldTypeMismatchException;
import dev.lattice.crdt.Mutation;
import dev.lattice.crdt.OwnDeltaCheck;
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
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.DocumentEdit;
import dev.lattice.server.spi.DocumentStore;
import dev.lattice.server.spi.FieldTypeConflictException;
import dev.lattice.server.spi.LatticeExtension;
import dev.lattice.server.spi.ReplicationSink;
import dev.lattice.server.spi.Replicator;
import dev.lattice.server.spi.StoreCursor;
import dev.lattice.server.spi.StoredChanges;
import dev.lattice.server.spi.StoredDocument;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
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
 * delta (joins cannot be undone, and reloading would also drop other deltas still in flight), and
 * the hub appends it again: with the next round, or in a round of its own after a back-off
 * (starting at {@link HubConfig#repairDelay()}), until the store takes it; that round is then
 * fanned out to every subscriber and announced. So a server edit, which no client holds to resend,
 * is not lost, and the store catches up with what subscribers that joined in between got in their
 * catch-up. Clients resend their unacknowledged deltas as well; the store merges, so the duplicates
 * are harmless. Until the failed deltas are durable again the document is neither released nor
 * cached, deltas it holds are not treated as duplicates (a resend is appended again), and every
 * delta it gets from the store or another hub is sent to its subscribers whole, not only the part
 * new to it, since the resend may come back that way.
 *
 * <h2>Replication</h2>
 *
 * <p>With a {@link Replicator} other than {@link Replicator#none()}, several hubs (server
 * processes) share one store. A document live here is followed through the replicator from before
 * its load; each durable round is announced once, with where the store put it ({@link Appended}); a
 * delivered remote delta is merged by the document's executor like a local one, fanned out to every
 * subscriber here, never announced again. The document keeps the head of the chain of appends it
 * holds ({@code previous -> position}, its own and the delivered ones). A delivery that does not
 * link up (one before it was lost, or is late), a newer head reported by the replicator, or a
 * reconnect, leads to a read from the store of everything after the head ({@link
 * DocumentStore#readSince}): after {@link HubConfig#repairDelay()} unless the chain has healed by
 * then, at once for a reconnect. Presence of subscribers on other servers is shown here like a
 * local one and expires with its TTL. A cached document is brought up to date from the store before
 * it is served again. The store is the truth; the bus is only the fast path.
 *
 * <p><b>A store that lost the document</b> (Redis restarted empty) is the exception: then the live
 * documents are the truth, and each hub holding the document writes the whole of it back, in a
 * round (not fanned out, but announced), and reads the store's again from the origin. A hub takes
 * the store to have lost the document when: the replicator reports its head as the origin; a read
 * answers the origin ({@link DocumentStore#readSince} of a missing document, or of a cursor from
 * before the history the store now holds); an append, its own or delivered (even one it holds
 * already), has the origin before it and comes after a position the hub had heard of (the append
 * re-created the document); its own append, or a delivered one it lacked, belongs to a history
 * older than the latest re-creation it heard of; or a read from the origin (the store's whole
 * document) lacks something held here when it started that was not on its way to the store. A read
 * from the origin that cannot tell (started before the hub heard of any position and answered
 * after, or lacking something that was on its way then and has landed since) is made again from the
 * hub's position. This relies on positions growing across such a loss, as Redis stream ids, taken
 * from its clock, do. A write-back that fails is tried again like a failed round. What no live
 * document and no client holds any more is lost with the store. Two losses within a moment of each
 * other can still hide one (an append that landed between them, whose hub heard of nothing after it
 * before the second).
 *
 * <h2>Memory</h2>
 *
 * <p>A document is loaded once, on its first subscribe (concurrent subscribers of a cold document
 * queue behind that one load, which runs asynchronously: the executor is not held), and released
 * when its last subscriber leaves and no append is pending: an append still in flight might not be
 * visible to a reload yet. A failed load caches nothing, so the next subscribe tries again, and
 * never creates an empty document in place of unreadable data. This is the seam for a
 * weight-bounded cache (Caffeine, in an adapter outside this package): {@code
 * LiveDocument#maybeRelease} is the one place that decides to drop a document, and {@code
 * LiveDocument#startLoad} the one place that loads it.
 *
 * <h2>Hooks</h2>
 *
 * <p>With {@link HubConfig#hooks()} set, a load asks {@link DocumentHooks#loading} before anyone is
 * served the document (a failure fails the load like a store failure; a seed of a new document is
 * applied as a server edit, in the first round); each accepted update is recorded in its round and
 * reported by {@link DocumentHooks#changed} once the round is durable and acknowledged (a failed
 * round's changes ride with the retry), followed by {@link DocumentHooks#stored}; a release of a
 * loaded document is reported by {@link DocumentHooks#unloaded}. Deltas delivered by the replicator
 * are never reported. The hooks only queue: nothing here waits for an extension.
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

  /** The least wait before a failed append is tried again. */
  private static final Duration MIN_RETRY_DELAY = Duration.ofMillis(10);

  /** The longest wait between two tries of a failed append. */
  private static final Duration MAX_RETRY_DELAY = Duration.ofSeconds(5);

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
  private final Replicator replicator;
  private final boolean replicating;
  private final Duration repairDelay;
  private final DocumentHooks hooks;
  private final boolean hooked;
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
  private final AtomicLong remoteDeltas = new AtomicLong();
  private final AtomicLong repairs = new AtomicLong();
  private final AtomicLong reseeds = new AtomicLong();
  private final AtomicLong gaps = new AtomicLong();
  private final AtomicLong typeConflicts = new AtomicLong();

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
    this.replicator = config.replicator();
    this.replicating = replicator != Replicator.none();
    this.repairDelay = config.repairDelay();
    this.hooks = config.hooks();
    this.hooked = hooks != DocumentHooks.NONE;
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
    replicator.start(new Sink());
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
    RecordedEdit edit = new RecordedEdit(maxFieldBytes);
    edits.accept(edit);
    long received = System.nanoTime();
    CompletableFuture<DocumentDelta> result = new CompletableFuture<>();
    edit(documentId, edit, result, received);
    return result;
  }

  private void edit(
      String documentId,
      RecordedEdit edit,
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
    if (state == null || live == null || !state.documents().contains(documentId)) {
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
    for (String documentId : state.documents()) {
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
        cacheHits.get(),
        remoteDeltas.get(),
        repairs.get(),
        reseeds.get(),
        gaps.get(),
        typeConflicts.get());
  }

  /**
   * Closes the replicator and shuts down the executor and scheduler the hub created itself
   * (injected ones are the caller's). Does not close the store, which the caller owns and should
   * close after this to flush pending appends.
   */
  @Override
  public void close() {
    replicator.close();
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
    /**
     * Documents subscribed; written only by document tasks, read by presence and disconnect. An
     * immutable set replaced under the state's lock: subscribing is rare next to reading, and a
     * concurrent set cost every connection about 200 bytes to hold its one document.
     */
    private volatile Set<String> documents = Set.of();

    volatile boolean closed;

    Set<String> documents() {
      return documents;
    }

    synchronized void add(String documentId) {
      if (!documents.contains(documentId)) {
        Set<String> next = new HashSet<>(documents);
        next.add(documentId);
        documents = Set.copyOf(next);
      }
    }

    synchronized void remove(String documentId) {
      if (documents.contains(documentId)) {
        Set<String> next = new HashSet<>(documents);
        next.remove(documentId);
        documents = Set.copyOf(next);
      }
    }
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

    /**
     * An append of this instance failed and what it held is not yet durable: in-memory state may be
     * ahead of the store. Cleared once a round carrying {@link #unsaved} is durable.
     */
    boolean appendFailed;

    /**
     * The join of the failed rounds' deltas, merged here but maybe not in the store; appended again
     * with the next round (one is started after a delay if none comes). Null when nothing is.
     */
    DocumentDelta unsaved;

    /** The hooks' changes of the failed rounds in {@link #unsaved}; null when none. */
    List<LatticeExtension.Change> unsavedChanges;

    /** A retry of {@link #unsaved} is scheduled. */
    boolean retryScheduled;

    /** Failed appends in a row, for the retry's back-off. */
    int failuresInARow;

    /**
     * The store refused {@link #refused}'s append for a field another server made durable first
     * with another type: the document is being read again from the store, and no round closes until
     * it is (see {@link #typeConflict}).
     */
    boolean reloading;

    /** The round the store refused while {@link #reloading}; null otherwise. */
    Round refused;

    /** The fields the store refused {@link #refused} for, with the types it holds. */
    Map<String, CrdtType> refusedTypes = Map.of();

    /** Remote deltas delivered while {@link #reloading}; merged once the document is read. */
    List<RemoteDelta> arrivedWhileReloading;

    /** A repair was asked for while {@link #reloading}; it runs once the document is read. */
    boolean repairAfterReload;

    /** Work waiting for the load under way; null when no load is. */
    List<LoadWaiter> waitingForLoad;

    /** Remote deltas delivered while the load was under way; merged once it is done. */
    List<RemoteDelta> arrivedWhileLoading;

    /**
     * The document holds every append of the store up to here: the head of the chain of appends
     * ({@link Appended}: previous to position) this hub has merged, its own and the ones delivered.
     */
    StoreCursor position = StoreCursor.ORIGIN;

    /**
     * The newest position of the document in the store this hub has heard of (loaded, appended,
     * delivered or read), chained or not; back to the origin when the store lost the document.
     */
    StoreCursor seen = StoreCursor.ORIGIN;

    /** The oldest position heard of since the load or the store's last loss; null if none. */
    StoreCursor since;

    /** The latest position at which the document's history started over (an append after none). */
    StoreCursor born;

    /** Appends merged but not yet chained to {@link #position}: previous to position. Lazy. */
    TreeMap<StoreCursor, StoreCursor> ahead;

    /** The newest position the replicator reported for the document, if after {@link #position}. */
    StoreCursor reportedHead;

    /** A check for a break in the chain is scheduled. */
    boolean gapCheckScheduled;

    /** A read from the store is under way; {@link #repairAgain} asks for another after it. */
    boolean repairing;

    boolean repairAgain;

    /**
     * The store lost the document (or the part of its history this hub had reached): the next round
     * writes the whole document back. Set again when that append fails.
     */
    boolean rewrite;

    /** The store lost this document once: {@link #position} went back to the origin then. */
    boolean lostOnce;

    /** Set off the executor by a cache refresh that found the store empty; read once loaded. */
    volatile boolean needsReseed;

    /** Presences of subscribers on other servers, by replica. Lazy. */
    Map<ReplicaId, RemotePresence> remotePresences;

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
      whenLoaded(result, () -> subscribeLoaded(state, connection, clientVector, result));
    }

    private void subscribeLoaded(
        ConnectionState state,
        Connection connection,
        VersionVector clientVector,
        CompletableFuture<SyncResult> result) {
      state.add(id);
      if (state.closed) {
        state.remove(id);
        result.completeExceptionally(
            new HubException(ErrorCode.INTERNAL, "the connection closed while subscribing"));
        maybeRelease();
        return;
      }
      if (subscribers.putIfAbsent(connection, new Subscriber(connection)) == null) {
        subscriptions.incrementAndGet();
      }
      SyncResult sync = new SyncResult(doc.deltaSince(clientVector), doc.versionVector());
      // A catch-up shows only what is durable: merged updates still on their way to the store
      // ride with their round, and the SYNC leaves when that round is durable. Otherwise a server
      // that crashed before the append would have shown a newcomer state nobody can send back (a
      // client may send only its own replica's dots, so a lost server edit would stay on that
      // client alone). A failed round fails the subscribe with INTERNAL, which the client retries.
      Round pending = open != null ? open : inFlight;
      if (pending == null && (unsaved != null || reloading)) {
        // While reloading, the document may hold a refused round: the subscribe retries.
        open = new Round();
        pending = open;
      }
      if (pending != null) {
        pending.add(null, null, new Waiter<>(result, sync, true, System.nanoTime()));
      } else {
        result.complete(sync);
      }
      sendLivePresences(connection);
    }

    /**
     * Runs {@code then} once the document is loaded: now if it is, else when the load started here
     * (or already under way) completes; on a failed load fails {@code result} instead and caches
     * nothing.
     */
    private void whenLoaded(CompletableFuture<?> result, Runnable then) {
      if (loadFailure != null) {
        result.completeExceptionally(loadFailure);
        return;
      }
      if (doc != null) {
        then.run();
        return;
      }
      if (waitingForLoad == null) {
        waitingForLoad = new ArrayList<>(2);
        startLoad();
      }
      waitingForLoad.add(new LoadWaiter(result, then));
    }

    /**
     * Follows the document (so nothing announced after the load is missed), then takes it from the
     * cache or loads it; the answer comes back on the serial executor. With other writers of the
     * store, a cached document is brought up to date from the store before it is served.
     */
    private void startLoad() {
      Optional<StoredDocument> cached = cache.take(id);
      CompletableFuture<Optional<StoredDocument>> loading;
      if (cached.isPresent() && !replicating) {
        cacheHits.incrementAndGet();
        loading = CompletableFuture.completedFuture(cached);
      } else {
        loading =
            followThen(
                () -> {
                  if (cached.isEmpty()) {
                    return store.loadAsync(id);
                  }
                  cacheHits.incrementAndGet();
                  StoredDocument c = cached.get();
                  return store
                      .readSince(id, c.position())
                      .thenApply(
                          changes -> {
                            if (changes.position().equals(StoreCursor.ORIGIN)
                                && c.position().isAfter(StoreCursor.ORIGIN)) {
                              // The store lost it while it sat here; the head check of the
                              // live document writes it back.
                              needsReseed = true;
                            }
                            c.document().merge(changes.delta());
                            return Optional.of(
                                new StoredDocument(
                                    c.document(),
                                    StoreCursor.max(c.position(), changes.position())));
                          });
                });
      }
      boolean fromStore = cached.isEmpty();
      if (!hooked) {
        loading.whenComplete(
            (stored, failure) ->
                executeQuietly(this, () -> loaded(stored, List.of(), failure, fromStore)));
        return;
      }
      // The extensions see the document before anyone is served it, and may seed a new one.
      loading
          .thenCompose(
              stored ->
                  askHooks(stored.isEmpty()).thenApply(seeds -> new LoadedWithSeeds(stored, seeds)))
          .whenComplete(
              (done, failure) ->
                  executeQuietly(
                      this,
                      () ->
                          loaded(
                              done == null ? null : done.stored(),
                              done == null ? List.of() : done.seeds(),
                              failure,
                              fromStore)));
    }

    private CompletableFuture<List<Consumer<DocumentEdit>>> askHooks(boolean isNew) {
      try {
        CompletionStage<List<Consumer<DocumentEdit>>> stage = hooks.loading(id, isNew);
        if (stage == null) {
          return CompletableFuture.failedFuture(
              new IllegalStateException("an extension's load hook gave no answer"));
        }
        return stage.toCompletableFuture().thenApply(seeds -> seeds == null ? List.of() : seeds);
      } catch (RuntimeException e) {
        return CompletableFuture.failedFuture(e);
      }
    }

    private <T> CompletableFuture<T> followThen(
        java.util.function.Supplier<CompletableFuture<T>> next) {
      try {
        return replicator.follow(id).thenCompose(ignored -> next.get());
      } catch (RuntimeException e) {
        return CompletableFuture.failedFuture(e);
      }
    }

    private void loaded(
        Optional<StoredDocument> stored,
        List<Consumer<DocumentEdit>> seeds,
        Throwable failure,
        boolean fromStore) {
      RecordedEdit seed = null;
      if (failure == null && stored.isEmpty() && !seeds.isEmpty()) {
        try {
          seed = new RecordedEdit(maxFieldBytes);
          for (Consumer<DocumentEdit> s : seeds) {
            s.accept(seed);
          }
        } catch (RuntimeException e) {
          failure =
              new IllegalArgumentException("an extension's seed failed: " + e.getMessage(), e);
        }
      }
      // waitingForLoad stays set until every waiter ran: it keeps maybeRelease, called by a waiter
      // (a subscribe whose connection closed meanwhile, an empty edit), from dropping the
      // document under the waiters after it.
      List<LoadWaiter> waiting = waitingForLoad;
      List<RemoteDelta> early = arrivedWhileLoading;
      arrivedWhileLoading = null;
      if (failure != null) {
        waitingForLoad = null;
        Throwable cause = unwrap(failure);
        loadFailure =
            new HubException(
                ErrorCode.INTERNAL,
                "cannot load document '" + id + "': " + cause.getMessage(),
                cause);
        // Out of the map at once, so the next subscribe loads afresh; the subscribes already
        // queued here shared this load and share its failure.
        released = true;
        documents.remove(id, this);
        if (replicating) {
          replicator.unfollow(id);
        }
        for (LoadWaiter w : waiting) {
          w.result.completeExceptionally(loadFailure);
        }
        return;
      }
      if (fromStore) {
        loads.incrementAndGet();
      }
      // Only a document the store says never existed starts empty (Hocuspocus #382).
      if (stored.isPresent()) {
        doc = stored.get().document();
        position = stored.get().position();
        seen = position;
        if (position.isAfter(StoreCursor.ORIGIN)) {
          since = position;
        }
      } else {
        doc = Document.create(id);
        if (seed != null) {
          seed(seed);
        }
      }
      if (early != null) {
        for (RemoteDelta r : early) {
          remote(r.delta, r.appended);
        }
      }
      for (LoadWaiter w : waiting) {
        w.then.run();
      }
      waitingForLoad = null;
      if (needsReseed) {
        needsReseed = false;
        storeLost();
      }
      maybeRelease();
    }

    /**
     * Applies an extension's seed to the document just created, as a server edit, before any waiter
     * of the load runs: the subscribes then see it in their catch-up once it is durable.
     */
    private void seed(RecordedEdit edit) {
      CompletableFuture<DocumentDelta> seeded = new CompletableFuture<>();
      seeded.whenComplete(
          (delta, failure) -> {
            if (failure != null) {
              LOG.log(
                  System.Logger.Level.WARNING,
                  "could not seed document '" + id + "': " + unwrap(failure).getMessage());
            }
          });
      applyEdit(edit, seeded, System.nanoTime(), LatticeExtension.Source.SEED);
    }

    void update(
        Connection connection, DocumentDelta delta, CompletableFuture<Void> result, long received) {
      long started = System.nanoTime();
      if (released || doc == null || !subscribers.containsKey(connection)) {
        refuse(result, notSubscribed(id));
        return;
      }
      // Checked before the clock so that a refused delta does not even advance the clock.
      HubException refusal = identityRefusal(connection.replicaId(), delta);
      if (refusal == null) {
        refusal = fieldRefusal(delta.fields(), FieldState::type);
      }
      if (refusal == null) {
        // A map key keeps the first type the server holds, as a field does.
        refusal = doc.keyTypeConflict(delta).map(DefaultHub::typeMismatch).orElse(null);
      }
      if (refusal == null) {
        refusal = counterRefusal(delta);
      }
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
      accept(connection, delta, result, null, started, received, LatticeExtension.Source.CLIENT);
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
        long received,
        LatticeExtension.Source source) {
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
      LatticeExtension.Change change =
          hooked && !duplicate
              ? new LatticeExtension.Change(
                  id,
                  delta,
                  sender == null ? serverReplica : sender.replicaId(),
                  sender == null ? Optional.empty() : Optional.ofNullable(sender.principal()),
                  source)
              : null;
      open.add(
          sender,
          duplicate ? null : delta,
          new Waiter<>(
              result, value, duplicate, received, sender, duplicate ? null : delta, change));
      if (change != null) {
        open.change(change);
      }
      maybeCloseRound();
    }

    void edit(RecordedEdit edit, CompletableFuture<DocumentDelta> result, long received) {
      if (released) {
        DefaultHub.this.edit(id, edit, result, received);
        return;
      }
      whenLoaded(result, () -> editLoaded(edit, result, received));
    }

    private void editLoaded(
        RecordedEdit edit, CompletableFuture<DocumentDelta> result, long received) {
      applyEdit(edit, result, received, LatticeExtension.Source.EDIT);
    }

    private void applyEdit(
        RecordedEdit edit,
        CompletableFuture<DocumentDelta> result,
        long received,
        LatticeExtension.Source source) {
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
        result.completeExceptionally(
            new HubException(ErrorCode.COUNTER_OVERFLOW, e.getMessage(), e));
        maybeRelease();
        return;
      } catch (FieldTypeMismatchException e) {
        // A key of an OR-Map holds another type than the edit's nested operation.
        refuse(result, typeMismatch(e));
        maybeRelease();
        return;
      }
      if (delta.fields().isEmpty()) {
        result.complete(delta);
        maybeRelease();
        return;
      }
      accept(null, delta, result, delta, started, received, source);
    }

    /**
     * The edit as one delta of the server's replica, made on a scratch replica that holds the
     * document's dots and only the fields the edit touches: an edit that fails half way (a counter
     * overflow) leaves the live document untouched, and the delta then takes the path of a client's
     * update.
     */
    private DocumentDelta serverDelta(RecordedEdit edit) {
      Map<String, FieldState> touched = new HashMap<>();
      for (String field : edit.types().keySet()) {
        doc.field(field).ifPresent(f -> touched.put(field, f));
      }
      Document scratch = Document.restore(id, doc.context(), touched);
      DocumentDelta joined = DocumentDelta.empty();
      for (RecordedEdit.Op op : edit.ops()) {
        DocumentDelta step = editStep(scratch, op, op.type().kind());
        joined = joined.join(step);
      }
      return joined;
    }

    private <T extends Crdt<T>> DocumentDelta editStep(
        Document scratch, RecordedEdit.Op op, CrdtKind<T> kind) {
      return scratch.mutate(
          serverReplica,
          op.field(),
          kind,
          (state, dot) -> {
            Mutation<? extends Crdt<?>> m =
                RecordedEdit.mutation(op, state, dot, serverReplica, clock);
            return new Mutation<>(kind.cast(m.state()), kind.cast(m.delta()));
          });
    }

    /**
     * Why a client's delta may not be merged as the work of {@code bound}, the replica its
     * connection is bound to, or null if it may: the delta must hold dots and contributions of
     * {@code bound} only ({@code REPLICA_MISMATCH}), and they must be new and continue the dots
     * held of {@code bound}, or be an identical resend ({@code STALE_REPLICA} otherwise). The
     * server's own replica is never a client's. This is the one place a connection's identity meets
     * the document, so binding the replica to an authenticated principal only changes which replica
     * the caller passes.
     */
    private HubException identityRefusal(ReplicaId bound, DocumentDelta delta) {
      if (bound == null || bound.equals(serverReplica)) {
        return new HubException(
            ErrorCode.REPLICA_MISMATCH,
            "replica "
                + bound
                + " is this server's own; a client must use a replica id of its own");
      }
      OwnDeltaCheck check = doc.checkOwnDelta(bound, delta);
      return switch (check.verdict()) {
        case NEW, DUPLICATE -> null;
        case FOREIGN ->
            new HubException(
                ErrorCode.REPLICA_MISMATCH,
                check.reason() + " (the connection is replica " + bound + ")");
        case REUSED, OUT_OF_ORDER ->
            new HubException(ErrorCode.STALE_REPLICA, "document '" + id + "': " + check.reason());
      };
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

    /**
     * Why merging the delta would take a counter out of range ({@code COUNTER_OVERFLOW}), or null.
     * Each replica's increment is legal alone; only the server sees them meet, so only it can
     * refuse before an acknowledged state becomes one no reader can hold in a long.
     */
    private HubException counterRefusal(DocumentDelta delta) {
      return doc.counterOverflow(delta)
          .map(
              field ->
                  new HubException(
                      ErrorCode.COUNTER_OVERFLOW,
                      "the update would take counter '"
                          + field
                          + "' of document '"
                          + id
                          + "' past 2^63-1 (a G-Counter's sum, or a PN-Counter's increments or"
                          + " decrements)"))
          .orElse(null);
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

    private CompletableFuture<Appended> append(DocumentDelta delta) {
      long handedOver = System.nanoTime();
      try {
        CompletableFuture<Appended> appended = store.append(id, delta);
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
      if (open != null && inFlight == null && !closeQueued && !reloading) {
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
      if (r == null || inFlight != null || reloading) {
        return;
      }
      open = null;
      inFlight = r;
      if (minRoundIntervalNanos > 0) {
        lastRoundStart = scheduler.nanoTime();
        roundStarted = true;
      }
      // What failed before rides along: the store merges, so appending it again is harmless.
      r.retried = unsaved;
      unsaved = null;
      if (unsavedChanges != null) {
        r.carried = unsavedChanges;
        unsavedChanges = null;
      }
      if (rewrite) {
        r.rewritten = doc.deltaSince(VersionVector.empty());
        rewrite = false;
      }
      r.toAppend = r.appended();
      CompletableFuture<Appended> appended =
          r.toAppend == null ? CompletableFuture.completedFuture(null) : append(r.toAppend);
      appended.whenComplete(
          (where, failure) -> {
            try {
              serial.execute(() -> roundDone(r, where, failure));
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
    private void roundDone(Round r, Appended where, Throwable failure) {
      inFlight = null;
      if (failure != null && unwrap(failure) instanceof FieldTypeConflictException conflict) {
        typeConflict(r, conflict);
        return;
      }
      if (failure != null) {
        appendFailures.incrementAndGet();
        // Merged here, maybe shown to a newcomer in its catch-up, but not durable: appended again
        // later, since nobody else may hold it (a server edit has no client to resend it).
        DocumentDelta lost = r.newDeltas();
        if (lost != null) {
          appendFailed = true;
          unsaved = unsaved == null ? lost : unsaved.join(lost);
          scheduleRetry();
        }
        if (r.rewritten != null) {
          rewrite = true;
          scheduleRetry();
        }
        if (hooked) {
          // Reported once the retry carrying them is durable.
          List<LatticeExtension.Change> pending = r.allChanges();
          if (!pending.isEmpty()) {
            unsavedChanges = pending;
          }
        }
        r.failAll(
            new HubException(
                ErrorCode.INTERNAL,
                "could not make the update of document '" + id + "' durable; retry it",
                unwrap(failure)));
      } else {
        failuresInARow = 0;
        if (r.retried != null) {
          // Everything merged here is durable again (one round is in flight at a time, and it
          // took every failed delta with it).
          appendFailed = false;
        }
        DocumentDelta durable = r.toAppend;
        // Before the waiters complete: whoever closes the server once its update or edit is done
        // must find the change already queued for the extensions, which drain their queues at
        // close (a webhook would otherwise lose the last change before a shutdown).
        if (hooked) {
          tellHooks(r, durable);
        }
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
        if (durable != null) {
          DocumentDelta news = r.newDeltas();
          if (news != null) {
            fanOut(r, news);
          }
          if (where != null) {
            chain(where, true, r.rewritten != null);
            if (replicating) {
              replicator.announce(id, durable, where);
            }
          }
        }
      }
      maybeCloseRound();
      maybeRelease();
    }

    /**
     * The store refused round {@code r}: another server made some of its fields durable first with
     * other types. This hub merged the round already, so its document holds the losing types and
     * the refused updates' dots, which the store does not: it reads the document from the store
     * again and, once it has it ({@link #reloaded}), sorts the round's updates (and those merged
     * since) as it would have had it held the store's types then: an update giving a field another
     * type fails with {@code FIELD_TYPE_MISMATCH}, as on a single server, one whose dots no longer
     * continue its replica's with {@code STALE_REPLICA}, and the rest is merged again and appended.
     * No round closes meanwhile, so nothing is acknowledged that the store may not hold.
     */
    private void typeConflict(Round r, FieldTypeConflictException conflict) {
      typeConflicts.incrementAndGet();
      LOG.log(
          System.Logger.Level.INFO,
          "document '"
              + id
              + "': another server made "
              + conflict.heldTypes()
              + " durable first with these types; the updates that gave them others are refused");
      refused = r;
      refusedTypes = conflict.heldTypes();
      reloading = true;
      startReload();
    }

    private void startReload() {
      CompletableFuture<Optional<StoredDocument>> read;
      try {
        read = store.loadAsync(id);
      } catch (RuntimeException e) {
        read = CompletableFuture.failedFuture(e);
      }
      read.whenComplete((stored, failure) -> executeQuietly(this, () -> reloaded(stored, failure)));
    }

    private void reloaded(Optional<StoredDocument> stored, Throwable failure) {
      if (failure != null) {
        LOG.log(
            System.Logger.Level.WARNING,
            "cannot read document '" + id + "' after a type conflict; trying again",
            unwrap(failure));
        try {
          scheduler.schedule(
              () -> executeQuietly(this, this::startReload),
              Duration.ofNanos(Math.max(repairDelay.toNanos(), MIN_RETRY_DELAY.toNanos())));
        } catch (RejectedExecutionException e) {
          failPending(new HubException(ErrorCode.INTERNAL, "the hub is shutting down", e));
        }
        return;
      }
      Document fresh;
      boolean lost = false;
      if (stored.isPresent()) {
        fresh = stored.get().document();
      } else if (storeHeldIt()) {
        // The store lost the document meanwhile: this hub's is the copy left, less the fields it
        // just lost the race for; written back whole, as after any loss.
        Map<String, FieldState> kept = new HashMap<>(doc.fields());
        kept.keySet().removeAll(refusedTypes.keySet());
        fresh = Document.restore(id, doc.context(), kept);
        lost = true;
      } else {
        fresh = Document.create(id);
      }
      // The store's document, all of it durable: what the subscribers here lack of it (the
      // winning fields, which this hub kept out while it held the losing types) goes to them all.
      DocumentDelta durable = fresh.deltaSince(VersionVector.empty());
      Round r = refused;
      Round pending = open;
      refused = null;
      refusedTypes = Map.of();
      open = null;
      doc = fresh;
      // Appends that failed before and rode in the refused round: their updates were answered
      // already; what of them does not conflict is appended again, the rest is dropped for good.
      DocumentDelta retried = withoutConflicts(r.retried);
      if (retried != null) {
        doc.merge(retried);
        unsaved = unsaved == null ? retried : unsaved.join(retried);
        appendFailed = true;
      }
      if (r.carried != null) {
        List<LatticeExtension.Change> kept = new ArrayList<>();
        for (LatticeExtension.Change c : r.carried) {
          if (doc.withoutTypeConflicts(c.delta()) == c.delta()) {
            kept.add(c);
          }
        }
        if (!kept.isEmpty()) {
          unsavedChanges = kept;
        }
      }
      if (r.rewritten != null) {
        rewrite = true;
      }
      Round next = new Round();
      resort(r, next);
      if (pending != null) {
        resort(pending, next);
      }
      if (!next.waiters.isEmpty() || unsaved != null || rewrite) {
        open = next;
      }
      if (stored.isPresent()) {
        position = StoreCursor.max(position, stored.get().position());
        seen = StoreCursor.max(seen, position);
      }
      if (!durable.isEmpty()) {
        sendToAll(new FanOut(Update.fanOut(id, durable)));
      }
      reloading = false;
      if (lost) {
        storeLost();
      }
      followChain();
      List<RemoteDelta> early = arrivedWhileReloading;
      arrivedWhileReloading = null;
      if (early != null) {
        for (RemoteDelta d : early) {
          remote(d.delta, d.appended);
        }
      }
      if (repairAfterReload) {
        repairAfterReload = false;
        repair();
      }
      maybeCloseRound();
      maybeRelease();
    }

    /** {@code delta} without the fields the document holds with other types; null if empty. */
    private DocumentDelta withoutConflicts(DocumentDelta delta) {
      if (delta == null) {
        return null;
      }
      DocumentDelta kept = doc.withoutTypeConflicts(delta);
      return kept.isEmpty() ? null : kept;
    }

    /**
     * Checks each update of {@code from} again against the document as the store holds it, as
     * {@link #update} would have: a refused one fails, the rest merges and goes into {@code into}.
     * Subscribes and duplicates that waited for the round fail with {@code INTERNAL}, which the
     * client retries: their answers were made from the document this hub no longer holds.
     */
    private void resort(Round from, Round into) {
      for (Waiter<?> w : from.waiters) {
        if (w.duplicate || w.delta == null) {
          w.result.completeExceptionally(
              new HubException(
                  ErrorCode.INTERNAL,
                  "document '" + id + "' was read again after a type conflict; retry"));
          continue;
        }
        HubException refusal = w.from == null ? null : identityRefusal(w.from.replicaId(), w.delta);
        if (refusal == null) {
          refusal = fieldRefusal(w.delta.fields(), FieldState::type);
        }
        if (refusal == null) {
          refusal = doc.keyTypeConflict(w.delta).map(DefaultHub::typeMismatch).orElse(null);
        }
        if (refusal == null) {
          refusal = counterRefusal(w.delta);
        }
        if (refusal != null) {
          refuse(w.result, refusal);
          continue;
        }
        doc.merge(w.delta);
        into.add(w.from, w.delta, w);
        if (w.change != null) {
          into.change(w.change);
        }
      }
    }

    private void failPending(HubException e) {
      reloading = false;
      if (refused != null) {
        refused.failAll(e);
        refused = null;
      }
      if (open != null) {
        open.failAll(e);
        open = null;
      }
    }

    /** Hands the round's durable changes and its append to the hooks, which return at once. */
    private void tellHooks(Round r, DocumentDelta durable) {
      List<LatticeExtension.Change> changes = r.allChanges();
      for (LatticeExtension.Change c : changes) {
        try {
          hooks.changed(c);
        } catch (RuntimeException e) {
          LOG.log(System.Logger.Level.WARNING, "the change hook of " + id + " threw", e);
        }
      }
      if (durable != null) {
        try {
          hooks.stored(id, durable, changes.size());
        } catch (RuntimeException e) {
          LOG.log(System.Logger.Level.WARNING, "the store hook of " + id + " threw", e);
        }
      }
    }

    /**
     * Sends the round's joined delta to every subscriber, encoded once. A subscriber that is the
     * round's only sender is skipped (it has every change of the round); when several connections
     * contributed, each gets the whole round, its own updates included, which merge as no-ops.
     */
    private void fanOut(Round r, DocumentDelta durable) {
      FanOut message = new FanOut(Update.fanOut(id, durable));
      // A failed round that rode along was sent to nobody: every subscriber gets this one.
      boolean everyone = r.severalSenders || r.retried != null;
      int recipients = 0;
      for (Subscriber s : subscribers.values()) {
        if ((everyone || !s.connection.equals(r.sender)) && sendFanOut(s.connection, message)) {
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

    /**
     * Starts a round for {@link #unsaved} after a back-off (the repair delay, doubling per failure
     * in a row up to {@link #MAX_RETRY_DELAY}), unless a round takes it first.
     */
    private void scheduleRetry() {
      if (retryScheduled) {
        return;
      }
      retryScheduled = true;
      long base = Math.max(repairDelay.toNanos(), MIN_RETRY_DELAY.toNanos());
      long wait = Math.min(MAX_RETRY_DELAY.toNanos(), base << Math.min(failuresInARow, 16));
      failuresInARow++;
      try {
        scheduler.schedule(() -> executeQuietly(this, this::retryUnsaved), Duration.ofNanos(wait));
      } catch (RejectedExecutionException e) {
        retryScheduled = false;
      }
    }

    private void retryUnsaved() {
      retryScheduled = false;
      if (released || (unsaved == null && !rewrite)) {
        return;
      }
      if (open == null) {
        open = new Round();
      }
      maybeCloseRound();
    }

    /**
     * Adds one merged append to the chain: moves {@link #position} along it as far as it is
     * unbroken, and schedules a check if a break remains. A store that does not report the position
     * before an append is written by this process alone, so the append follows on directly.
     */
    private void chain(Appended appended) {
      chain(appended, false, false);
    }

    /**
     * {@link #chain(Appended)}, watching for signs that the store lost the document.
     *
     * @param own the append is this hub's: its deltas are merged here already
     * @param wholeDocument the append wrote this hub's whole document back
     */
    private void chain(Appended appended, boolean own, boolean wholeDocument) {
      heardOf(appended, own, wholeDocument);
      StoreCursor at = appended.position();
      if (!at.isAfter(position)) {
        return;
      }
      if (!appended.previousKnown() || appended.previous().equals(position)) {
        position = at;
      } else {
        if (ahead == null) {
          ahead = new TreeMap<>();
        }
        ahead.put(appended.previous(), at);
      }
      followChain();
    }

    /**
     * Notes an append's position, mine or delivered (merged or not), and writes the document back
     * if it shows that the store lost it.
     */
    private void heardOf(Appended appended, boolean own, boolean wholeDocument) {
      StoreCursor at = appended.position();
      boolean startsOver =
          appended.previousKnown() && appended.previous().equals(StoreCursor.ORIGIN);
      boolean lost = false;
      if (startsOver && !wholeDocument && since != null && at.isAfter(since)) {
        // An append with nothing before it, after a position heard of: it re-created a document
        // the store had held, which lost everything before it (Redis restarted empty); nothing
        // else would show it now that the document has a head again. (The document's first
        // append comes before every other position, so a late copy of it does not pass.)
        lost = true;
      }
      if (born != null && born.isAfter(at) && (own || at.isAfter(position))) {
        // The append went to a history of the document that the store lost since (one that
        // started over later is known): what it brought here is not in the store. Positions grow
        // across such a loss, as Redis stream ids do.
        lost = true;
      }
      if (startsOver) {
        born = born == null ? at : StoreCursor.max(born, at);
      }
      if (lost) {
        storeLost();
      }
      seen = StoreCursor.max(seen, at);
      if (startsOver && wholeDocument) {
        since = at; // the store holds everything held here from this write-back on
      } else if (since == null || since.isAfter(at)) {
        since = at;
      }
    }

    private void followChain() {
      if (ahead != null) {
        StoreCursor next;
        while ((next = ahead.remove(position)) != null) {
          position = next;
        }
        // Links that end at or before the head are covered by it (a repair read past them).
        ahead.headMap(position, false).values().removeIf(end -> !end.isAfter(position));
        if (ahead.isEmpty()) {
          ahead = null;
        }
      }
      if (reportedHead != null && !reportedHead.isAfter(position)) {
        reportedHead = null;
      }
      if (ahead != null || reportedHead != null) {
        scheduleGapCheck();
      }
    }

    /** A delta another server made durable: merged and fanned out here, never announced again. */
    void remote(DocumentDelta delta, Appended appended) {
      if (released) {
        return;
      }
      if (doc == null) {
        if (waitingForLoad != null) {
          if (arrivedWhileLoading == null) {
            arrivedWhileLoading = new ArrayList<>(2);
          }
          arrivedWhileLoading.add(new RemoteDelta(delta, appended));
        }
        return;
      }
      if (reloading) {
        if (arrivedWhileReloading == null) {
          arrivedWhileReloading = new ArrayList<>(2);
        }
        arrivedWhileReloading.add(new RemoteDelta(delta, appended));
        return;
      }
      if (!appended.position().isAfter(position)
          || (ahead != null && ahead.containsValue(appended.position()))) {
        // Already held: a duplicate, or a delivery the last repair overtook; it may still show
        // that the store lost the document.
        heardOf(appended, false, false);
        return;
      }
      remoteDeltas.incrementAndGet();
      mergeRemote(delta, false);
      chain(appended);
    }

    /**
     * Merges what the store or another server holds and fans out to the subscribers here what was
     * new: a delivered delta as it came (it is small), a repair's read (up to the whole document)
     * as the part this document lacked. A field that two servers created with different types at
     * once cannot merge: it is left out of the delta here (logged), the rest merges. The other
     * server's type is the durable one (the store refuses a second type), so this server's round
     * holding its own type is refused and it then reads the document again ({@link #typeConflict});
     * a log written before the store arbitrated keeps the type appended first.
     */
    private void mergeRemote(DocumentDelta delta, boolean repair) {
      Optional<HlcTimestamp> max = delta.maxTimestamp();
      if (max.isPresent()) {
        try {
          clock.update(max.get());
        } catch (ClockDriftException e) {
          // Another server accepted it; its clock, not ours, was the judge.
          LOG.log(System.Logger.Level.DEBUG, "remote delta of " + id + " far ahead: " + e);
        }
      }
      boolean newDots = !doc.containsAll(delta.context());
      VersionVector before = repair ? doc.versionVector() : null;
      DocumentDelta typed = doc.withoutTypeConflicts(delta);
      if (typed != delta) {
        // Two servers created a field with different types at once. The rest of the delta still
        // merges: dropping it whole would leave this server without the other fields for good.
        LOG.log(
            System.Logger.Level.WARNING,
            "document '"
                + id
                + "': another server stored fields with other types than this one holds; those"
                + " fields of its delta are left out here (the store's log keeps the first type)");
        delta = typed;
      }
      Set<String> changed = doc.merge(delta);
      if (appendFailed) {
        // A failed round was merged here but fanned out to nobody, so the subscribers may lack
        // parts of the document that this hub holds; what comes back from the store or another
        // hub may be one of them: sent whole, even where it is nothing new to this hub.
        if (!delta.isEmpty()) {
          sendToAll(new FanOut(Update.fanOut(id, delta)));
        }
      } else if (newDots || !changed.isEmpty()) {
        sendToAll(new FanOut(Update.fanOut(id, repair ? doc.deltaSince(before) : delta)));
      }
    }

    private void sendToAll(FanOut message) {
      int recipients = 0;
      for (Subscriber s : subscribers.values()) {
        if (sendFanOut(s.connection, message)) {
          recipients++;
        }
      }
      fanOutMessages.addAndGet(recipients);
    }

    /**
     * The replicator saw the store's head of this document at {@code latest}; {@link
     * StoreCursor#ORIGIN} means the store has nothing of it.
     */
    void head(StoreCursor latest) {
      if (released || doc == null) {
        return;
      }
      if (latest.equals(StoreCursor.ORIGIN)) {
        if (storeHeldIt()) {
          storeLost();
        }
        return;
      }
      if (!latest.isAfter(position)) {
        return;
      }
      reportedHead = reportedHead == null ? latest : StoreCursor.max(reportedHead, latest);
      scheduleGapCheck();
    }

    private void scheduleGapCheck() {
      if (!gapCheckScheduled) {
        gapCheckScheduled = true;
        try {
          scheduler.schedule(() -> executeQuietly(this, this::checkGap), repairDelay);
        } catch (RejectedExecutionException e) {
          gapCheckScheduled = false;
        }
      }
    }

    private void checkGap() {
      gapCheckScheduled = false;
      if (!released && doc != null && (ahead != null || reportedHead != null)) {
        // The chain stayed broken (or the store's head stayed ahead) past the repair delay: a
        // message was lost, not late.
        gaps.incrementAndGet();
        repair();
      }
    }

    /** The dots on their way to the store: of the open and in-flight rounds, of failed appends. */
    private DotSet pendingDots() {
      DotSet out = DotSet.empty();
      if (open != null && open.joined() != null) {
        out = out.union(open.joined().context());
      }
      DocumentDelta flying = inFlight == null ? null : inFlight.toAppend;
      if (flying != null) {
        out = out.union(flying.context());
      }
      if (unsaved != null) {
        out = out.union(unsaved.context());
      }
      return out;
    }

    /** Whether the store held some of this document, as far as this hub has seen. */
    private boolean storeHeldIt() {
      return lostOnce || seen.isAfter(StoreCursor.ORIGIN);
    }

    /**
     * The store lost a document this hub held (Redis restarted empty), or at least the part of its
     * history this hub had reached: writes the whole document back, so what was acknowledged stays
     * durable, and reads what the store holds now from the start, since the chain of appends this
     * hub followed is gone. The write-back rides in a round (the next one, or one started now), so
     * it is announced like any append, with the origin as its previous position when it re-creates
     * the document, which tells every other server holding it to write it back too; it is not
     * fanned out (the subscribers here have it all), and a failed one is tried again like a failed
     * round. Other servers doing the same is harmless: merging is idempotent.
     */
    private void storeLost() {
      if (rewrite || (inFlight != null && inFlight.rewritten != null)) {
        return; // already writing it back
      }
      reseeds.incrementAndGet();
      LOG.log(
          System.Logger.Level.WARNING,
          "document '" + id + "' is missing from the store; writing it back from memory");
      lostOnce = true;
      position = StoreCursor.ORIGIN;
      seen = StoreCursor.ORIGIN;
      since = null;
      ahead = null;
      reportedHead = null;
      rewrite = true;
      if (open == null) {
        open = new Round();
      }
      maybeCloseRound();
      repair();
    }

    /** Reads from the store what was appended after {@link #position}, and merges it. */
    void repair() {
      if (released || doc == null) {
        return;
      }
      if (reloading) {
        repairAfterReload = true;
        return;
      }
      if (repairing) {
        repairAgain = true;
        return;
      }
      repairing = true;
      repairs.incrementAndGet();
      StoreCursor from = position;
      // For a read of the whole document (see repaired): what is held here and what is on its way
      // to the store as the read starts; what arrives later may be missing from the read.
      DotSet held = null;
      DotSet pendingAtRead = DotSet.empty();
      if (from.equals(StoreCursor.ORIGIN) && storeHeldIt()) {
        held = doc.context();
        pendingAtRead = pendingDots();
      }
      DotSet heldAtRead = held;
      DotSet onItsWay = pendingAtRead;
      boolean blind = from.equals(StoreCursor.ORIGIN) && !storeHeldIt();
      CompletableFuture<StoredChanges> read;
      try {
        read = store.readSince(id, from);
      } catch (RuntimeException e) {
        read = CompletableFuture.failedFuture(e);
      }
      read.whenComplete(
          (changes, failure) ->
              executeQuietly(this, () -> repaired(blind, heldAtRead, onItsWay, changes, failure)));
    }

    /**
     * @param heldAtRead for a read from the origin by a hub that knows the store held the document:
     *     the dots held here when the read started; else null
     * @param onItsWay the dots on their way to the store when the read started
     * @param blind the read was from the origin by a hub that knew of no position of the document
     */
    private void repaired(
        boolean blind,
        DotSet heldAtRead,
        DotSet onItsWay,
        StoredChanges changes,
        Throwable failure) {
      repairing = false;
      if (released || doc == null) {
        return;
      }
      if (reloading) {
        // Read from the document being replaced: read again once the new one is in place.
        repairAfterReload = true;
        return;
      }
      if (failure != null) {
        LOG.log(
            System.Logger.Level.WARNING,
            "cannot read document '" + id + "' to repair it; trying again",
            unwrap(failure));
        scheduleGapCheck();
        return;
      }
      mergeRemote(changes.delta(), true);
      if (blind && storeHeldIt()) {
        // Meanwhile this hub learned of a position (its own append landed, say): the answer
        // cannot tell whether that history is still the store's, a read from the position can
        // (the store answers the origin for a cursor from before the history it holds).
        repairAgain = true;
      } else if (changes.position().equals(StoreCursor.ORIGIN) && storeHeldIt()) {
        // The store has nothing of it, or no longer knows the position asked from.
        storeLost();
      } else if (heldAtRead != null
          && !changes
              .delta()
              .context()
              .union(onItsWay)
              .union(pendingDots())
              .containsAll(heldAtRead)) {
        // A read from the origin is the store's whole document: if it lacks something held here
        // that is not on its way to the store, the store lost it (again, after a write-back).
        storeLost();
      } else if (heldAtRead != null
          && !changes.delta().context().union(pendingDots()).containsAll(heldAtRead)) {
        // It lacks something that was on its way when the read started and has landed since: the
        // read may have run before it landed, or the store lost it after; a new read tells.
        repairAgain = true;
      } else {
        position = StoreCursor.max(position, changes.position());
        seen = StoreCursor.max(seen, position);
        if (position.isAfter(StoreCursor.ORIGIN) && since == null) {
          since = position;
        }
      }
      followChain();
      if (repairAgain) {
        repairAgain = false;
        repair();
      }
    }

    void unsubscribe(Connection connection) {
      ConnectionState state = connections.get(connection);
      if (state != null) {
        state.remove(id);
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
      replicatePresence(p);
    }

    private void replicatePresence(Presence p) {
      if (replicating) {
        replicator.announcePresence(p);
      }
    }

    /**
     * A presence of a subscriber on another server: shown to every subscriber here, sent to
     * newcomers while it lives, forgotten when its TTL passes without renewal or it leaves.
     */
    void remotePresence(Presence p) {
      if (released || doc == null) {
        return;
      }
      RemotePresence old = remotePresences == null ? null : remotePresences.get(p.replicaId());
      if (old != null) {
        old.expiry.cancel();
        remotePresences.remove(p.replicaId());
      }
      if (p.isLeave()) {
        if (old != null) {
          sendPresenceToAll(p);
        }
        return;
      }
      long ttlMillis = Math.min(p.ttlMillis(), maxPresenceTtl.toMillis());
      RemotePresence rp = new RemotePresence(p, scheduler.nanoTime() + ttlMillis * 1_000_000L);
      rp.expiry =
          scheduler.schedule(
              () -> executeQuietly(this, () -> expireRemote(rp)), Duration.ofMillis(ttlMillis));
      if (remotePresences == null) {
        remotePresences = new HashMap<>();
      }
      remotePresences.put(p.replicaId(), rp);
      sendPresenceToAll(p);
    }

    private void expireRemote(RemotePresence rp) {
      ReplicaId replica = rp.presence.replicaId();
      if (remotePresences != null && remotePresences.get(replica) == rp) {
        remotePresences.remove(replica);
        sendPresenceToAll(Presence.leave(id, replica));
      }
    }

    private void sendPresenceToAll(Presence p) {
      for (Subscriber s : subscribers.values()) {
        if (send(s.connection, p)) {
          presenceMessages.incrementAndGet();
        }
      }
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
          Presence live = s.livePresence(id, now);
          announce(s.connection, live, gone);
          replicatePresence(live);
          return;
        }
      }
      Presence leave = Presence.leave(id, gone.replicaId());
      announce(gone, leave);
      replicatePresence(leave);
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
      if (remotePresences != null) {
        for (RemotePresence rp : remotePresences.values()) {
          long remainingMillis = Math.max(0, (rp.expiresAt - now) / 1_000_000);
          Presence p = rp.presence;
          if (send(newcomer, new Presence(id, p.replicaId(), remainingMillis, p.value()))) {
            presenceMessages.incrementAndGet();
          }
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
      if (!released
          && subscribers.isEmpty()
          && open == null
          && inFlight == null
          && unsaved == null
          && !rewrite
          && !reloading
          && waitingForLoad == null) {
        released = true;
        // After a failed append the live state may be ahead of the store; only the store's
        // version may be reloaded, so such a document is not cached. Cached before it leaves the
        // map, so a subscribe that starts over on a fresh instance finds it.
        if (doc != null && !appendFailed) {
          cache.put(new StoredDocument(doc, position));
        }
        if (hooked && doc != null) {
          try {
            hooks.unloaded(id);
          } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "the unload hook of " + id + " threw", e);
          }
        }
        doc = null;
        documents.remove(id, this);
        if (replicating) {
          replicator.unfollow(id);
        }
      }
    }

    private void refuse(CompletableFuture<?> result, HubException e) {
      refusedUpdates.incrementAndGet();
      result.completeExceptionally(e);
    }
  }

  /** A subscribe or edit waiting for its document's load. */
  private record LoadWaiter(CompletableFuture<?> result, Runnable then) {}

  /** A load's answer with the seeds the hooks gave for it. */
  private record LoadedWithSeeds(
      Optional<StoredDocument> stored, List<Consumer<DocumentEdit>> seeds) {}

  /** A remote delta that arrived while its document was loading. */
  private record RemoteDelta(DocumentDelta delta, Appended appended) {}

  /** A presence of another server's subscriber. Confined to its document's serial executor. */
  private static final class RemotePresence {
    final Presence presence;
    final long expiresAt;
    HubScheduler.Cancellable expiry;

    RemotePresence(Presence presence, long expiresAt) {
      this.presence = presence;
      this.expiresAt = expiresAt;
    }
  }

  /** What the replicator delivers, routed to the live document's serial executor. */
  private final class Sink implements ReplicationSink {
    @Override
    public void deliver(String documentId, DocumentDelta delta, Appended appended) {
      Objects.requireNonNull(delta, "delta");
      Objects.requireNonNull(appended, "appended");
      LiveDocument live = documents.get(documentId);
      if (live != null) {
        executeQuietly(live, () -> live.remote(delta, appended));
      }
    }

    @Override
    public void head(String documentId, StoreCursor latest) {
      Objects.requireNonNull(latest, "latest");
      LiveDocument live = documents.get(documentId);
      if (live != null) {
        executeQuietly(live, () -> live.head(latest));
      }
    }

    @Override
    public void mayHaveMissed(String documentId) {
      LiveDocument live = documents.get(documentId);
      if (live != null) {
        executeQuietly(live, live::repair);
      }
    }

    @Override
    public void presence(Presence presence) {
      LiveDocument live = documents.get(presence.documentId());
      if (live != null) {
        executeQuietly(live, () -> live.remotePresence(presence));
      }
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
    /** The join of the round's new deltas taken so far; null while there is none. */
    private DocumentDelta joined;

    /**
     * New deltas not yet in {@link #joined}: joined all at once when the round is read, in a
     * balanced tree, since joining a round of n replicas' deltas one by one costs O(n²).
     */
    private final List<DocumentDelta> parts = new ArrayList<>(4);

    /** The connection of the round's first new delta (null for a server edit). */
    Connection sender;

    /** New deltas came from more than one connection (or from a connection and an edit). */
    boolean severalSenders;

    /** Deltas of failed rounds appended again with this one; null if none. */
    DocumentDelta retried;

    /** The whole document, written back to a store that lost it; null if not. */
    DocumentDelta rewritten;

    /** What was handed to the store, {@link #appended()} as the round closed; null if nothing. */
    DocumentDelta toAppend;

    /** The join of the round's new deltas; null while it has only duplicates. */
    DocumentDelta joined() {
      if (!parts.isEmpty()) {
        if (joined != null) {
          parts.add(joined);
        }
        joined = DocumentDelta.joinAll(parts);
        parts.clear();
      }
      return joined;
    }

    /** What subscribers have not seen: the new deltas and the failed ones; null if nothing. */
    DocumentDelta newDeltas() {
      return join(joined(), retried);
    }

    /** What the round appends: its new deltas, the failed ones, a write-back; null if nothing. */
    DocumentDelta appended() {
      return join(newDeltas(), rewritten);
    }

    private static DocumentDelta join(DocumentDelta a, DocumentDelta b) {
      return a == null ? b : b == null ? a : a.join(b);
    }

    final List<Waiter<?>> waiters = new ArrayList<>(4);

    /**
     * The hooks' record of the round's new updates, in merge order; null while none (or no hooks).
     */
    List<LatticeExtension.Change> changes;

    /** The changes of failed rounds this one appends again; null if none. */
    List<LatticeExtension.Change> carried;

    void change(LatticeExtension.Change change) {
      if (changes == null) {
        changes = new ArrayList<>(2);
      }
      changes.add(change);
    }

    /** The carried changes, then the round's own. */
    List<LatticeExtension.Change> allChanges() {
      if (carried == null) {
        return changes == null ? List.of() : changes;
      }
      List<LatticeExtension.Change> all = new ArrayList<>(carried);
      if (changes != null) {
        all.addAll(changes);
      }
      return all;
    }

    void add(Connection from, DocumentDelta delta, Waiter<?> waiter) {
      waiters.add(waiter);
      if (delta == null) {
        return;
      }
      if (joined == null && parts.isEmpty()) {
        sender = from;
      } else if (!Objects.equals(sender, from)) {
        severalSenders = true;
      }
      parts.add(delta);
    }

    void failAll(HubException e) {
      for (Waiter<?> w : waiters) {
        w.result.completeExceptionally(e);
      }
    }
  }

  /**
   * One update of a round: its future, the value it completes with, and when it arrived; for a new
   * delta also who sent it (null for a server edit), the delta and the hooks' record of it (null
   * when none), so that a round the store refuses can be sorted again update by update.
   */
  private record Waiter<T>(
      CompletableFuture<T> result,
      T value,
      boolean duplicate,
      long received,
      Connection from,
      DocumentDelta delta,
      LatticeExtension.Change change) {

    Waiter(CompletableFuture<T> result, T value, boolean duplicate, long received) {
      this(result, value, duplicate, received, null, null, null);
    }

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

package dev.lattice.client.internal;

import dev.lattice.client.ConnectionStatus;
import dev.lattice.client.ConnectionStatus.State;
import dev.lattice.client.UpdateRejectedException;
import dev.lattice.client.internal.LocalState.OutboxEntry;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.hlc.ClockDriftException;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.Ack;
import dev.lattice.protocol.CloseCodes;
import dev.lattice.protocol.DeltaChunks;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Hello;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.protocol.OwnUpdate;
import dev.lattice.protocol.Ping;
import dev.lattice.protocol.Pong;
import dev.lattice.protocol.Presence;
import dev.lattice.protocol.ProtocolLimits;
import dev.lattice.protocol.ProtocolVersion;
import dev.lattice.protocol.Subscribe;
import dev.lattice.protocol.Sync;
import dev.lattice.protocol.TokenBucket;
import dev.lattice.protocol.Unsubscribe;
import dev.lattice.protocol.Update;
import dev.lattice.protocol.Welcome;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The client's protocol logic, without I/O (docs/ARCHITECTURE.md): it takes connection events,
 * decoded messages and timer firings in, and hands messages, connects, closes and timers out
 * through {@link ClientTransport} and {@link ClientScheduler}. The JDK WebSocket adapter ({@link
 * JdkWebSocketTransport}) is a thin shell around it, and unit tests drive it with a recording
 * transport and a manual clock.
 *
 * <p>What it does: HELLO on every connection; from WELCOME the clock offset, the limits and a reset
 * of the backoff; SUBSCRIBE of every open document with its version vector; from SYNC a merge, then
 * a catch-up of what the server lacks and the outbox; UPDATEs paced by a token bucket at the
 * server's rate, coalesced up to the frame limit, a bounded number in flight; ACKs settle the
 * entries they carried; refusals are reported and undone, retryable errors retried after a backoff;
 * PING/PONG for liveness and clock samples; presence renewed at half its TTL; reconnect with
 * full-jitter backoff on the closes {@link CloseCodes#shouldReconnect} allows.
 *
 * <p>Protocol version 2 (when WELCOME says so): every SUBSCRIBE names a document alias, the
 * smallest free one, and an UPDATE of a single local mutation (a delta in the compact form by this
 * replica) goes as the shorter UPDATE_OWN; batches, catch-ups and everything else stay UPDATE.
 *
 * <p>Not thread-safe: confined to one serial thread (the session thread). Every method, including
 * the timer tasks it schedules, runs there.
 */
public final class ClientSession {

  private static final Logger LOG = System.getLogger(ClientSession.class.getName());

  /** Close code used locally when a connection failed at the network level. */
  public static final int ABNORMAL = 1006;

  /** Settings of the session. */
  public record Config(
      Supplier<String> credentials,
      String clientName,
      Backoff backoff,
      int maxUpdatesInFlight,
      int maxEntriesPerUpdate,
      long pingIntervalMillis,
      long presenceTtlMillis,
      int maxProtocolVersion) {

    /** Settings offering every protocol version this build speaks. */
    public Config(
        Supplier<String> credentials,
        String clientName,
        Backoff backoff,
        int maxUpdatesInFlight,
        int maxEntriesPerUpdate,
        long pingIntervalMillis,
        long presenceTtlMillis) {
      this(
          credentials,
          clientName,
          backoff,
          maxUpdatesInFlight,
          maxEntriesPerUpdate,
          pingIntervalMillis,
          presenceTtlMillis,
          ProtocolVersion.MAX);
    }
  }

  private enum Phase {
    /** Waiting for the next attempt. */
    WAITING,
    /** The socket is opening. */
    CONNECTING,
    /** HELLO sent, waiting for WELCOME. */
    HANDSHAKE,
    ONLINE,
    /** Stopped retrying: the server refused us for good (reported as State.FAILED). */
    OFFLINE,
    CLOSED
  }

  private enum DocPhase {
    UNSUBSCRIBED,
    SUBSCRIBING,
    SYNCED
  }

  private static final class SessionDoc {
    final DocumentState state;
    DocPhase phase = DocPhase.UNSUBSCRIBED;

    /** The document alias of this connection's SUBSCRIBEs (version 2), or -1 for none yet. */
    int alias = -1;

    final Set<Long> inFlight = new HashSet<>();

    /** Catch-up pieces waiting to be sent (before the outbox). */
    final List<DocumentDelta> catchUp = new ArrayList<>();

    /**
     * The whole context of a catch-up sent in parts, announced only once every part is acknowledged
     * (docs/PROTOCOL.md, "Deltas larger than one frame"); null when there is none.
     */
    DotSet catchUpContext;

    /** Catch-up pieces sent and not yet answered. */
    int catchUpInFlight;

    /** A catch-up part was refused for good: its context must never be claimed. */
    boolean catchUpRefused;

    /**
     * The greatest sequence of this client's replica that the last SYNC's vector says the server
     * holds: outbox entries up to it are resends, and go in UPDATEs apart from new ones.
     */
    long serverOwnSeq;

    /**
     * Set when a SYNC showed that the server holds sequences of this replica beyond any this client
     * used (its state was restored from an older copy): the outbox entries up to this id (those
     * there at the SYNC) go to the server first as resends, so that the ones it already holds
     * (edits the lost history did deliver) are acknowledged rather than made twice; the replica id
     * is retired once they are settled. -1 when there is nothing to verify.
     */
    long verifyUpTo = -1;

    SessionDoc(DocumentState state) {
      this.state = state;
    }
  }

  /** An outstanding request of the current connection. */
  private record Request(String documentId, Kind kind, List<Long> entryIds, DocumentDelta delta) {
    enum Kind {
      SUBSCRIBE,
      UPDATE,
      CATCH_UP,
      UNSUBSCRIBE
    }
  }

  /** The longest wait a refused upgrade's Retry-After may impose: 10 minutes. */
  static final long MAX_RETRY_AFTER_MILLIS = 600_000;

  private final Config config;

  /** This client's replica, the one new edits are made by, until it is retired. */
  private ReplicaId me;

  /**
   * The replica the current connection is bound to (named in its HELLO): {@link #me}, or an earlier
   * id whose edits are still in some open document's outbox. The server takes a connection's dots
   * of its own replica only, so the edits of an earlier process (a restarted or restored client) go
   * on a connection of their own id first: there, a resend the server holds is acknowledged as the
   * duplicate it is, and the new edits, made by {@link #me}, can never take a sequence number the
   * server holds for another history (issue 11, the Riak kv679 problem).
   */
  private ReplicaId bound;

  /**
   * Documents whose subscription the server refused for good on a connection: their earlier entries
   * can go under no id, so they keep no connection bound to an earlier id.
   */
  private final Set<String> undeliverable = new HashSet<>();

  /** Retires {@link #me} for good and returns its durable successor. */
  private final Supplier<ReplicaId> retireReplica;

  private final ClientTransport transport;
  private final ClientScheduler scheduler;
  private final LongSupplier nanoTime;
  private final ClockSync clockSync;
  private final HybridLogicalClock clock;
  private final Consumer<ConnectionStatus> statusSink;
  private final MessageCodec codec = MessageCodec.defaults();

  private final Map<String, SessionDoc> docs = new LinkedHashMap<>();
  private final Map<Long, Request> requests = new HashMap<>();
  private Phase phase = Phase.WAITING;
  private int version = ProtocolVersion.MIN; // WELCOME's, for the current connection
  // Aliases the server refused (ALIAS_IN_USE) on this connection: it still binds them elsewhere.
  private final Set<Integer> refusedAliases = new HashSet<>();
  private long generation;
  private long nextNonce = 1;
  private int attempt;
  // The credentials of the current connection, asked of the supplier at connect; never logged.
  private String connectCredentials;
  private int retryAttempt;
  private boolean holding;
  private long retryHoldUntilNanos;

  /** The server's drift bound from WELCOME ({@code maxClockDriftMillis}). */
  private long serverMaxDriftMillis;

  private int updatesInFlight;
  private long helloSentNanos;
  private long helloSentWall;
  private final Map<Long, long[]> pings = new HashMap<>();
  private String lastErrorText;

  private volatile int maxFrameBytes = ProtocolLimits.defaults().maxFrameBytes();
  private TokenBucket bucket;
  private long presenceTtlMillis;
  private ClientScheduler.Cancellable reconnectTimer;
  // Set only while onHandshakeRefused hands a refusal with Retry-After to onClosed.
  private long retryAfterFloorMillis;
  private ClientScheduler.Cancellable pingTimer;
  private ClientScheduler.Cancellable presenceTimer;
  private ClientScheduler.Cancellable pumpTimer;

  public ClientSession(
      Config config,
      ReplicaId me,
      ClientTransport transport,
      ClientScheduler scheduler,
      LongSupplier nanoTime,
      ClockSync clockSync,
      HybridLogicalClock clock,
      Consumer<ConnectionStatus> statusSink) {
    this(
        config,
        me,
        ReplicaId::random,
        transport,
        scheduler,
        nanoTime,
        clockSync,
        clock,
        statusSink);
  }

  public ClientSession(
      Config config,
      ReplicaId me,
      Supplier<ReplicaId> retireReplica,
      ClientTransport transport,
      ClientScheduler scheduler,
      LongSupplier nanoTime,
      ClockSync clockSync,
      HybridLogicalClock clock,
      Consumer<ConnectionStatus> statusSink) {
    this.config = config;
    this.me = me;
    this.bound = me;
    this.retireReplica = retireReplica;
    this.transport = transport;
    this.scheduler = scheduler;
    this.nanoTime = nanoTime;
    this.clockSync = clockSync;
    this.clock = clock;
    this.statusSink = statusSink;
    this.presenceTtlMillis = config.presenceTtlMillis();
  }

  /** The largest frame the server accepts, as last advertised (or the protocol default). */
  public int maxFrameBytes() {
    return maxFrameBytes;
  }

  // ------------------------------------------------------------------ commands

  /** Starts the first connection attempt. */
  public void start() {
    if (phase == Phase.WAITING) {
      connect();
    }
  }

  /** Starts following a document. */
  public void open(DocumentState state) {
    // A document opened while the replica was being retired must not edit under the old id.
    state.adopt(me);
    SessionDoc doc = docs.computeIfAbsent(state.id, id -> new SessionDoc(state));
    List<ReplicaId> earlier = state.earlierWriters();
    if ((phase == Phase.ONLINE || phase == Phase.HANDSHAKE)
        && (bound.equals(me) ? !earlier.isEmpty() : earlier.indexOf(bound) > 0)) {
      // Edits of an earlier id wait in this document, made before those of the id the connection
      // is bound to (which may have observed them): they go first, on a connection of their own.
      rebind("document '" + state.id + "' holds edits of " + earlier.get(0));
      return;
    }
    if (phase == Phase.ONLINE && doc.phase == DocPhase.UNSUBSCRIBED) {
      subscribe(doc);
    }
  }

  /**
   * Stops following a document: UNSUBSCRIBE if subscribed, and its requests in flight are forgotten
   * (their acks change nothing; unacknowledged entries stay in the stored outbox and go out again
   * when the document is reopened).
   */
  public void closeDocument(String documentId) {
    SessionDoc doc = docs.remove(documentId);
    undeliverable.remove(documentId);
    if (doc == null) {
      return;
    }
    if (phase == Phase.ONLINE && doc.phase != DocPhase.UNSUBSCRIBED) {
      long requestId = newRequestId();
      requests.put(requestId, new Request(documentId, Request.Kind.UNSUBSCRIBE, List.of(), null));
      transport.send(generation, new Unsubscribe(requestId, documentId));
    }
    finishDrainIfDone();
  }

  /** Something may be ready to send: a local edit, a presence change. */
  public void kick() {
    pump();
  }

  /** Sends the document's presence now if online (after a local change of it). */
  public void presenceChanged(String documentId) {
    SessionDoc doc = docs.get(documentId);
    if (doc != null && phase == Phase.ONLINE && doc.phase == DocPhase.SYNCED) {
      sendPresence(doc, true);
    }
  }

  /** Stops for good: sends nothing more and closes the connection with 1000. */
  public void close() {
    if (phase == Phase.CLOSED) {
      return;
    }
    boolean connected = phase == Phase.HANDSHAKE || phase == Phase.ONLINE;
    boolean opening = phase == Phase.CONNECTING;
    phase = Phase.CLOSED;
    cancelTimers();
    if (reconnectTimer != null) {
      reconnectTimer.cancel();
    }
    if (connected || opening) {
      transport.close(generation, CloseCodes.NORMAL, "client closed");
    }
    forgetConnection();
    statusSink.accept(ConnectionStatuses.of(State.OFFLINE, "client closed", 0));
  }

  // ------------------------------------------------------------------ connection events

  public void onOpen(long gen) {
    if (gen != generation || phase != Phase.CONNECTING) {
      return;
    }
    phase = Phase.HANDSHAKE;
    helloSentNanos = nanoTime.getAsLong();
    helloSentWall = clockSync.wallMillis();
    String credentials = connectCredentials;
    bound = binding();
    if (!bound.equals(me)) {
      LOG.log(Level.INFO, "delivering the unacknowledged edits of earlier replica " + bound);
    }
    transport.send(
        gen,
        new Hello(
            ProtocolVersion.MIN,
            config.maxProtocolVersion(),
            bound,
            Optional.ofNullable(credentials),
            Optional.ofNullable(config.clientName())));
    // PINGs only start after WELCOME, so without this a server that dies silently after the
    // socket opened (no RST, no close) would leave the session waiting for WELCOME forever.
    long timeout = 2 * config.pingIntervalMillis();
    pingTimer =
        scheduler.schedule(
            () -> {
              if (gen == generation && phase == Phase.HANDSHAKE) {
                transport.close(gen, CloseCodes.GOING_AWAY, "no WELCOME");
                onClosed(gen, ABNORMAL, "no WELCOME within " + timeout + " ms");
              }
            },
            timeout);
  }

  public void onClosed(long gen, int code, String reason) {
    if (gen != generation
        || phase == Phase.CLOSED
        || phase == Phase.OFFLINE
        || phase == Phase.WAITING) {
      return;
    }
    boolean wasOnline = phase == Phase.ONLINE;
    boolean neverOpened = phase == Phase.CONNECTING;
    forgetConnection();
    String why = reason == null || reason.isEmpty() ? lastErrorText : reason;
    // 1006 never travels in a close frame (RFC 6455), so CloseCodes has no name for it.
    String name = code == ABNORMAL ? "ABNORMAL" : CloseCodes.name(code);
    String text = name + " (" + code + ")" + (why == null ? "" : ": " + why);
    lastErrorText = null;
    // Another subject owns the replica id (a state directory copied from another user's): the
    // same path as a retirement, then reconnect under the fresh id; the edits are re-issued by it.
    boolean freshReplica =
        code == CloseCodes.REPLICA_OWNED
            && (bound != null && !bound.equals(me)
                ? reissueEarlier(bound, "the server said: " + text)
                : adoptFreshReplica("the server said: " + text));
    if (!freshReplica && !CloseCodes.shouldReconnect(code)) {
      phase = Phase.OFFLINE;
      LOG.log(Level.WARNING, "Lattice server closed the connection for good: " + text);
      statusSink.accept(ConnectionStatuses.of(State.FAILED, text, code));
      return;
    }
    phase = Phase.WAITING;
    boolean later = code == CloseCodes.TRY_AGAIN_LATER || code == CloseCodes.RATE_LIMITED;
    // An expired token: reconnect at once, asking the supplier for a fresh one. Only after a
    // session that was online, so a supplier handing out stale tokens backs off instead of
    // spinning.
    boolean freshToken = code == CloseCodes.TOKEN_EXPIRED && wasOnline;
    long delay =
        freshToken
            ? 0
            : later
                ? config.backoff().laterDelayMillis(attempt)
                : config.backoff().delayMillis(attempt);
    delay = Math.max(delay, retryAfterFloorMillis);
    attempt = Math.min(attempt + 1, 30);
    LOG.log(
        wasOnline ? Level.INFO : Level.DEBUG,
        "Lattice connection lost (" + text + "); reconnecting in " + delay + " ms");
    statusSink.accept(
        ConnectionStatuses.of(
            State.CONNECTING,
            plainWords(code, neverOpened) + ", retrying " + inPlainWords(delay) + " (" + text + ")",
            code));
    reconnectTimer = scheduler.schedule(this::reconnect, delay);
  }

  /**
   * The server answered the WebSocket upgrade with {@code httpStatus} instead of 101. A status that
   * retrying cannot change (a wrong path, missing or refused credentials) stops the client with
   * {@link State#FAILED}; overload and gateway statuses are retried like a lost connection.
   */
  void onHandshakeRefused(long gen, int httpStatus, String uri) {
    onHandshakeRefused(gen, httpStatus, uri, Optional.empty());
  }

  /**
   * {@link #onHandshakeRefused(long, int, String)} with the response's {@code Retry-After} header:
   * on 429 and 503 a value in seconds sets the least delay before the next attempt (at most {@link
   * #MAX_RETRY_AFTER_MILLIS}); the jittered backoff still applies when it is longer.
   */
  void onHandshakeRefused(long gen, int httpStatus, String uri, Optional<String> retryAfter) {
    if (gen != generation || phase != Phase.CONNECTING) {
      return;
    }
    String text = "HTTP " + httpStatus + httpMeaning(httpStatus) + " from " + uri;
    if (httpStatusIsRetryable(httpStatus)) {
      retryAfterFloorMillis = retryAfterMillis(httpStatus, retryAfter);
      onClosed(
          gen,
          ABNORMAL,
          "the WebSocket upgrade was refused with "
              + text
              + (retryAfterFloorMillis > 0
                  ? " (Retry-After " + retryAfterFloorMillis + " ms)"
                  : ""));
      retryAfterFloorMillis = 0;
      return;
    }
    forgetConnection();
    phase = Phase.OFFLINE;
    String reason = "the server refused the WebSocket upgrade with " + text + "; not retrying";
    LOG.log(Level.WARNING, "Lattice: " + reason);
    statusSink.accept(ConnectionStatuses.ofHttp(State.FAILED, reason, httpStatus));
  }

  /**
   * The least delay a refused upgrade's {@code Retry-After} asks for, in ms: only on 429 and 503,
   * only in the delay-seconds form (an HTTP date is left to the normal backoff, as is a missing or
   * malformed value), capped at {@link #MAX_RETRY_AFTER_MILLIS} so that a wrong header cannot park
   * the client for hours. 0 for none.
   */
  static long retryAfterMillis(int httpStatus, Optional<String> retryAfter) {
    if ((httpStatus != 429 && httpStatus != 503) || retryAfter.isEmpty()) {
      return 0;
    }
    String value = retryAfter.get().trim();
    if (value.isEmpty() || value.length() > 12 || !value.chars().allMatch(Character::isDigit)) {
      return 0;
    }
    return Math.min(MAX_RETRY_AFTER_MILLIS, Long.parseLong(value) * 1000);
  }

  /** Statuses that say "later" (overload, a gateway between us and a restarting server). */
  static boolean httpStatusIsRetryable(int status) {
    return status == 408 || status == 429 || status >= 500;
  }

  private static String httpMeaning(int status) {
    return switch (status) {
      case 400 -> " (bad request)";
      case 401 -> " (unauthorized: credentials missing or refused)";
      case 403 -> " (forbidden: credentials refused)";
      case 404 -> " (not found: is the path /v1/sync?)";
      case 426 -> " (upgrade required)";
      case 429 -> " (too many requests)";
      case 503 -> " (unavailable)";
      default -> "";
    };
  }

  public void onMessage(long gen, Message message) {
    if (gen != generation || (phase != Phase.HANDSHAKE && phase != Phase.ONLINE)) {
      return;
    }
    if (phase == Phase.HANDSHAKE) {
      if (message instanceof Welcome welcome) {
        onWelcome(welcome);
      } else if (message instanceof ErrorMessage error) {
        lastErrorText = errorText(error);
      } else {
        LOG.log(Level.DEBUG, "ignored before WELCOME: " + message.messageType());
      }
      return;
    }
    if (message instanceof Sync sync) {
      onSync(sync);
    } else if (message instanceof Update update) {
      onFanOut(update);
    } else if (message instanceof Ack ack) {
      onAck(ack);
    } else if (message instanceof ErrorMessage error) {
      onError(error);
    } else if (message instanceof Presence presence) {
      onPresence(presence);
    } else if (message instanceof Ping ping) {
      transport.send(generation, new Pong(ping.nonce(), clock.now()));
    } else if (message instanceof Pong pong) {
      onPong(pong);
    } else {
      LOG.log(Level.DEBUG, "ignored from the server: " + message.messageType());
    }
  }

  // ------------------------------------------------------------------ handshake

  private void reconnect() {
    reconnectTimer = null;
    if (phase == Phase.WAITING) {
      connect();
    }
  }

  private void connect() {
    phase = Phase.CONNECTING;
    generation++;
    statusSink.accept(ConnectionStatuses.of(State.CONNECTING, null, 0));
    // Asked once per connection: the same token goes in the upgrade and in HELLO.
    try {
      connectCredentials = config.credentials().get();
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "the credentials supplier threw; connecting without credentials", e);
      connectCredentials = null;
    }
    transport.connect(generation, connectCredentials);
  }

  private void onWelcome(Welcome welcome) {
    long now = nanoTime.getAsLong();
    clockSync.sample(
        welcome.serverTime().physicalMillis(),
        helloSentWall,
        clockSync.wallMillis(),
        now - helloSentNanos);
    see(welcome);
    Map<String, Long> limits = welcome.limits();
    maxFrameBytes =
        (int)
            Math.min(
                ProtocolLimits.defaults().maxFrameBytes(),
                limits.getOrDefault(
                    Welcome.LIMIT_MAX_FRAME_BYTES,
                    (long) ProtocolLimits.defaults().maxFrameBytes()));
    long perSecond = Math.max(1, limits.getOrDefault(Welcome.LIMIT_UPDATES_PER_SECOND, 100L));
    long burst = Math.max(1, limits.getOrDefault(Welcome.LIMIT_UPDATE_BURST, perSecond));
    // One token of the server's burst is kept in reserve: the server counts arrivals, not sends,
    // so updates that left on time can land early after a delay bunched them up; the spare
    // token absorbs that instead of a RATE_LIMITED round trip.
    bucket = new TokenBucket(perSecond, Math.max(1, burst - 1), now);
    presenceTtlMillis =
        Math.min(
            config.presenceTtlMillis(),
            limits.getOrDefault(Welcome.LIMIT_PRESENCE_TTL_MILLIS, config.presenceTtlMillis()));
    long idle = limits.getOrDefault(Welcome.LIMIT_IDLE_TIMEOUT_MILLIS, 0L);
    // A server that does not say is taken to allow what this client allows itself.
    serverMaxDriftMillis =
        limits.getOrDefault(Welcome.LIMIT_MAX_CLOCK_DRIFT_MILLIS, clock.maxDrift().toMillis());
    long pingEvery =
        idle > 0 ? Math.min(config.pingIntervalMillis(), idle / 3) : config.pingIntervalMillis();
    if (pingTimer != null) {
      pingTimer.cancel(); // the handshake timeout
    }
    version = Math.min(welcome.version(), ProtocolVersion.MAX);
    phase = Phase.ONLINE;
    attempt = 0;
    retryAttempt = 0;
    holding = false;
    statusSink.accept(ConnectionStatuses.of(State.ONLINE, "session " + welcome.sessionId(), 0));
    schedulePing(Math.max(1, pingEvery));
    schedulePresenceRenewal();
    for (SessionDoc doc : docs.values()) {
      subscribe(doc);
    }
  }

  private void see(Welcome welcome) {
    try {
      clock.update(welcome.serverTime());
    } catch (ClockDriftException e) {
      LOG.log(Level.WARNING, "server time far ahead even after correction: " + e.getMessage());
    }
  }

  // ------------------------------------------------------------------ documents

  private void subscribe(SessionDoc doc) {
    long requestId = newRequestId();
    requests.put(requestId, new Request(doc.state.id, Request.Kind.SUBSCRIBE, List.of(), null));
    doc.phase = DocPhase.SUBSCRIBING;
    if (version >= 2) {
      if (doc.alias < 0) {
        doc.alias = freeAlias();
      }
      transport.send(
          generation,
          Subscribe.withAlias(requestId, doc.state.id, doc.state.versionVector(), doc.alias));
    } else {
      transport.send(generation, new Subscribe(requestId, doc.state.id, doc.state.versionVector()));
    }
  }

  /** The smallest alias no open document holds: small aliases take one byte on the wire. */
  private int freeAlias() {
    Set<Integer> taken = new HashSet<>(refusedAliases);
    for (SessionDoc d : docs.values()) {
      taken.add(d.alias);
    }
    int alias = 0;
    while (taken.contains(alias)) {
      alias++;
    }
    return alias;
  }

  private void onSync(Sync sync) {
    Request request = requests.remove(sync.requestId());
    SessionDoc doc = docs.get(sync.documentId());
    if (request == null || doc == null || request.kind() != Request.Kind.SUBSCRIBE) {
      LOG.log(Level.DEBUG, "SYNC for no subscription: " + sync.requestId());
      return;
    }
    long serverOwnSeq = sync.vector().get(bound);
    boolean draining = !bound.equals(me);
    if (serverOwnSeq > doc.state.maxSequence(bound)
        && (!draining || doc.state.hasEntriesBy(bound))) {
      // Not merged: the SYNC carries the server's version of those edits, and a re-issue must
      // measure our unacknowledged edits against our own history, not the server's.
      String why =
          "the server holds "
              + bound
              + ":"
              + serverOwnSeq
              + " of document '"
              + sync.documentId()
              + "' but this client only ever used sequences up to "
              + doc.state.maxSequence(bound)
              + " (a state directory restored from an older copy?)";
      if (draining) {
        // An earlier id, already replaced for new edits: its entries go first as resends. The
        // server acknowledges those it holds with the same content and refuses the others with
        // STALE_REPLICA, which re-issues them under the current id.
        LOG.log(Level.WARNING, why + "; resending its outbox entries to verify them");
        doc.serverOwnSeq = serverOwnSeq;
        doc.phase = DocPhase.SYNCED;
        pump();
        return;
      }
      if (doc.state.pendingChanges() == 0) {
        retire(why);
        return;
      }
      // The stored outbox may hold edits the lost history delivered after all: resend them
      // first (the server acknowledges those it holds with the same content, and refuses the
      // others with STALE_REPLICA, which retires the id), and retire once they are settled.
      LOG.log(Level.WARNING, why + "; verifying the outbox before retiring the replica id");
      doc.verifyUpTo = doc.state.lastEntryId();
      doc.serverOwnSeq = serverOwnSeq;
      doc.phase = DocPhase.SYNCED;
      pump();
      return;
    }
    doc.serverOwnSeq = serverOwnSeq;
    mergeRemote(doc, sync.delta());
    doc.state.markSynced();
    doc.phase = DocPhase.SYNCED;
    DocumentDelta lacking = doc.state.catchUp(sync.vector(), bound);
    if (!lacking.isEmpty()) {
      try {
        doc.catchUp.addAll(ownParts(sync.documentId(), lacking, bound, maxFrameBytes));
        doc.catchUpContext = null;
      } catch (IllegalArgumentException e) {
        // A field no frame can carry: the server cannot take it from us, nor could anyone.
        LOG.log(Level.WARNING, "document '" + sync.documentId() + "': " + e.getMessage());
      }
    }
    sendPresence(doc, false);
    pump();
    finishDrainIfDone();
  }

  private void onFanOut(Update update) {
    SessionDoc doc = docs.get(update.documentId());
    if (doc == null) {
      return;
    }
    if (update.requestId().isPresent()) {
      LOG.log(Level.DEBUG, "an UPDATE from the server carried a request id; merged anyway");
    }
    mergeRemote(doc, update.delta());
  }

  private void mergeRemote(SessionDoc doc, DocumentDelta delta) {
    if (doc.state.mergeRemote(delta)) {
      DocumentState state = doc.state;
      scheduler.schedule(state::checkpointReceived, DocumentState.RECEIVED_CHECKPOINT_MILLIS);
    }
  }

  private void onAck(Ack ack) {
    Request request = requests.remove(ack.requestId());
    if (request == null) {
      return;
    }
    SessionDoc doc = docs.get(request.documentId());
    if (request.kind() == Request.Kind.UPDATE || request.kind() == Request.Kind.CATCH_UP) {
      updatesInFlight--;
      retryAttempt = 0;
    }
    if (doc != null && request.kind() == Request.Kind.UPDATE) {
      doc.inFlight.removeAll(request.entryIds());
      doc.state.acknowledged(request.entryIds());
      if (doc.verifyUpTo >= 0 && !doc.state.hasEntriesUpTo(doc.verifyUpTo)) {
        // Every edit the restored outbox held is settled: now nothing of the old id is pending
        // that the server might hold, and later edits must not take its sequences.
        doc.verifyUpTo = -1;
        retire("the outbox of document '" + doc.state.id + "' is verified");
        return;
      }
      if (finishDrainIfDone()) {
        return;
      }
    }
    if (doc != null && request.kind() == Request.Kind.CATCH_UP) {
      doc.catchUpInFlight--;
      pump();
      finishDrainIfDone();
      return;
    }
    pump();
  }

  private void onError(ErrorMessage error) {
    if (error.requestId().isEmpty()) {
      lastErrorText = errorText(error);
      LOG.log(Level.WARNING, "Lattice server error: " + lastErrorText);
      return;
    }
    Request request = requests.remove(error.requestId().getAsLong());
    if (request == null) {
      return;
    }
    SessionDoc doc = docs.get(request.documentId());
    Optional<ErrorCode> code = error.errorCode();
    boolean retryable =
        code.isPresent()
            && switch (code.get()) {
              case RATE_LIMITED, INTERNAL, NOT_SUBSCRIBED, DUPLICATE_REQUEST_ID -> true;
              default -> false;
            };
    long driftWait = -1;
    if (code.isPresent() && code.get() == ErrorCode.CLOCK_DRIFT && request.delta() != null) {
      driftWait = clockDriftWaitMillis(request.delta());
      retryable = driftWait >= 0;
    }
    UpdateRejectedException failure =
        new UpdateRejectedException(error.code(), error.message(), request.documentId());
    if (doc != null
        && (request.kind() == Request.Kind.UPDATE || request.kind() == Request.Kind.CATCH_UP)
        && code.isPresent()
        && (code.get() == ErrorCode.STALE_REPLICA || code.get() == ErrorCode.REPLICA_MISMATCH)) {
      updatesInFlight--;
      doc.inFlight.removeAll(request.entryIds());
      if (request.kind() == Request.Kind.CATCH_UP) {
        doc.catchUpInFlight--;
      }
      boolean resend =
          request.kind() == Request.Kind.UPDATE
              && doc.state.entriesAtMost(request.entryIds(), doc.serverOwnSeq);
      if (code.get() == ErrorCode.STALE_REPLICA
          && resend
          && !bound.equals(me)
          && request.entryIds().size() > 1) {
        // Resends of an earlier id, some of which the server holds with other content: the rest
        // may be held as they are (edits the lost history did deliver), which must not be made
        // twice. Send each alone to find which.
        doc.state.markSolo(request.entryIds());
      } else if (code.get() == ErrorCode.STALE_REPLICA && resend && !bound.equals(me)) {
        // An earlier id's edit the server holds other content for: it never reached the server
        // under its dot, so it is made again by the current id.
        doc.state.reissue(bound, Set.copyOf(request.entryIds()));
        if (finishDrainIfDone()) {
          return;
        }
      } else if (code.get() == ErrorCode.REPLICA_MISMATCH && !bound.equals(me)) {
        // The server takes no dots of that id on this connection: make them all again by the
        // current id. The connection ends so that no answer still on its way settles an entry
        // that now carries other dots.
        doc.state.reissue(bound, null);
        rebind(errorText(error));
      } else if (code.get() == ErrorCode.REPLICA_MISMATCH || resend) {
        // The server holds these dots of ours with other content (or will not take them as ours
        // at all): this replica id names a history we do not have. Retire it.
        retire(errorText(error));
      } else {
        // New dots that do not continue what the server holds: compare histories again.
        LOG.log(Level.INFO, "document '" + doc.state.id + "': " + errorText(error) + "; resync");
        holdRetries();
        doc.phase = DocPhase.UNSUBSCRIBED;
        doc.catchUp.clear();
        scheduler.schedule(() -> resubscribe(doc), Math.max(1, holdMillis()));
      }
      pump();
      return;
    }
    switch (request.kind()) {
      case SUBSCRIBE -> {
        if (doc == null) {
          return;
        }
        doc.phase = DocPhase.UNSUBSCRIBED;
        if (code.isPresent() && code.get() == ErrorCode.ALIAS_IN_USE) {
          // The server still binds the alias to a document we no longer hold (a subscription
          // that ended without our UNSUBSCRIBE reaching it): subscribe again under another.
          refusedAliases.add(doc.alias);
          doc.alias = -1;
          subscribe(doc);
        } else if (retryable) {
          holdRetries();
          scheduler.schedule(() -> resubscribe(doc), Math.max(1, holdMillis()));
        } else {
          LOG.log(Level.WARNING, failure.getMessage());
          doc.state.subscriptionRefused(failure);
          undeliverable.add(doc.state.id);
          if (finishDrainIfDone()) {
            return;
          }
        }
      }
      case UPDATE -> {
        updatesInFlight--;
        if (doc == null) {
          return;
        }
        doc.inFlight.removeAll(request.entryIds());
        if (retryable) {
          if (code.get() == ErrorCode.NOT_SUBSCRIBED && doc.phase == DocPhase.SYNCED) {
            doc.phase = DocPhase.UNSUBSCRIBED;
            subscribe(doc);
          }
          holdRetries(Math.max(0, driftWait));
        } else if (request.entryIds().size() > 1) {
          // One entry of the batch spoiled it for all: send each alone to find which.
          doc.state.markSolo(request.entryIds());
        } else {
          LOG.log(Level.WARNING, failure.getMessage());
          doc.state.rejected(request.entryIds().get(0), failure);
          if (finishDrainIfDone()) {
            return;
          }
        }
      }
      case CATCH_UP -> {
        updatesInFlight--;
        if (doc == null) {
          return;
        }
        doc.catchUpInFlight--;
        if (retryable) {
          doc.catchUp.add(0, request.delta());
          holdRetries(Math.max(0, driftWait));
        } else {
          LOG.log(Level.WARNING, "catch-up refused: " + failure.getMessage());
          doc.catchUpRefused = true;
          doc.state.report(failure);
        }
      }
      case UNSUBSCRIBE -> LOG.log(Level.DEBUG, "unsubscribe refused: " + failure.getMessage());
      default -> throw new AssertionError(request.kind());
    }
    pump();
  }

  /**
   * What a close means, as an app would show it ("server unreachable"); the close code and the
   * technical reason follow it in the status, for logs and tooltips.
   */
  private static String plainWords(int code, boolean neverOpened) {
    if (code == ABNORMAL) {
      return neverOpened ? "server unreachable" : "connection lost";
    }
    if (code == CloseCodes.GOING_AWAY) {
      return "the server is restarting";
    }
    if (code == CloseCodes.TRY_AGAIN_LATER || code == CloseCodes.RATE_LIMITED) {
      return "the server is busy";
    }
    if (code == CloseCodes.TOKEN_EXPIRED) {
      return "the sign-in expired";
    }
    if (code == CloseCodes.IDLE_TIMEOUT) {
      return "the connection went quiet";
    }
    return "disconnected";
  }

  /** "now", "in 0.4 s", "in 2 s", "in 3 min". */
  private static String inPlainWords(long delayMillis) {
    if (delayMillis < 100) {
      return "now";
    }
    if (delayMillis < 1_000) {
      return "in 0." + delayMillis / 100 + " s";
    }
    if (delayMillis < 120_000) {
      return "in " + Math.round(delayMillis / 1000.0) + " s";
    }
    return "in " + Math.round(delayMillis / 60_000.0) + " min";
  }

  /**
   * Retires this client's replica id for good (the server holds dots of it that this client's state
   * does not: a state directory restored from an older copy), re-issues every document's
   * unacknowledged edits under the fresh id, and reconnects so that HELLO names it.
   */
  private void retire(String why) {
    ReplicaId old = me;
    if (!adoptFreshReplica(why)) {
      return;
    }
    if (phase == Phase.ONLINE || phase == Phase.HANDSHAKE) {
      long gen = generation;
      transport.close(gen, CloseCodes.GOING_AWAY, "replica id retired");
      onClosed(gen, ABNORMAL, "replica " + old + " retired");
    }
  }

  /**
   * Retires {@link #me} and makes every document's unacknowledged edits again under its durable
   * successor; false (and nothing changed) if the local state could not retire it.
   */
  private boolean adoptFreshReplica(String why) {
    ReplicaId old = me;
    ReplicaId fresh;
    try {
      fresh = retireReplica.get();
    } catch (RuntimeException e) {
      LOG.log(Level.ERROR, "cannot retire replica " + old + " (" + why + ")", e);
      return false;
    }
    me = fresh;
    LOG.log(Level.WARNING, "retired replica " + old + " for " + fresh + ": " + why);
    for (SessionDoc d : docs.values()) {
      d.state.adopt(fresh);
      d.state.reissue(old, null);
    }
    return true;
  }

  /**
   * Another subject owns {@code earlier}, an id of this client's earlier process whose edits were
   * still to deliver: they can never go under it, so they are made again under {@link #me}.
   */
  private boolean reissueEarlier(ReplicaId earlier, String why) {
    LOG.log(Level.WARNING, "re-issuing the edits of earlier replica " + earlier + ": " + why);
    for (SessionDoc d : docs.values()) {
      d.state.reissue(earlier, null);
    }
    return true;
  }

  /**
   * The replica the next connection is bound to: an earlier id with edits still to deliver in an
   * open document, one whose entries follow no other earlier id's in any of them; else {@link #me}.
   * An edit may observe the dots of an earlier process's edits still in the outbox (a removal of
   * what it added), and the server refuses an UPDATE naming dots it does not hold: the processes'
   * edits go in the order they were made, which each outbox keeps.
   */
  private ReplicaId binding() {
    List<List<ReplicaId>> orders = new ArrayList<>();
    for (SessionDoc doc : docs.values()) {
      if (!undeliverable.contains(doc.state.id)) {
        List<ReplicaId> earlier = doc.state.earlierWriters();
        if (!earlier.isEmpty()) {
          orders.add(earlier);
        }
      }
    }
    for (List<ReplicaId> order : orders) {
      if (orders.stream().allMatch(o -> o.indexOf(order.get(0)) <= 0)) {
        return order.get(0);
      }
    }
    // No order fits every outbox (processes do not overlap, so none should): the first id found.
    return orders.isEmpty() ? me : orders.get(0).get(0);
  }

  /**
   * On a connection bound to an earlier id: once no open document holds an entry of it (each
   * acknowledged, refused, or re-issued under {@link #me}), reconnects bound to the next one or to
   * {@link #me}.
   *
   * @return whether the connection was ended
   */
  private boolean finishDrainIfDone() {
    if (bound.equals(me) || phase != Phase.ONLINE) {
      return false;
    }
    for (SessionDoc doc : docs.values()) {
      if (undeliverable.contains(doc.state.id)) {
        continue;
      }
      // A catch-up of that id's acknowledged edits goes on this connection too, or never.
      boolean catchingUp =
          !doc.catchUp.isEmpty() || doc.catchUpInFlight > 0 || doc.catchUpContext != null;
      if (doc.state.hasEntriesBy(bound) || catchingUp) {
        return false;
      }
    }
    rebind("the edits of earlier replica " + bound + " are delivered");
    return true;
  }

  /** Ends the connection so that the next one is bound to {@link #binding()}. */
  private void rebind(String why) {
    long gen = generation;
    transport.close(gen, CloseCodes.GOING_AWAY, "rebinding the replica id");
    onClosed(gen, ABNORMAL, why);
  }

  /**
   * This replica's catch-up delta as UPDATEs, each within a frame. The server takes a replica's new
   * dots only in order and without a gap, so the parts are cut by sequence: the fields in the order
   * of their latest dot, each part claiming every dot from the end of the previous one up to its
   * own last field's (the last part up to the end). A part that claims a dot of a field sent later
   * is still honest: that field's state, which arrives with a later dot, carries the effect.
   */
  static List<DocumentDelta> ownParts(
      String documentId, DocumentDelta delta, ReplicaId me, int maxFrameBytes) {
    DeltaChunks.Split whole = DeltaChunks.forUpdates(documentId, delta, maxFrameBytes);
    if (whole.whole()) {
      return whole.parts();
    }
    List<Map.Entry<String, dev.lattice.crdt.FieldState>> fields =
        new ArrayList<>(delta.fields().entrySet());
    fields.sort(
        java.util.Comparator.comparingLong(
            (Map.Entry<String, dev.lattice.crdt.FieldState> e) -> e.getValue().touched().get(me)));
    long first = Long.MAX_VALUE;
    long last = 0;
    for (dev.lattice.crdt.DotRange range : delta.context().ranges()) {
      first = Math.min(first, range.first());
      last = Math.max(last, range.last());
    }
    List<DocumentDelta> parts = new ArrayList<>();
    Map<String, dev.lattice.crdt.FieldState> current = new LinkedHashMap<>();
    long from = first;
    for (int i = 0; i < fields.size(); i++) {
      Map.Entry<String, dev.lattice.crdt.FieldState> field = fields.get(i);
      current.put(field.getKey(), field.getValue());
      long upTo = i == fields.size() - 1 ? last : field.getValue().touched().get(me);
      DocumentDelta candidate = part(me, from, upTo, current);
      if (current.size() > 1 && codecFrameBytes(documentId, candidate) > maxFrameBytes) {
        current.remove(field.getKey());
        long prevUpTo = fields.get(i - 1).getValue().touched().get(me);
        parts.add(part(me, from, prevUpTo, current));
        from = prevUpTo + 1;
        current.clear();
        current.put(field.getKey(), field.getValue());
      }
    }
    if (!current.isEmpty()) {
      parts.add(part(me, from, last, current));
    } else if (from <= last) {
      parts.add(part(me, from, last, Map.of()));
    }
    return parts;
  }

  private static DocumentDelta part(
      ReplicaId me, long from, long upTo, Map<String, dev.lattice.crdt.FieldState> fields) {
    DotSet context =
        from > upTo
            ? DotSet.empty()
            : DotSet.of(List.of(new dev.lattice.crdt.DotRange(me, from, upTo)));
    return DocumentDelta.of(context, fields);
  }

  private static int codecFrameBytes(String documentId, DocumentDelta delta) {
    return MessageCodec.defaults().encode(Update.request(Long.MAX_VALUE, documentId, delta)).length;
  }

  private void resubscribe(SessionDoc doc) {
    if (phase == Phase.ONLINE && doc.phase == DocPhase.UNSUBSCRIBED) {
      subscribe(doc);
    }
  }

  /**
   * How long to hold a delta the server refused with CLOCK_DRIFT before sending it again: until the
   * server's clock (as estimated) is within its advertised bound of the delta's greatest timestamp.
   * -1 (refuse it for good) when that timestamp is further ahead of the estimate than this client's
   * own drift bound: a clock that wrong is not waited out. So edits made offline on a clock a
   * little fast, or stamped after a value a client a little fast wrote, are delayed, not lost.
   */
  private long clockDriftWaitMillis(DocumentDelta delta) {
    Optional<HlcTimestamp> max = delta.maxTimestamp();
    if (max.isEmpty()) {
      return -1;
    }
    long ahead = max.get().physicalMillis() - clockSync.correctedMillis();
    if (ahead > clock.maxDrift().toMillis()) {
      return -1;
    }
    return Math.max(0, ahead - serverMaxDriftMillis + 1);
  }

  private void holdRetries() {
    holdRetries(0);
  }

  /** Holds every send for the next backoff delay, and at least {@code atLeastMillis}. */
  private void holdRetries(long atLeastMillis) {
    long delay = Math.max(atLeastMillis, config.backoff().delayMillis(retryAttempt));
    retryAttempt = Math.min(retryAttempt + 1, 30);
    holding = true;
    retryHoldUntilNanos = nanoTime.getAsLong() + delay * 1_000_000L;
  }

  private long holdMillis() {
    return Math.max(0, (retryHoldUntilNanos - nanoTime.getAsLong()) / 1_000_000L);
  }

  // ------------------------------------------------------------------ sending updates

  /** Sends what is ready, within the in-flight bound, the rate and the retry hold. */
  /**
   * The smallest id no outstanding request of this connection holds. PROTOCOL.md asks ids to be
   * unique only among outstanding requests, and reusing answered ones keeps them below 128, one
   * byte each: counting up made every request past the 255th two bytes longer, which took an
   * increment past 20 bytes on the wire. The scan is bounded by the requests in flight.
   */
  private long newRequestId() {
    long id = 1;
    while (requests.containsKey(id)) {
      id++;
    }
    return id;
  }

  private void pump() {
    if (phase != Phase.ONLINE) {
      return;
    }
    long now = nanoTime.getAsLong();
    if (holding && now - retryHoldUntilNanos < 0) {
      schedulePump(holdMillis() + 1);
      return;
    }
    holding = false;
    boolean progress = true;
    while (progress && updatesInFlight < config.maxUpdatesInFlight()) {
      progress = false;
      for (SessionDoc doc : docs.values()) {
        if (doc.phase != DocPhase.SYNCED || updatesInFlight >= config.maxUpdatesInFlight()) {
          continue;
        }
        DocumentDelta catchUp = doc.catchUp.isEmpty() ? null : doc.catchUp.get(0);
        if (catchUp == null
            && doc.catchUpContext != null
            && doc.catchUpInFlight == 0
            && !doc.catchUpRefused) {
          // Every part is acknowledged: now the server may claim the whole context.
          catchUp = DocumentDelta.of(doc.catchUpContext, Map.of());
          doc.catchUp.add(catchUp);
          doc.catchUpContext = null;
        }
        List<OutboxEntry> batch = catchUp == null ? batch(doc) : List.of();
        if (catchUp == null && batch.isEmpty()) {
          continue;
        }
        if (!bucket.tryAcquire(nanoTime.getAsLong())) {
          schedulePump(Math.max(1, bucket.millisToNextToken()));
          return;
        }
        long requestId = newRequestId();
        updatesInFlight++;
        progress = true;
        if (catchUp != null) {
          doc.catchUp.remove(0);
          doc.catchUpInFlight++;
          requests.put(
              requestId, new Request(doc.state.id, Request.Kind.CATCH_UP, List.of(), catchUp));
          transport.send(generation, Update.request(requestId, doc.state.id, catchUp));
        } else {
          List<Long> ids = new ArrayList<>(batch.size());
          DocumentDelta joined = DocumentDelta.empty();
          for (OutboxEntry entry : batch) {
            ids.add(entry.entryId());
            joined = joined.join(entry.delta());
          }
          doc.inFlight.addAll(ids);
          requests.put(requestId, new Request(doc.state.id, Request.Kind.UPDATE, ids, joined));
          Optional<OwnUpdate> own =
              version >= 2 && batch.size() == 1 && doc.alias >= 0
                  ? OwnUpdate.of(requestId, doc.alias, bound, joined)
                  : Optional.empty();
          if (own.isPresent()) {
            transport.send(generation, own.get());
          } else {
            transport.send(generation, Update.request(requestId, doc.state.id, joined));
          }
        }
      }
    }
  }

  /**
   * The next outbox entries to send as one UPDATE: in order, as many as fit one frame with at most
   * {@link Config#maxEntriesPerUpdate} fields (any number of edits of those fields), a solo entry
   * alone, resends apart from new edits.
   */
  private List<OutboxEntry> batch(SessionDoc doc) {
    List<OutboxEntry> unsent = doc.state.unsent(doc.inFlight);
    // A connection carries the dots of the replica it is bound to, and no other's.
    unsent.removeIf(
        e -> {
          ReplicaId writer = DocumentState.writerOf(e.delta());
          return !bound.equals(writer == null ? me : writer);
        });
    if (doc.verifyUpTo >= 0) {
      // Only the entries being verified; later edits wait for the fresh replica id.
      unsent.removeIf(e -> e.entryId() > doc.verifyUpTo);
    }
    if (unsent.isEmpty()) {
      return List.of();
    }
    List<OutboxEntry> batch = new ArrayList<>();
    DocumentDelta joined = DocumentDelta.empty();
    // The server takes an UPDATE's dots either all held (a resend) or all new, never mixed.
    boolean resends = doc.state.entriesAtMost(List.of(unsent.get(0).entryId()), doc.serverOwnSeq);
    for (OutboxEntry entry : unsent) {
      boolean solo = doc.state.isSolo(entry.entryId());
      if (!batch.isEmpty() && solo) {
        break;
      }
      if (!batch.isEmpty()
          && doc.state.entriesAtMost(List.of(entry.entryId()), doc.serverOwnSeq) != resends) {
        break;
      }
      DocumentDelta candidate;
      try {
        candidate = joined.join(entry.delta());
      } catch (RuntimeException e) {
        // Two entries gave one field different types (possible only around a refused edit).
        break;
      }
      // Coalesced per field: consecutive edits of fields already in the batch join into their
      // state (a counter's running total, the last register write) and add nothing but a longer
      // run of dots, so the bound is on the fields an UPDATE carries, not on the edits it covers.
      if (!batch.isEmpty()
          && (candidate.fields().size() > config.maxEntriesPerUpdate()
              || frameBytes(doc.state.id, candidate) > maxFrameBytes)) {
        break;
      }
      batch.add(entry);
      joined = candidate;
      if (solo) {
        break;
      }
    }
    return batch;
  }

  private int frameBytes(String documentId, DocumentDelta delta) {
    return codec.encode(Update.request(Long.MAX_VALUE, documentId, delta)).length;
  }

  private void schedulePump(long delayMillis) {
    if (pumpTimer != null) {
      return;
    }
    pumpTimer =
        scheduler.schedule(
            () -> {
              pumpTimer = null;
              pump();
            },
            delayMillis);
  }

  // ------------------------------------------------------------------ presence and pings

  private void onPresence(Presence presence) {
    SessionDoc doc = docs.get(presence.documentId());
    if (doc != null) {
      doc.state.presence(presence.replicaId(), presence.value());
    }
  }

  /** Sends the document's presence; a cleared one only when {@code evenIfCleared}. */
  private void sendPresence(SessionDoc doc, boolean evenIfCleared) {
    Optional<Value> mine = doc.state.myPresence();
    if (mine.isEmpty() && !evenIfCleared) {
      return;
    }
    transport.send(
        generation,
        mine.isEmpty()
            ? Presence.leave(doc.state.id, bound)
            : new Presence(doc.state.id, bound, presenceTtlMillis, mine));
  }

  private void schedulePresenceRenewal() {
    presenceTimer =
        scheduler.schedule(
            () -> {
              if (phase != Phase.ONLINE) {
                return;
              }
              for (SessionDoc doc : docs.values()) {
                if (doc.phase == DocPhase.SYNCED) {
                  sendPresence(doc, false);
                }
              }
              schedulePresenceRenewal();
            },
            Math.max(1, presenceTtlMillis / 2));
  }

  private void schedulePing(long everyMillis) {
    pingTimer =
        scheduler.schedule(
            () -> {
              if (phase != Phase.ONLINE) {
                return;
              }
              long now = nanoTime.getAsLong();
              for (long[] sent : pings.values()) {
                if (now - sent[0] > 2 * everyMillis * 1_000_000L) {
                  // A connection that answers no PING for two rounds is dead even if TCP has
                  // not noticed (a pulled cable, a sleeping laptop): drop it and reconnect.
                  long gen = generation;
                  transport.close(gen, CloseCodes.GOING_AWAY, "no PONG");
                  onClosed(gen, ABNORMAL, "no PONG for " + 2 * everyMillis + " ms");
                  return;
                }
              }
              long nonce = nextNonce++;
              pings.put(nonce, new long[] {now, clockSync.wallMillis()});
              transport.send(generation, new Ping(nonce, clock.now()));
              schedulePing(everyMillis);
            },
            everyMillis);
  }

  private void onPong(Pong pong) {
    long[] sent = pings.remove(pong.nonce());
    if (sent == null) {
      return;
    }
    clockSync.sample(
        pong.time().physicalMillis(),
        sent[1],
        clockSync.wallMillis(),
        nanoTime.getAsLong() - sent[0]);
    try {
      clock.update(pong.time());
    } catch (ClockDriftException e) {
      LOG.log(Level.WARNING, "server time far ahead even after correction: " + e.getMessage());
    }
  }

  // ------------------------------------------------------------------ helpers

  private void forgetConnection() {
    cancelTimers();
    requests.clear();
    pings.clear();
    updatesInFlight = 0;
    version = ProtocolVersion.MIN;
    refusedAliases.clear();
    for (SessionDoc doc : docs.values()) {
      doc.phase = DocPhase.UNSUBSCRIBED;
      doc.alias = -1; // aliases do not outlive a connection
      doc.inFlight.clear();
      doc.catchUp.clear();
      doc.catchUpContext = null;
      doc.catchUpInFlight = 0;
      doc.catchUpRefused = false;
      doc.verifyUpTo = -1;
      doc.state.forgetOthers();
    }
  }

  private void cancelTimers() {
    for (ClientScheduler.Cancellable timer :
        new ClientScheduler.Cancellable[] {pingTimer, presenceTimer, pumpTimer}) {
      if (timer != null) {
        timer.cancel();
      }
    }
    pingTimer = null;
    presenceTimer = null;
    pumpTimer = null;
  }

  private static String errorText(ErrorMessage error) {
    return error.errorCode().map(ErrorCode::name).orElse("code " + error.code())
        + ": "
        + error.message();
  }
}

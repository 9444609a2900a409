package dev.lattice.client;

import dev.lattice.client.ConnectionStatus.State;
import dev.lattice.client.LocalState.OutboxEntry;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.hlc.ClockDriftException;
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
 * The client's protocol logic, without I/O (DESIGN.md, "Protocol logic without I/O"): it takes
 * connection events, decoded messages and timer firings in, and hands messages, connects, closes
 * and timers out through {@link ClientTransport} and {@link ClientScheduler}. The JDK WebSocket
 * adapter ({@link JdkWebSocketTransport}) is a thin shell around it, and unit tests drive it with a
 * recording transport and a manual clock.
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
final class ClientSession {

  private static final Logger LOG = System.getLogger(ClientSession.class.getName());

  /** Close code used locally when a connection failed at the network level. */
  static final int ABNORMAL = 1006;

  /** Settings of the session. */
  record Config(
      Supplier<String> credentials,
      String clientName,
      Backoff backoff,
      int maxUpdatesInFlight,
      int maxEntriesPerUpdate,
      long pingIntervalMillis,
      long presenceTtlMillis,
      int maxProtocolVersion) {

    /** Settings offering every protocol version this build speaks. */
    Config(
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

  private final Config config;
  private final ReplicaId me;
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
  private long nextRequestId = 1;
  private long nextNonce = 1;
  private int attempt;
  private int retryAttempt;
  private boolean holding;
  private long retryHoldUntilNanos;
  private int updatesInFlight;
  private long helloSentNanos;
  private long helloSentWall;
  private final Map<Long, long[]> pings = new HashMap<>();
  private String lastErrorText;

  private volatile int maxFrameBytes = ProtocolLimits.defaults().maxFrameBytes();
  private TokenBucket bucket;
  private long presenceTtlMillis;
  private ClientScheduler.Cancellable reconnectTimer;
  private ClientScheduler.Cancellable pingTimer;
  private ClientScheduler.Cancellable presenceTimer;
  private ClientScheduler.Cancellable pumpTimer;

  ClientSession(
      Config config,
      ReplicaId me,
      ClientTransport transport,
      ClientScheduler scheduler,
      LongSupplier nanoTime,
      ClockSync clockSync,
      HybridLogicalClock clock,
      Consumer<ConnectionStatus> statusSink) {
    this.config = config;
    this.me = me;
    this.transport = transport;
    this.scheduler = scheduler;
    this.nanoTime = nanoTime;
    this.clockSync = clockSync;
    this.clock = clock;
    this.statusSink = statusSink;
    this.presenceTtlMillis = config.presenceTtlMillis();
  }

  /** The largest frame the server accepts, as last advertised (or the protocol default). */
  int maxFrameBytes() {
    return maxFrameBytes;
  }

  // ------------------------------------------------------------------ commands

  /** Starts the first connection attempt. */
  void start() {
    if (phase == Phase.WAITING) {
      connect();
    }
  }

  /** Starts following a document. */
  void open(DocumentState state) {
    SessionDoc doc = docs.computeIfAbsent(state.id, id -> new SessionDoc(state));
    if (phase == Phase.ONLINE && doc.phase == DocPhase.UNSUBSCRIBED) {
      subscribe(doc);
    }
  }

  /**
   * Stops following a document: UNSUBSCRIBE if subscribed, and its requests in flight are forgotten
   * (their acks change nothing; unacknowledged entries stay in the stored outbox and go out again
   * when the document is reopened).
   */
  void closeDocument(String documentId) {
    SessionDoc doc = docs.remove(documentId);
    if (doc == null) {
      return;
    }
    if (phase == Phase.ONLINE && doc.phase != DocPhase.UNSUBSCRIBED) {
      long requestId = nextRequestId++;
      requests.put(requestId, new Request(documentId, Request.Kind.UNSUBSCRIBE, List.of(), null));
      transport.send(generation, new Unsubscribe(requestId, documentId));
    }
  }

  /** Something may be ready to send: a local edit, a presence change. */
  void kick() {
    pump();
  }

  /** Sends the document's presence now if online (after a local change of it). */
  void presenceChanged(String documentId) {
    SessionDoc doc = docs.get(documentId);
    if (doc != null && phase == Phase.ONLINE && doc.phase == DocPhase.SYNCED) {
      sendPresence(doc, true);
    }
  }

  /** Stops for good: sends nothing more and closes the connection with 1000. */
  void close() {
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
    statusSink.accept(ConnectionStatus.of(State.OFFLINE, "client closed", 0));
  }

  // ------------------------------------------------------------------ connection events

  void onOpen(long gen) {
    if (gen != generation || phase != Phase.CONNECTING) {
      return;
    }
    phase = Phase.HANDSHAKE;
    helloSentNanos = nanoTime.getAsLong();
    helloSentWall = clockSync.wallMillis();
    String credentials;
    try {
      credentials = config.credentials().get();
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "the credentials supplier threw; connecting without credentials", e);
      credentials = null;
    }
    transport.send(
        gen,
        new Hello(
            ProtocolVersion.MIN,
            config.maxProtocolVersion(),
            me,
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

  void onClosed(long gen, int code, String reason) {
    if (gen != generation
        || phase == Phase.CLOSED
        || phase == Phase.OFFLINE
        || phase == Phase.WAITING) {
      return;
    }
    boolean wasOnline = phase == Phase.ONLINE;
    forgetConnection();
    String why = reason == null || reason.isEmpty() ? lastErrorText : reason;
    String text = CloseCodes.name(code) + " (" + code + ")" + (why == null ? "" : ": " + why);
    lastErrorText = null;
    if (!CloseCodes.shouldReconnect(code)) {
      phase = Phase.OFFLINE;
      LOG.log(Level.WARNING, "Lattice server closed the connection for good: " + text);
      statusSink.accept(ConnectionStatus.of(State.FAILED, text, code));
      return;
    }
    phase = Phase.WAITING;
    boolean later = code == CloseCodes.TRY_AGAIN_LATER || code == CloseCodes.RATE_LIMITED;
    long delay =
        later ? config.backoff().laterDelayMillis(attempt) : config.backoff().delayMillis(attempt);
    attempt = Math.min(attempt + 1, 30);
    LOG.log(
        wasOnline ? Level.INFO : Level.DEBUG,
        "Lattice connection lost (" + text + "); reconnecting in " + delay + " ms");
    statusSink.accept(ConnectionStatus.of(State.CONNECTING, text, code));
    reconnectTimer = scheduler.schedule(this::reconnect, delay);
  }

  /**
   * The server answered the WebSocket upgrade with {@code httpStatus} instead of 101. A status that
   * retrying cannot change (a wrong path, missing or refused credentials) stops the client with
   * {@link State#FAILED}; overload and gateway statuses are retried like a lost connection.
   */
  void onHandshakeRefused(long gen, int httpStatus, String uri) {
    if (gen != generation || phase != Phase.CONNECTING) {
      return;
    }
    String text = "HTTP " + httpStatus + httpMeaning(httpStatus) + " from " + uri;
    if (httpStatusIsRetryable(httpStatus)) {
      onClosed(gen, ABNORMAL, "the WebSocket upgrade was refused with " + text);
      return;
    }
    forgetConnection();
    phase = Phase.OFFLINE;
    String reason = "the server refused the WebSocket upgrade with " + text + "; not retrying";
    LOG.log(Level.WARNING, "Lattice: " + reason);
    statusSink.accept(ConnectionStatus.ofHttp(State.FAILED, reason, httpStatus));
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

  void onMessage(long gen, Message message) {
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
    statusSink.accept(ConnectionStatus.of(State.CONNECTING, null, 0));
    transport.connect(generation);
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
    statusSink.accept(ConnectionStatus.of(State.ONLINE, "session " + welcome.sessionId(), 0));
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
    long requestId = nextRequestId++;
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
    doc.state.mergeRemote(sync.delta());
    doc.state.markSynced();
    doc.phase = DocPhase.SYNCED;
    DocumentDelta lacking = doc.state.catchUp(sync.vector());
    if (!lacking.isEmpty()) {
      try {
        DeltaChunks.Split split = DeltaChunks.forUpdates(sync.documentId(), lacking, maxFrameBytes);
        doc.catchUp.addAll(split.parts());
        doc.catchUpContext = split.whole() ? null : split.context();
      } catch (IllegalArgumentException e) {
        // A field no frame can carry: the server cannot take it from us, nor could anyone.
        LOG.log(Level.WARNING, "document '" + sync.documentId() + "': " + e.getMessage());
      }
    }
    sendPresence(doc, false);
    pump();
  }

  private void onFanOut(Update update) {
    SessionDoc doc = docs.get(update.documentId());
    if (doc == null) {
      return;
    }
    if (update.requestId().isPresent()) {
      LOG.log(Level.DEBUG, "an UPDATE from the server carried a request id; merged anyway");
    }
    doc.state.mergeRemote(update.delta());
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
    }
    if (doc != null && request.kind() == Request.Kind.CATCH_UP) {
      doc.catchUpInFlight--;
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
    UpdateRejectedException failure =
        new UpdateRejectedException(error.code(), error.message(), request.documentId());
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
          holdRetries();
        } else if (request.entryIds().size() > 1) {
          // One entry of the batch spoiled it for all: send each alone to find which.
          doc.state.markSolo(request.entryIds());
        } else {
          LOG.log(Level.WARNING, failure.getMessage());
          doc.state.rejected(request.entryIds().get(0), failure);
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
          holdRetries();
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

  private void resubscribe(SessionDoc doc) {
    if (phase == Phase.ONLINE && doc.phase == DocPhase.UNSUBSCRIBED) {
      subscribe(doc);
    }
  }

  private void holdRetries() {
    long delay = config.backoff().delayMillis(retryAttempt);
    retryAttempt = Math.min(retryAttempt + 1, 30);
    holding = true;
    retryHoldUntilNanos = nanoTime.getAsLong() + delay * 1_000_000L;
  }

  private long holdMillis() {
    return Math.max(0, (retryHoldUntilNanos - nanoTime.getAsLong()) / 1_000_000L);
  }

  // ------------------------------------------------------------------ sending updates

  /** Sends what is ready, within the in-flight bound, the rate and the retry hold. */
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
        long requestId = nextRequestId++;
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
          requests.put(requestId, new Request(doc.state.id, Request.Kind.UPDATE, ids, null));
          Optional<OwnUpdate> own =
              version >= 2 && batch.size() == 1 && doc.alias >= 0
                  ? OwnUpdate.of(requestId, doc.alias, me, joined)
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
   * The next outbox entries to send as one UPDATE: in order, as many as fit one frame (and {@link
   * Config#maxEntriesPerUpdate}), a solo entry alone.
   */
  private List<OutboxEntry> batch(SessionDoc doc) {
    List<OutboxEntry> unsent = doc.state.unsent(doc.inFlight);
    if (unsent.isEmpty()) {
      return List.of();
    }
    List<OutboxEntry> batch = new ArrayList<>();
    DocumentDelta joined = DocumentDelta.empty();
    for (OutboxEntry entry : unsent) {
      boolean solo = doc.state.isSolo(entry.entryId());
      if (!batch.isEmpty() && (solo || batch.size() >= config.maxEntriesPerUpdate())) {
        break;
      }
      DocumentDelta candidate;
      try {
        candidate = joined.join(entry.delta());
      } catch (RuntimeException e) {
        // Two entries gave one field different types (possible only around a refused edit).
        break;
      }
      if (!batch.isEmpty() && frameBytes(doc.state.id, candidate) > maxFrameBytes) {
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
            ? Presence.leave(doc.state.id, me)
            : new Presence(doc.state.id, me, presenceTtlMillis, mine));
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
      doc.state.forgetOthers();
    }
    nextRequestId = 1;
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

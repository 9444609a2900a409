package dev.lattice.server.session;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.codec.CrdtCodecs;
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
import dev.lattice.protocol.ProtocolException;
import dev.lattice.protocol.ProtocolVersion;
import dev.lattice.protocol.Subscribe;
import dev.lattice.protocol.Sync;
import dev.lattice.protocol.TokenBucket;
import dev.lattice.protocol.Unsubscribe;
import dev.lattice.protocol.Update;
import dev.lattice.protocol.Welcome;
import dev.lattice.server.auth.ReplicaOwners;
import dev.lattice.server.hub.Connection;
import dev.lattice.server.hub.FanOut;
import dev.lattice.server.hub.Hub;
import dev.lattice.server.hub.HubException;
import dev.lattice.server.spi.Access;
import dev.lattice.server.spi.AuthResult;
import dev.lattice.server.spi.Authenticator;
import dev.lattice.server.spi.Authorizer;
import dev.lattice.server.spi.Principal;
import dev.lattice.server.spi.SessionConfig;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Set;
import java.util.SortedMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The server side of one client connection, as a state machine without I/O (docs/PROTOCOL.md): it
 * takes frames ({@link #onFrame}, {@link #onText}), the end of the connection ({@link #onClosed})
 * and timer callbacks in; it hands frames and a close to its {@link SessionTransport}, requests to
 * the {@link Hub}, and timers to its {@link SessionScheduler}. Created by {@link SessionFactory}.
 *
 * <p>What it enforces: HELLO first, version negotiation (up to {@link
 * SessionConfig#maxProtocolVersion()}; frames are decoded by the rules of the negotiated version,
 * and version 2's UPDATE_OWN is resolved through the connection's document aliases into the UPDATE
 * it stands for), authentication (the upgrade's token check, or the {@link Authenticator} on
 * HELLO's credentials; while its answer is pending nothing is read and HELLO is not answered, for
 * at most the idle timeout), the replica's owner (an authenticated subject may only use a replica
 * id that no other subject claimed first, see {@link ReplicaOwners}: REPLICA_OWNED and close 4008
 * otherwise), the principal's rights (the {@link Authorizer} on every SUBSCRIBE, UPDATE and
 * PRESENCE: FORBIDDEN otherwise), the token's expiry (ERROR TOKEN_EXPIRED and close 4007 when it
 * passes, on the shared timer), documents per connection, the UPDATE rate (a token bucket; {@link
 * SessionConfig#rateLimitCloseThreshold()} refusals in a row close with 4005), presence size and
 * TTL cap, unique outstanding request ids, the idle timeout (a PING at half of it, close 4004 at
 * the full), and back-pressure: with {@link SessionConfig#maxPendingUpdates()} UPDATEs awaiting
 * replies it asks the transport to stop reading until half are answered. Replies to UPDATEs (ACK or
 * ERROR) leave in the order of the UPDATEs, whatever order the hub completes them in.
 *
 * <p>Thread-safety: every input (a frame, a hub future completing, a timer firing, the close) is a
 * task on one {@link InlineSerialExecutor}, which runs them one at a time, in order, on the calling
 * thread; all session state is confined to it, so it needs no lock. Hub calls are made from those
 * tasks but no lock is held across them, so a hub that completes futures inline or calls {@link
 * #send} from any thread cannot deadlock with the session. Output goes through one small lock that
 * guards only the closed flag and {@link SessionTransport#sendFrame}, which never blocks. {@link
 * #send}, {@link #id} and {@link #replicaId} may be called from any thread.
 */
public final class ServerSession implements Connection {

  private static final System.Logger LOG = System.getLogger(ServerSession.class.getName());
  private static final int MAX_CLOSE_REASON_BYTES = 123;
  private static final int MAX_ERROR_TEXT_CHARS = 1024;

  /** Frames held while HELLO's authentication is pending; reading is paused meanwhile. */
  private static final int MAX_HELD_FRAMES = 64;

  private static final Duration MAX_EXPIRY_TIMER = Duration.ofDays(1);

  /** The close code of a connection that ended without one known (RFC 6455 "no status"). */
  private static final int NO_STATUS = 1005;

  private enum Phase {
    AWAITING_HELLO,
    AUTHENTICATING,
    OPEN,
    CLOSED
  }

  // The number of the id s-<n>; the string is made when asked (logs, hooks, WELCOME), not kept
  // on every idle connection.
  private final long number;
  private final SessionTransport transport;
  private final Hub hub;
  private final SessionConfig config;
  private final Authenticator authenticator;
  private final Authorizer authorizer;
  private final ReplicaOwners replicaOwners;
  private final Clock wallClock;
  // The upgrade request's token check, or null when the upgrade carried no token.
  private final CompletionStage<AuthResult> upgradeAuth;
  private final SessionHooks hooks;
  // The upgrade's token, for the hooks' authentication; dropped once HELLO is answered.
  private Optional<String> upgradeToken;
  private final HybridLogicalClock clock;
  private final ReplicaId serverId;
  private final LongSupplier nanoTime;
  private final SessionScheduler scheduler;
  private final MessageCodec codec;
  private final CrdtCodecs crdtCodecs;
  private final InlineSerialExecutor serial;

  // Set once, on the serial executor, before the hub first sees this connection.
  private volatile ReplicaId replicaId;
  private volatile Principal principal;

  // ---- state confined to the serial executor
  // The collections are made when first needed, and the transient ones dropped again once empty:
  // an idle connection is most of a server's connections, and eagerly made sets, maps and a deque
  // cost each one about 1 KiB of heap holding nothing.
  private Phase phase = Phase.AWAITING_HELLO;
  private Set<String> confirmed = Set.of(); // a subscribe succeeded; immutable, replaced
  private Map<String, Integer> subscribing; // outstanding SUBSCRIBEs; null while none
  private int version = ProtocolVersion.MIN; // the negotiated version, from HELLO on
  // Version 2 document aliases and their inverse; made at the first alias (two empty HashMaps
  // still cost every connection about 100 bytes).
  private Map<Integer, String> aliases = Map.of();
  private Map<String, Integer> aliasOf = Map.of();

  /**
   * The documents subscribed or being subscribed. {@link #send} reads it from hub threads too:
   * fan-out and presence the hub queued before it saw an UNSUBSCRIBE are dropped instead of
   * reaching a client that no longer follows the document. An immutable set, replaced (only on the
   * serial executor) when a document is followed or left: that is rare, and a set of one document
   * costs a few bytes where a HashSet and a concurrent copy of it cost about 300.
   */
  private volatile Set<String> following = Set.of();

  private Set<Long> outstanding; // request ids awaiting the hub; null while none
  private ArrayDeque<PendingReply> updateReplies; // null while none is pending
  private boolean readingPaused;
  // Made, full, at the first UPDATE: the state a bucket made at connect would be in by then.
  private TokenBucket updateBucket;
  /*
   * RATE_LIMITED refusals the connection may still receive before it is closed with 4005: the
   * threshold, forgiven at the update rate. A count of refusals "in a row" never bit, as every
   * refilled token let one update through and reset it (690 updates/s against 5/s ran forever).
   */
  private TokenBucket refusalBucket;
  // Every SUBSCRIBE walks the whole document to find what the client lacks.
  private TokenBucket catchUpBucket;

  /** Length of the frame being handled, for checks that only large frames need. */
  private int receivingFrameBytes;

  private long lastReceivedNanos;
  private boolean idlePingSent;
  private long pingNonce;
  private SessionScheduler.Cancellable idleTimer;
  private SessionScheduler.Cancellable expiryTimer;
  private SessionScheduler.Cancellable rightsTimer; // armed while there are subscriptions
  private ArrayDeque<byte[]> heldFrames; // frames that came while AUTHENTICATING; null if none
  private boolean disconnected;
  // HELLO's replica, once the hooks were told of it, until they are told of the end.
  private ReplicaId hookedReplica;
  // The first close known (the session's own, the transport's, or the peer's); null reason until.
  private int closeCode = NO_STATUS;
  private String closeReason;

  private final SessionObserver observer;
  private final SortedMap<String, Long> welcomeLimits;

  // ---- output: guarded by outLock
  private final Object outLock = new Object();
  private volatile boolean outClosed;

  ServerSession(
      long number,
      SessionTransport transport,
      Hub hub,
      SessionConfig config,
      Authenticator authenticator,
      Authorizer authorizer,
      ReplicaOwners replicaOwners,
      Clock wallClock,
      CompletionStage<AuthResult> upgradeAuth,
      Optional<String> upgradeToken,
      SessionHooks hooks,
      HybridLogicalClock clock,
      ReplicaId serverId,
      LongSupplier nanoTime,
      SessionScheduler scheduler,
      SessionObserver observer,
      SortedMap<String, Long> welcomeLimits) {
    this.number = number;
    this.observer = observer;
    this.welcomeLimits = welcomeLimits;
    this.transport = transport;
    this.hub = hub;
    this.config = config;
    this.authenticator = authenticator;
    this.authorizer = authorizer;
    this.replicaOwners = replicaOwners;
    this.wallClock = wallClock;
    this.upgradeAuth = upgradeAuth;
    this.upgradeToken = upgradeToken;
    this.hooks = hooks;
    this.clock = clock;
    this.serverId = serverId;
    this.nanoTime = nanoTime;
    this.scheduler = scheduler;
    this.codec = config.codec();
    this.crdtCodecs = config.crdtCodecs();
    this.serial = new InlineSerialExecutor((thread, e) -> internalFailure(e));
    this.lastReceivedNanos = nanoTime.getAsLong();
  }

  /** Starts the idle timer; called once by the factory, after construction. */
  void start() {
    serial.execute(() -> scheduleIdleCheck(config.idleTimeout().toNanos()));
  }

  // ------------------------------------------------------------------ Connection

  @Override
  public String id() {
    return "s-" + number;
  }

  /** The client's replica id; {@code null} until HELLO was accepted. */
  @Override
  public ReplicaId replicaId() {
    return replicaId;
  }

  /**
   * Who the client authenticated as (its token's subject and rights); {@code null} until HELLO was
   * accepted. The replica id is bound to its {@link Principal#subject()} before WELCOME (see {@link
   * ReplicaOwners}).
   */
  public Principal principal() {
    return principal;
  }

  /**
   * Encodes {@code message} and hands it to the transport; drops it silently once the session is
   * closed. A message that cannot be encoded within the limits closes the session with 1011 (the
   * client reconnects and catches up). Thread-safe, never blocks.
   */
  @Override
  public void send(Message message) {
    if (outClosed || !followed(message)) {
      return;
    }
    List<byte[]> frames;
    try {
      frames = encode(message);
    } catch (IllegalArgumentException e) {
      cannotEncode(message, e);
      return;
    }
    emit(message, frames);
  }

  /**
   * {@link #send} for a round's fan-out: the frames are encoded by the first session that asks and
   * shared by every session of the config (they share its {@link SessionConfig#codec()} and
   * limits), so a round costs one encode however many subscribers it reaches.
   */
  @Override
  public void sendFanOut(FanOut fanOut) {
    Update update = fanOut.update();
    if (outClosed || !following.contains(update.documentId())) {
      return;
    }
    List<byte[]> frames;
    try {
      frames = fanOut.frames(codec, this::encode);
    } catch (IllegalArgumentException e) {
      cannotEncode(update, e);
      return;
    }
    emit(update, frames);
  }

  private void cannotEncode(Message message, IllegalArgumentException e) {
    LOG.log(System.Logger.Level.WARNING, "session " + id() + ": cannot encode " + message, e);
    serial.execute(() -> close(CloseCodes.INTERNAL_ERROR, "could not encode a message"));
  }

  private void emit(Message message, List<byte[]> frames) {
    synchronized (outLock) {
      if (!outClosed) {
        // Counted before the hand-off: once the peer has the frame, the metrics already show it.
        if (message instanceof ErrorMessage error) {
          observer.errorSent(error.code());
        }
        for (byte[] frame : frames) {
          observer.frameSent(frame.length);
          transport.sendFrame(frame);
        }
      }
    }
  }

  /**
   * One frame, or, for a SYNC or fan-out UPDATE too large for {@code maxFrameBytes} (a big
   * document's catch-up, a large server-side edit), its delta in parts sent as fan-out UPDATEs
   * followed by the SYNC or UPDATE carrying only the whole context: frames arrive in order, so the
   * client claims the context only once it holds every part (see {@link DeltaChunks}).
   */
  private List<byte[]> encode(Message message) {
    try {
      return List.of(codec.encode(message));
    } catch (IllegalArgumentException tooLarge) {
      String documentId;
      DocumentDelta delta;
      if (message instanceof Sync sync) {
        documentId = sync.documentId();
        delta = sync.delta();
      } else if (message instanceof Update update && update.requestId().isEmpty()) {
        documentId = update.documentId();
        delta = update.delta();
      } else {
        throw tooLarge;
      }
      DeltaChunks.Split split =
          DeltaChunks.forFanOut(documentId, delta, config.protocolLimits().maxFrameBytes());
      if (!split.skipped().isEmpty()) {
        // Closing instead (1011) made the client reconnect into the same catch-up forever.
        LOG.log(
            System.Logger.Level.WARNING,
            "session "
                + id()
                + ": fields "
                + split.skipped()
                + " of document "
                + documentId
                + " cannot fit a frame of maxFrameBytes and were left out (the client is not"
                + " told it holds them)");
      }
      // A delta that fits an UPDATE frame whole but not a SYNC (which carries the server's vector
      // too) goes as that one part: closing instead would make the client reconnect into the
      // same SYNC forever.
      if (split.whole() && (message instanceof Update || delta.isEmpty())) {
        throw tooLarge;
      }
      List<byte[]> frames = new ArrayList<>(split.parts().size() + 1);
      for (DocumentDelta part : split.parts()) {
        frames.add(codec.encode(Update.fanOut(documentId, part)));
      }
      DocumentDelta context =
          DocumentDelta.of(split.whole() ? delta.context() : split.context(), Map.of());
      frames.add(
          codec.encode(
              message instanceof Sync sync
                  ? new Sync(sync.requestId(), documentId, context, sync.vector())
                  : Update.fanOut(documentId, context)));
      return frames;
    }
  }

  /** False for fan-out and presence of a document this session no longer follows. */
  private boolean followed(Message message) {
    if (message instanceof Update update && update.requestId().isEmpty()) {
      return following.contains(update.documentId());
    }
    if (message instanceof Presence presence) {
      return following.contains(presence.documentId());
    }
    return true;
  }

  // ------------------------------------------------------------------ inputs

  /** One binary frame from the client. Call from one thread at a time, in arrival order. */
  public void onFrame(byte[] frame) {
    observer.frameReceived(frame.length);
    serial.execute(() -> receive(frame));
  }

  /** A text frame from the client: not part of the protocol, closes with 4000. */
  public void onText() {
    serial.execute(
        () -> {
          if (phase != Phase.CLOSED) {
            close(CloseCodes.MALFORMED_FRAME, "text frames are not part of the protocol");
          }
        });
  }

  /**
   * The connection ended, whoever closed it, with no close code known (1005). See {@link
   * #onClosed(int, String)}.
   */
  public void onClosed() {
    onClosed(NO_STATUS, "");
  }

  /**
   * The connection ended with close {@code code} and {@code reason}: the close frame received from
   * the peer, or the one the transport sent. Disconnects from the hub (once, however often this is
   * called); later output is dropped. The first close the session learns of (its own included) is
   * the one reported to the hooks.
   */
  public void onClosed(int code, String reason) {
    serial.execute(
        () -> {
          phase = Phase.CLOSED;
          closeKnown(code, reason);
          shutDown();
        });
  }

  private void closeKnown(int code, String reason) {
    if (closeReason == null) {
      closeCode = code;
      closeReason = reason == null ? "" : reason;
    }
  }

  // ------------------------------------------------------------------ dispatch

  private void receive(byte[] frame) {
    if (phase == Phase.CLOSED) {
      return;
    }
    if (phase == Phase.AUTHENTICATING) {
      hold(frame);
      return;
    }
    lastReceivedNanos = nanoTime.getAsLong();
    idlePingSent = false;
    receivingFrameBytes = frame.length;
    Message message;
    try {
      message = codec.decode(frame, version);
    } catch (ProtocolException e) {
      if (e.code() == ErrorCode.FRAME_TOO_LARGE) {
        refuse(OptionalLong.empty(), e.code(), e.getMessage(), CloseCodes.TOO_BIG);
      } else {
        refuse(OptionalLong.empty(), e.code(), e.getMessage(), CloseCodes.MALFORMED_FRAME);
      }
      return;
    }
    if (message instanceof Hello hello) {
      onHello(hello);
      return;
    }
    if (phase == Phase.AWAITING_HELLO) {
      refuse(
          OptionalLong.empty(),
          ErrorCode.HELLO_REQUIRED,
          "expected HELLO first, got " + message.messageType(),
          CloseCodes.MALFORMED_FRAME);
      return;
    }
    if (message instanceof Subscribe subscribe) {
      onSubscribe(subscribe);
    } else if (message instanceof Update update) {
      onUpdate(update);
    } else if (message instanceof OwnUpdate own) {
      onOwnUpdate(own);
    } else if (message instanceof Unsubscribe unsubscribe) {
      onUnsubscribe(unsubscribe);
    } else if (message instanceof Presence presence) {
      onPresence(presence);
    } else if (message instanceof Ping ping) {
      // The physical reading, not the HLC: a client's timestamp within the drift bound moves the
      // HLC ahead, and other clients estimating their offset from it would take on that drag.
      send(new Pong(ping.nonce(), clock.physicalTime()));
    } else if (message instanceof Pong) {
      // Liveness only: receiving it already reset the idle timer.
    } else {
      refuse(
          OptionalLong.empty(),
          ErrorCode.MALFORMED_MESSAGE,
          message.messageType() + " is sent by the server only",
          CloseCodes.MALFORMED_FRAME);
    }
  }

  // ------------------------------------------------------------------ handshake

  private void onHello(Hello hello) {
    if (phase != Phase.AWAITING_HELLO) {
      refuse(
          OptionalLong.empty(),
          ErrorCode.MALFORMED_MESSAGE,
          "a second HELLO on the connection",
          CloseCodes.MALFORMED_FRAME);
      return;
    }
    OptionalInt negotiated =
        ProtocolVersion.negotiate(
            hello.minVersion(),
            hello.maxVersion(),
            ProtocolVersion.MIN,
            config.maxProtocolVersion());
    if (negotiated.isEmpty()) {
      refuse(
          OptionalLong.empty(),
          ErrorCode.UNSUPPORTED_VERSION,
          "the client speaks versions "
              + hello.minVersion()
              + " to "
              + hello.maxVersion()
              + ", the server "
              + ProtocolVersion.MIN
              + " to "
              + config.maxProtocolVersion(),
          CloseCodes.UNSUPPORTED_VERSION);
      return;
    }
    // The upgrade's token, when it carried one, decides; else HELLO's credentials.
    CompletableFuture<AuthResult> auth;
    if (hooks == SessionHooks.NONE) {
      auth = authenticate(hello);
    } else {
      auth = hookedAuthentication(hello, negotiated.getAsInt());
    }
    int negotiatedVersion = negotiated.getAsInt();
    CompletableFuture<AuthResult> checked = auth;
    whenDone(checked, () -> authenticated(hello, negotiatedVersion, checked));
  }

  /**
   * Runs {@code then} once {@code step} (a token check, a replica claim) completes: at once if it
   * has, else on the serial executor, with nothing read meanwhile (frames already on their way are
   * held, then replayed).
   */
  private void whenDone(CompletableFuture<?> step, Runnable then) {
    if (step.isDone()) {
      then.run();
      return;
    }
    phase = Phase.AUTHENTICATING;
    transport.pauseReading();
    step.whenComplete(
        (result, failure) ->
            serial.execute(
                () -> {
                  if (phase != Phase.AUTHENTICATING) {
                    return; // closed meanwhile
                  }
                  transport.resumeReading();
                  then.run();
                  replayHeldFrames();
                }));
  }

  private CompletableFuture<AuthResult> authenticate(Hello hello) {
    try {
      CompletionStage<AuthResult> stage =
          upgradeAuth != null ? upgradeAuth : authenticator.authenticate(hello.credentials());
      return stage.toCompletableFuture();
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * The hooks' connect check, then the authenticator, then the hooks' say on its principal: each
   * waits for the one before, and any refusal ends the chain.
   */
  private CompletableFuture<AuthResult> hookedAuthentication(Hello hello, int negotiatedVersion) {
    ReplicaId replica = hello.replicaId();
    hookedReplica = replica;
    Optional<String> token = upgradeToken != null ? upgradeToken : hello.credentials();
    upgradeToken = null;
    CompletableFuture<Void> connected;
    try {
      connected = hooks.connecting(id(), replica, negotiatedVersion).toCompletableFuture();
    } catch (RuntimeException e) {
      connected = CompletableFuture.failedFuture(e);
    }
    return connected
        .handle(
            (ignored, failure) -> {
              if (failure == null) {
                return authenticate(hello);
              }
              // The hooks logged why; this only ties it to the session.
              LOG.log(
                  System.Logger.Level.DEBUG,
                  "session " + id() + ": an extension refused the connection",
                  failure);
              return CompletableFuture.completedFuture(
                  AuthResult.refused("the server refused the connection"));
            })
        .thenCompose(stage -> stage)
        .thenCompose(
            result -> {
              if (!(result instanceof AuthResult.Granted granted)) {
                return CompletableFuture.completedFuture(result);
              }
              try {
                return hooks
                    .authenticated(id(), replica, token, granted.principal())
                    .toCompletableFuture();
              } catch (RuntimeException e) {
                return CompletableFuture.failedFuture(e);
              }
            });
  }

  private void authenticated(
      Hello hello, int negotiatedVersion, CompletableFuture<AuthResult> auth) {
    AuthResult result;
    try {
      result = auth.join();
    } catch (CompletionException | java.util.concurrent.CancellationException e) {
      LOG.log(System.Logger.Level.WARNING, "session " + id() + ": the authenticator failed", e);
      result = AuthResult.refused("the credentials could not be checked");
    }
    if (result == null) {
      result = AuthResult.refused("the credentials could not be checked");
    }
    if (result instanceof AuthResult.Refused refused) {
      refuse(
          OptionalLong.empty(),
          ErrorCode.UNAUTHORIZED,
          "credentials refused: " + refused.reason(),
          CloseCodes.UNAUTHORIZED);
      return;
    }
    Principal granted = ((AuthResult.Granted) result).principal();
    Optional<java.time.Instant> expiresAt = granted.expiresAt();
    if (expiresAt.isPresent() && !wallClock.instant().isBefore(expiresAt.get())) {
      tokenExpired();
      return;
    }
    if (granted == Principal.anonymous()) {
      open(hello, negotiatedVersion, granted);
      return;
    }
    CompletableFuture<String> claim;
    try {
      claim = replicaOwners.claim(hello.replicaId(), granted.subject()).toCompletableFuture();
    } catch (RuntimeException e) {
      claim = CompletableFuture.failedFuture(e);
    }
    CompletableFuture<String> owner = claim;
    whenDone(owner, () -> claimed(hello, negotiatedVersion, granted, owner));
  }

  /** HELLO's replica id was claimed for {@code granted}'s subject: open, unless another owns it. */
  private void claimed(
      Hello hello, int negotiatedVersion, Principal granted, CompletableFuture<String> claim) {
    String owner;
    try {
      owner = Objects.requireNonNull(claim.join(), "the replica owners answered null");
    } catch (RuntimeException e) {
      LOG.log(
          System.Logger.Level.WARNING,
          "session " + id() + ": cannot record the owner of replica " + hello.replicaId(),
          e);
      refuse(
          OptionalLong.empty(),
          ErrorCode.INTERNAL,
          "the server failed; the request may be retried",
          CloseCodes.INTERNAL_ERROR);
      return;
    }
    if (!granted.subject().equals(owner)) {
      // The owner's subject stays in the server's log: it names another user.
      LOG.log(
          System.Logger.Level.INFO,
          "session "
              + id()
              + ": subject "
              + granted.subject()
              + " named replica "
              + hello.replicaId()
              + ", which "
              + owner
              + " owns");
      refuse(
          OptionalLong.empty(),
          ErrorCode.REPLICA_OWNED,
          "replica "
              + hello.replicaId()
              + " belongs to another subject; take a fresh replica id and reconnect",
          CloseCodes.REPLICA_OWNED);
      return;
    }
    open(hello, negotiatedVersion, granted);
  }

  private void open(Hello hello, int negotiatedVersion, Principal granted) {
    Optional<java.time.Instant> expiresAt = granted.expiresAt();
    principal = granted;
    replicaId = hello.replicaId();
    version = negotiatedVersion;
    phase = Phase.OPEN;
    if (expiresAt.isPresent()) {
      armExpiry(wallClock.instant(), expiresAt.get());
    }
    // Before WELCOME the timer waited for the full timeout; from now on it PINGs at half.
    if (idleTimer != null) {
      idleTimer.cancel();
    }
    scheduleIdleCheck(config.idleTimeout().toNanos() / 2);
    send(Welcome.of(version, serverId, clock.physicalTime(), welcomeLimits, id()));
  }

  private void hold(byte[] frame) {
    if (heldFrames == null) {
      heldFrames = new ArrayDeque<>(2);
    }
    if (heldFrames.size() >= MAX_HELD_FRAMES) {
      // Reading is paused, so only frames already in flight arrive; more is a client ignoring it.
      refuse(
          OptionalLong.empty(),
          ErrorCode.MALFORMED_MESSAGE,
          "more than " + MAX_HELD_FRAMES + " frames before WELCOME",
          CloseCodes.MALFORMED_FRAME);
      return;
    }
    heldFrames.add(frame);
  }

  private void replayHeldFrames() {
    ArrayDeque<byte[]> held = heldFrames;
    heldFrames = null;
    while (held != null && !held.isEmpty() && phase != Phase.CLOSED) {
      receive(held.poll());
    }
  }

  /** The expiry timer: a wheel may fire up to a tick late, never early; re-arm if it did. */
  private void expiryCheck() {
    if (phase == Phase.CLOSED || principal == null) {
      return;
    }
    java.time.Instant expiresAt = principal.expiresAt().orElseThrow();
    java.time.Instant now = wallClock.instant();
    if (now.isBefore(expiresAt)) {
      armExpiry(now, expiresAt);
      return;
    }
    tokenExpired();
  }

  /**
   * Arms the expiry check, at most {@link #MAX_EXPIRY_TIMER} ahead (a far expiry is re-armed from
   * there), so an expiry centuries away cannot overflow a nanosecond delay.
   */
  private void armExpiry(java.time.Instant now, java.time.Instant expiresAt) {
    Duration left = Duration.between(now, expiresAt);
    long nanos = left.compareTo(MAX_EXPIRY_TIMER) > 0 ? MAX_EXPIRY_TIMER.toNanos() : left.toNanos();
    expiryTimer = scheduler.schedule(() -> serial.execute(this::expiryCheck), nanos);
  }

  private void tokenExpired() {
    refuse(
        OptionalLong.empty(),
        ErrorCode.TOKEN_EXPIRED,
        "the token expired; reconnect with a fresh one",
        CloseCodes.TOKEN_EXPIRED);
  }

  private boolean dependsOnlyOnPrincipal() {
    try {
      return authorizer.dependsOnlyOnPrincipal();
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** What the principal may do with {@code documentId}; a failing authorizer grants nothing. */
  private Access access(String documentId) {
    try {
      Access access = authorizer.access(principal, documentId);
      return access == null ? Access.NONE : access;
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "session " + id() + ": the authorizer failed", e);
      return Access.NONE;
    }
  }

  private void armRightsRecheck() {
    // Rights that depend only on the principal cannot change on an open connection: no timer.
    if (rightsTimer == null && !dependsOnlyOnPrincipal()) {
      rightsTimer =
          scheduler.schedule(
              () -> serial.execute(this::recheckRights), config.rightsRecheckInterval().toNanos());
    }
  }

  /**
   * Asks the authorizer again about every document the connection follows: fan-out needs no
   * request, so without this a revoked read right would go on receiving changes. A document no
   * longer readable gets ERROR FORBIDDEN (requestId nil) and its subscription ends, as after an
   * UNSUBSCRIBE. Re-armed while subscriptions remain.
   */
  private void recheckRights() {
    rightsTimer = null;
    if (phase != Phase.OPEN) {
      return;
    }
    for (String documentId : following) {
      // A SUBSCRIBE still on its way to the hub was checked as it came; it is asked next time.
      boolean pending = subscribing != null && subscribing.containsKey(documentId);
      if (!pending && !access(documentId).canRead()) {
        following = without(following, documentId);
        confirmed = without(confirmed, documentId);
        unbindAlias(documentId);
        hubQuietly(() -> hub.unsubscribe(this, documentId));
        send(
            error(
                OptionalLong.empty(),
                ErrorCode.FORBIDDEN,
                "the read right on document "
                    + documentId
                    + " was revoked; its subscription ended"));
      }
    }
    if (!following.isEmpty()) {
      armRightsRecheck();
    }
  }

  private static ErrorMessage forbidden(OptionalLong requestId, String right, String documentId) {
    return error(
        requestId, ErrorCode.FORBIDDEN, "no " + right + " right on document " + documentId);
  }

  // ------------------------------------------------------------------ documents

  private void onSubscribe(Subscribe subscribe) {
    long requestId = subscribe.requestId();
    String documentId = subscribe.documentId();
    if (isOutstanding(requestId)) {
      send(duplicate(requestId));
      return;
    }
    if (!access(documentId).canRead()) {
      send(forbidden(OptionalLong.of(requestId), "read", documentId));
      return;
    }
    // Only a version 2 decoder reads the alias; on version 1 it is always empty.
    OptionalInt alias = subscribe.alias();
    if (alias.isPresent()) {
      String holder = aliases.get(alias.getAsInt());
      if (holder != null && !holder.equals(documentId)) {
        send(
            error(
                OptionalLong.of(requestId),
                ErrorCode.ALIAS_IN_USE,
                "document alias "
                    + alias.getAsInt()
                    + " is in use by the subscription of document "
                    + holder));
        return;
      }
    }
    int documents = following.size();
    if (!isSubscribed(documentId) && documents >= config.maxDocumentsPerConnection()) {
      send(
          error(
              OptionalLong.of(requestId),
              ErrorCode.TOO_MANY_DOCUMENTS,
              "the connection already has "
                  + documents
                  + " documents (maxDocumentsPerConnection)"));
      return;
    }
    if (!catchUpBucket().tryAcquire(nanoTime.getAsLong())) {
      send(
          error(
              OptionalLong.of(requestId),
              ErrorCode.RATE_LIMITED,
              "more than "
                  + config.catchUpsPerMinute()
                  + " catch-ups (SUBSCRIBE) a minute (catchUpsPerMinute); retry in "
                  + catchUpBucket.millisToNextToken()
                  + " ms"));
      return;
    }
    following = with(following, documentId);
    armRightsRecheck();
    // A SUBSCRIBE of the document replaces its alias (with none, if it names none).
    unbindAlias(documentId);
    if (alias.isPresent()) {
      if (aliases.isEmpty()) {
        aliases = new HashMap<>(4);
        aliasOf = new HashMap<>(4);
      }
      aliases.put(alias.getAsInt(), documentId);
      aliasOf.put(documentId, alias.getAsInt());
    }
    if (subscribing == null) {
      subscribing = new HashMap<>(2);
    }
    subscribing.merge(documentId, 1, Integer::sum);
    addOutstanding(requestId);
    callHub(() -> hub.subscribe(this, documentId, subscribe.vector()))
        .whenComplete(
            (result, failure) ->
                serial.execute(() -> subscribed(requestId, documentId, result, failure)));
  }

  private void subscribed(
      long requestId, String documentId, Hub.SyncResult result, Throwable failure) {
    removeOutstanding(requestId);
    int left = subscribing.merge(documentId, -1, Integer::sum);
    if (left == 0) {
      subscribing.remove(documentId);
      if (subscribing.isEmpty()) {
        subscribing = null;
      }
    }
    if (phase == Phase.CLOSED) {
      if (failure == null && disconnected) {
        // The hub took the subscription after our disconnect: hand it back.
        hubQuietly(() -> hub.unsubscribe(this, documentId));
      }
      return;
    }
    if (failure != null || result.missing().isEmpty()) {
      // Only a SUBSCRIBE that sends the client something counts as a catch-up: a client re-
      // subscribing documents it is up to date with (every reconnect) does not use up the limit.
      catchUpBucket().refund();
    }
    if (failure == null) {
      if (isSubscribed(documentId)) {
        confirmed = with(confirmed, documentId);
      }
      send(new Sync(requestId, documentId, result.missing(), result.serverVector()));
    } else {
      if (left == 0 && !confirmed.contains(documentId)) {
        following = without(following, documentId);
        unbindAlias(documentId);
      }
      send(errorFor(requestId, failure));
    }
  }

  private void onUnsubscribe(Unsubscribe unsubscribe) {
    long requestId = unsubscribe.requestId();
    String documentId = unsubscribe.documentId();
    if (isOutstanding(requestId)) {
      send(duplicate(requestId));
      return;
    }
    if (!isSubscribed(documentId)) {
      send(notSubscribed(OptionalLong.of(requestId), documentId));
      return;
    }
    following = without(following, documentId);
    confirmed = without(confirmed, documentId);
    unbindAlias(documentId);
    try {
      hub.unsubscribe(this, documentId);
    } catch (RuntimeException e) {
      send(errorFor(requestId, e));
      return;
    }
    send(new Ack(requestId, documentId));
  }

  private void onUpdate(Update update) {
    if (update.requestId().isEmpty()) {
      refuse(
          OptionalLong.empty(),
          ErrorCode.MALFORMED_MESSAGE,
          "UPDATE.requestId: a client's UPDATE needs a request id, got nil",
          CloseCodes.MALFORMED_FRAME);
      return;
    }
    String documentId = update.documentId();
    applyUpdate(
        update.requestId().getAsLong(),
        documentId,
        isSubscribed(documentId) ? update.delta() : null,
        () -> notSubscribed(update.requestId(), documentId));
  }

  /**
   * Version 2's UPDATE_OWN: the UPDATE of the document its alias names, with the delta rebuilt for
   * this connection's replica. An alias of no current subscription is NOT_SUBSCRIBED, like an
   * UPDATE of a document not subscribed.
   */
  private void onOwnUpdate(OwnUpdate own) {
    String documentId = aliases.get(own.alias());
    applyUpdate(
        own.requestId(),
        documentId,
        documentId == null ? null : own.delta(replicaId),
        () ->
            error(
                OptionalLong.of(own.requestId()),
                ErrorCode.NOT_SUBSCRIBED,
                "no subscription has document alias " + own.alias()));
  }

  /**
   * Applies a client's update of {@code documentId}, a subscribed document, or answers {@code
   * notSubscribed} when {@code delta} is null; replies leave in request order.
   */
  private void applyUpdate(
      long requestId,
      String documentId,
      DocumentDelta delta,
      Supplier<ErrorMessage> notSubscribed) {
    PendingReply reply = new PendingReply();
    if (updateReplies == null) {
      updateReplies = new ArrayDeque<>(4);
    }
    updateReplies.add(reply);
    if (isOutstanding(requestId)) {
      reply.complete(duplicate(requestId));
    } else if (delta == null) {
      reply.complete(notSubscribed.get());
    } else if (!access(documentId).canWrite()) {
      // Refused before the rate limit and the hub: nothing of it is merged anywhere.
      reply.complete(forbidden(OptionalLong.of(requestId), "write", documentId));
    } else if (!updateBucket().tryAcquire(nanoTime.getAsLong())) {
      if (!refusalBucket().tryAcquire(nanoTime.getAsLong())) {
        close(
            CloseCodes.RATE_LIMITED,
            "more than "
                + config.rateLimitCloseThreshold()
                + " updates refused for the rate limit, forgiven at "
                + config.updatesPerSecond()
                + "/s");
        return;
      }
      reply.complete(
          error(
              OptionalLong.of(requestId),
              ErrorCode.RATE_LIMITED,
              "over "
                  + config.updatesPerSecond()
                  + " updates/s (burst "
                  + config.updateBurst()
                  + "); retry later"));
    } else if (unsendable(documentId, delta) != null) {
      reply.complete(
          error(
              OptionalLong.of(requestId),
              ErrorCode.FIELD_TOO_LARGE,
              "field '"
                  + unsendable(documentId, delta)
                  + "' of document "
                  + documentId
                  + " would not fit a fan-out UPDATE within maxFrameBytes "
                  + config.protocolLimits().maxFrameBytes()
                  + ", so it could never be sent back"));
    } else {
      addOutstanding(requestId);
      callHub(() -> hub.update(this, documentId, delta))
          .whenComplete(
              (ignored, failure) ->
                  serial.execute(
                      () -> {
                        removeOutstanding(requestId);
                        reply.complete(
                            failure == null
                                ? new Ack(requestId, documentId)
                                : errorFor(requestId, failure));
                        flushUpdateReplies();
                      }));
    }
    flushUpdateReplies();
    if (!readingPaused
        && updateReplies != null
        && updateReplies.size() >= config.maxPendingUpdates()) {
      readingPaused = true;
      transport.pauseReading();
    }
  }

  /**
   * Sends the completed replies at the head of the queue: UPDATE replies leave in request order.
   * Reading resumes once at most half of {@link SessionConfig#maxPendingUpdates()} are pending, so
   * a paused connection is not woken for every single reply.
   */
  private void flushUpdateReplies() {
    while (updateReplies != null
        && !updateReplies.isEmpty()
        && updateReplies.peek().message != null) {
      send(updateReplies.poll().message);
    }
    int pending = updateReplies == null ? 0 : updateReplies.size();
    if (readingPaused && phase != Phase.CLOSED && pending <= config.maxPendingUpdates() / 2) {
      readingPaused = false;
      transport.resumeReading();
    }
    if (updateReplies != null && updateReplies.isEmpty()) {
      updateReplies = null;
    }
  }

  /**
   * The field of a client's delta that no frame could carry back to other clients, or null. A frame
   * that fits in {@code maxFrameBytes} may still hold such a field: the fan-out and the catch-up
   * wrap it in the document id (UPDATE_OWN carries an alias) and give it a context of its own.
   * Accepting it would acknowledge a state that every later catch-up fails to deliver. Frames well
   * under the limit skip the exact check: one replica's part of one field adds at most a dot, a
   * replica id and a few headers (far less than the slack) to the frame's own delta.
   */
  private String unsendable(String documentId, DocumentDelta delta) {
    int maxFrameBytes = config.protocolLimits().maxFrameBytes();
    if ((long) receivingFrameBytes + DeltaChunks.fanOutOverheadBytes(documentId) + 256
        <= maxFrameBytes) {
      return null;
    }
    return DeltaChunks.unsendableField(documentId, delta, maxFrameBytes).orElse(null);
  }

  private TokenBucket catchUpBucket() {
    if (catchUpBucket == null) {
      catchUpBucket =
          TokenBucket.perPeriod(
              config.catchUpsPerMinute(),
              config.catchUpsPerMinute(),
              Duration.ofMinutes(1),
              nanoTime.getAsLong());
    }
    return catchUpBucket;
  }

  private TokenBucket refusalBucket() {
    if (refusalBucket == null) {
      refusalBucket =
          new TokenBucket(
              config.updatesPerSecond(), config.rateLimitCloseThreshold(), nanoTime.getAsLong());
    }
    return refusalBucket;
  }

  private TokenBucket updateBucket() {
    if (updateBucket == null) {
      updateBucket =
          new TokenBucket(config.updatesPerSecond(), config.updateBurst(), nanoTime.getAsLong());
    }
    return updateBucket;
  }

  private void onPresence(Presence presence) {
    String documentId = presence.documentId();
    if (!isSubscribed(documentId)) {
      send(notSubscribed(OptionalLong.empty(), documentId));
      return;
    }
    if (!access(documentId).canRead()) {
      send(forbidden(OptionalLong.empty(), "read", documentId));
      return;
    }
    Optional<Value> value = presence.value();
    if (value.isPresent()) {
      // The raw value, as on the wire: the payload without its three header bytes.
      int bytes = crdtCodecs.value().encode(value.get()).length - 3;
      if (bytes > config.maxPresenceBytes()) {
        send(
            error(
                OptionalLong.empty(),
                ErrorCode.PRESENCE_TOO_LARGE,
                "presence value of "
                    + bytes
                    + " bytes for document "
                    + documentId
                    + ", at most "
                    + config.maxPresenceBytes()
                    + " (maxPresenceBytes)"));
        return;
      }
    }
    Duration ttl =
        Duration.ofMillis(Math.min(presence.ttlMillis(), config.presenceTtl().toMillis()));
    try {
      hub.presence(this, documentId, value, ttl);
    } catch (RuntimeException e) {
      send(errorFor(OptionalLong.empty(), e));
    }
  }

  // ------------------------------------------------------------------ idle timeout

  private void scheduleIdleCheck(long delayNanos) {
    idleTimer = scheduler.schedule(() -> serial.execute(this::idleCheck), Math.max(0, delayNanos));
  }

  private void idleCheck() {
    if (phase == Phase.CLOSED) {
      return;
    }
    long timeout = config.idleTimeout().toNanos();
    long idle = nanoTime.getAsLong() - lastReceivedNanos;
    if (idle >= timeout) {
      close(CloseCodes.IDLE_TIMEOUT, "no frame for " + config.idleTimeout().toMillis() + " ms");
      return;
    }
    // Before WELCOME the server sends nothing but the refusal, so no PING then.
    if (phase == Phase.OPEN && !idlePingSent && idle >= timeout / 2) {
      idlePingSent = true;
      send(new Ping(++pingNonce, clock.physicalTime()));
    }
    long next = idlePingSent || phase != Phase.OPEN ? timeout : timeout / 2;
    scheduleIdleCheck(next - idle);
  }

  // ------------------------------------------------------------------ closing

  /** Sends ERROR (requestId, code, text), then closes with {@code closeCode}. */
  private void refuse(OptionalLong requestId, ErrorCode code, String text, int closeCode) {
    send(error(requestId, code, text));
    close(closeCode, code.name() + ": " + text);
  }

  private void close(int code, String reason) {
    if (phase == Phase.CLOSED && outClosed) {
      return;
    }
    phase = Phase.CLOSED;
    closeKnown(code, truncateUtf8(reason, MAX_CLOSE_REASON_BYTES));
    boolean wasOpen;
    synchronized (outLock) {
      wasOpen = !outClosed;
      outClosed = true;
    }
    if (wasOpen) {
      observer.closedByServer(code);
      transport.close(code, truncateUtf8(reason, MAX_CLOSE_REASON_BYTES));
    }
    shutDown();
  }

  /** Stops timers and output and, once, tells the hub; after this only late replies arrive. */
  private void shutDown() {
    synchronized (outLock) {
      outClosed = true;
    }
    if (idleTimer != null) {
      idleTimer.cancel();
      idleTimer = null;
    }
    if (expiryTimer != null) {
      expiryTimer.cancel();
      expiryTimer = null;
    }
    if (rightsTimer != null) {
      rightsTimer.cancel();
      rightsTimer = null;
    }
    heldFrames = null;
    updateReplies = null;
    if (replicaId != null && !disconnected) {
      disconnected = true;
      hubQuietly(() -> hub.disconnect(this));
    }
    if (hookedReplica != null) {
      ReplicaId replica = hookedReplica;
      hookedReplica = null; // told once
      try {
        hooks.disconnected(
            id(), replica, principal, closeCode, closeReason == null ? "" : closeReason);
      } catch (RuntimeException e) {
        LOG.log(System.Logger.Level.WARNING, "session " + id() + ": the disconnect hook threw", e);
      }
    }
  }

  private void internalFailure(Throwable e) {
    LOG.log(System.Logger.Level.ERROR, "session " + id() + " failed", e);
    close(CloseCodes.INTERNAL_ERROR, "internal error");
  }

  // ------------------------------------------------------------------ helpers

  private boolean isSubscribed(String documentId) {
    return following.contains(documentId);
  }

  private boolean isOutstanding(long requestId) {
    return outstanding != null && outstanding.contains(requestId);
  }

  private void addOutstanding(long requestId) {
    if (outstanding == null) {
      outstanding = new HashSet<>(2);
    }
    outstanding.add(requestId);
  }

  private void removeOutstanding(long requestId) {
    outstanding = removed(outstanding, requestId);
  }

  /** {@code set} without {@code value}; null once empty, so an emptied set is not kept. */
  private static <T> Set<T> removed(Set<T> set, T value) {
    if (set == null || !set.remove(value)) {
      return set;
    }
    return set.isEmpty() ? null : set;
  }

  /** The immutable {@code set} with {@code value}: {@code set} itself if it has it already. */
  private static Set<String> with(Set<String> set, String value) {
    if (set.contains(value)) {
      return set;
    }
    Set<String> next = new HashSet<>(set);
    next.add(value);
    return Set.copyOf(next);
  }

  /** The immutable {@code set} without {@code value}. */
  private static Set<String> without(Set<String> set, String value) {
    if (!set.contains(value)) {
      return set;
    }
    Set<String> next = new HashSet<>(set);
    next.remove(value);
    return Set.copyOf(next);
  }

  private <T> CompletableFuture<T> callHub(Supplier<CompletableFuture<T>> call) {
    try {
      CompletableFuture<T> future = call.get();
      return future != null
          ? future
          : CompletableFuture.failedFuture(new NullPointerException("the hub returned null"));
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  private void hubQuietly(Runnable call) {
    try {
      call.run();
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "session " + id() + ": hub call failed", e);
    }
  }

  private ErrorMessage errorFor(long requestId, Throwable failure) {
    return errorFor(OptionalLong.of(requestId), failure);
  }

  private ErrorMessage errorFor(OptionalLong requestId, Throwable failure) {
    Throwable cause = failure;
    while ((cause instanceof CompletionException || cause instanceof ExecutionException)
        && cause.getCause() != null) {
      cause = cause.getCause();
    }
    if (cause instanceof HubException hubException && hubException.code() != ErrorCode.INTERNAL) {
      return error(requestId, hubException.code(), String.valueOf(hubException.getMessage()));
    }
    // An internal failure's text (a store's exception: paths, hosts, a URI with its password)
    // and its stack trace stay in the log; the client gets the code and a fixed sentence.
    LOG.log(System.Logger.Level.ERROR, "session " + id() + ": hub failed a request", cause);
    return error(requestId, ErrorCode.INTERNAL, "the server failed; the request may be retried");
  }

  /** Forgets the document's version 2 alias, if it has one. */
  private void unbindAlias(String documentId) {
    if (aliasOf.isEmpty()) {
      return;
    }
    Integer alias = aliasOf.remove(documentId);
    if (alias != null) {
      aliases.remove(alias);
    }
  }

  private static ErrorMessage duplicate(long requestId) {
    return error(
        OptionalLong.of(requestId),
        ErrorCode.DUPLICATE_REQUEST_ID,
        "request id " + requestId + " is in use by an outstanding request");
  }

  private static ErrorMessage notSubscribed(OptionalLong requestId, String documentId) {
    return error(requestId, ErrorCode.NOT_SUBSCRIBED, "not subscribed to document " + documentId);
  }

  private static ErrorMessage error(OptionalLong requestId, ErrorCode code, String text) {
    String message =
        text.length() <= MAX_ERROR_TEXT_CHARS ? text : text.substring(0, MAX_ERROR_TEXT_CHARS);
    return ErrorMessage.of(requestId, code, message);
  }

  /** The longest prefix of {@code text} whose UTF-8 form fits {@code maxBytes}. */
  static String truncateUtf8(String text, int maxBytes) {
    if (text.getBytes(StandardCharsets.UTF_8).length <= maxBytes) {
      return text;
    }
    int bytes = 0;
    int end = 0;
    while (end < text.length()) {
      int cp = text.codePointAt(end);
      int size = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8).length;
      if (bytes + size > maxBytes) {
        break;
      }
      bytes += size;
      end += Character.charCount(cp);
    }
    return text.substring(0, end);
  }

  @Override
  public String toString() {
    return "ServerSession[" + id() + ", replica " + replicaId + "]";
  }

  /** The reply to one UPDATE, in request order; {@code message} is null until it is known. */
  private static final class PendingReply {
    private Message message;

    void complete(Message reply) {
      this.message = reply;
    }
  }
}

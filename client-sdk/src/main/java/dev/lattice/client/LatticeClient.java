package dev.lattice.client;

import dev.lattice.client.internal.Backoff;
import dev.lattice.client.internal.Callbacks;
import dev.lattice.client.internal.ClientScheduler;
import dev.lattice.client.internal.ClientSession;
import dev.lattice.client.internal.ClockSync;
import dev.lattice.client.internal.ConnectionStatuses;
import dev.lattice.client.internal.DocumentState;
import dev.lattice.client.internal.FileLocalState;
import dev.lattice.client.internal.JdkWebSocketTransport;
import dev.lattice.client.internal.ListenerList;
import dev.lattice.client.internal.LocalState;
import dev.lattice.client.internal.MemoryLocalState;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.protocol.ProtocolLimits;
import dev.lattice.protocol.ProtocolVersion;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;

/**
 * A Lattice client: local replicas of documents that read and write at once, kept in sync with a
 * Lattice server over a WebSocket. Build one with {@link #builder()}; it connects at once and keeps
 * reconnecting (exponential backoff, full jitter) until closed ({@link
 * ConnectionStatus.State#OFFLINE}) or refused for good ({@link ConnectionStatus.State#FAILED}: a
 * close code or an HTTP status that retrying cannot change).
 *
 * <pre>{@code
 * try (LatticeClient client = LatticeClient.builder().serverUri(uri).build()) {
 *   LatticeDocument board = client.open("board-42");
 *   board.counter("likes").increment(1);
 *   board.flush().get(5, TimeUnit.SECONDS);
 * }
 * }</pre>
 *
 * <p>Offline first: edits apply to the local replica and queue in an outbox; after every
 * (re)connect each open document catches up in one round trip both ways. Writes are stamped by a
 * hybrid logical clock fed with the wall clock corrected by the server's clock offset.
 *
 * <p>Thread-safe. One internal thread runs the protocol; listeners run on the callback executor (by
 * default one daemon thread of the client), never on a network thread; a listener that throws is
 * logged and does not stop delivery to the others.
 */
public final class LatticeClient implements AutoCloseable {

  /**
   * Reads frames up to 64 MiB: a server may advertise (and send) frames larger than the protocol's
   * 1 MiB default. What the client sends stays within the server's advertised limit.
   */
  private static final MessageCodec INCOMING_CODEC =
      MessageCodec.create(ProtocolLimits.builder().maxFrameBytes(64 * 1024 * 1024).build());

  private static final Logger LOG = System.getLogger(LatticeClient.class.getName());
  private static final long CLOSE_WAIT_SECONDS = 5;

  private final LocalState localState;
  private final HybridLogicalClock clock;
  private final Callbacks callbacks;
  private final ExecutorService ownCallbackExecutor;
  private final ScheduledExecutorService sessionThread;
  private final JdkWebSocketTransport transport;
  private final ClientSession session;
  private final ConcurrentHashMap<String, LatticeDocument> documents = new ConcurrentHashMap<>();
  private final ListenerList<ConnectionStatus> statusListeners = new ListenerList<>();
  private final AtomicBoolean kickPending = new AtomicBoolean();
  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile ConnectionStatus status =
      ConnectionStatuses.of(ConnectionStatus.State.CONNECTING, null, 0);

  private LatticeClient(Builder b, LocalState localState) {
    this.localState = localState;
    // Each process makes its edits under a replica id of its own: a state directory restored
    // from an older copy would otherwise hand out sequence numbers the server holds with other
    // content (or, worse, with the same content, taken for a duplicate), and lose those edits for
    // good (issue 11, the Riak kv679 problem). Edits of earlier ids still in the outbox are
    // delivered on connections bound to their own id first (docs/PROTOCOL.md, "Replica identity").
    try {
      localState.retireReplicaId();
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "could not take a fresh replica id; keeping the stored one", e);
    }
    ClockSync clockSync =
        new ClockSync(
            b.clock,
            localState.clockOffsetMillis().orElse(0),
            offset -> {
              try {
                localState.saveClockOffsetMillis(offset);
              } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "could not save the clock offset", e);
              }
            });
    this.clock = new HybridLogicalClock(clockSync::correctedMillis, b.maxClockDrift);
    if (b.callbackExecutor == null) {
      ownCallbackExecutor = Executors.newSingleThreadExecutor(daemon("lattice-client-callbacks"));
      callbacks = new Callbacks(ownCallbackExecutor);
    } else {
      ownCallbackExecutor = null;
      callbacks = new Callbacks(b.callbackExecutor);
    }
    sessionThread = Executors.newSingleThreadScheduledExecutor(daemon("lattice-client-session"));
    transport =
        new JdkWebSocketTransport(
            b.serverUri,
            b.sslContext == null
                ? HttpClient.newHttpClient()
                : HttpClient.newBuilder().sslContext(b.sslContext).build(),
            INCOMING_CODEC,
            sessionThread);
    session =
        new ClientSession(
            new ClientSession.Config(
                b.credentials,
                b.clientName,
                new Backoff(b.backoffBase, b.backoffCap, b.random),
                8,
                256,
                15_000,
                30_000,
                b.maxProtocolVersion),
            localState.replicaId(),
            localState::retireReplicaId,
            transport,
            new ExecutorScheduler(sessionThread),
            System::nanoTime,
            clockSync,
            clock,
            this::statusChanged);
    transport.bind(session);
    sessionThread.execute(session::start);
  }

  /** A builder; {@link Builder#serverUri} is required. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * The replica id this client's edits are made by: fresh for every client process (stored with the
   * local state, so a restart can tell its edits from earlier processes'), so that a state
   * directory restored from a backup can never reuse a sequence number the server holds. It changes
   * while the client runs only when the server shows that the id was used for another history: the
   * id is then retired for good and the edits it had not got acknowledged are made again under a
   * fresh one.
   */
  public ReplicaId replicaId() {
    return localState.replicaId();
  }

  /**
   * The local replica of {@code documentId}, loaded from the local state if stored there, and
   * followed on the server from now on. Opening an open document returns the same handle.
   *
   * @throws IllegalArgumentException if the id is empty or longer than 512 UTF-8 bytes
   * @throws LocalStateException if the stored state of the document cannot be read
   * @throws IllegalStateException if the client is closed
   */
  public LatticeDocument open(String documentId) {
    Objects.requireNonNull(documentId, "documentId");
    int bytes = documentId.getBytes(StandardCharsets.UTF_8).length;
    if (bytes == 0 || bytes > 512) {
      throw new IllegalArgumentException(
          "a document id must have 1 to 512 UTF-8 bytes, got " + bytes);
    }
    checkOpen();
    return documents.computeIfAbsent(
        documentId,
        id -> {
          DocumentState state =
              new DocumentState(id, localState.replicaId(), localState, clock, callbacks);
          sessionThread.execute(() -> session.open(state));
          return new LatticeDocument(this, state);
        });
  }

  /**
   * Closes one document (see {@link LatticeDocument#close()}); waits for the session thread so that
   * reopening it loads what this one stored.
   */
  void close(LatticeDocument doc) {
    if (!documents.remove(doc.id(), doc)) {
      return;
    }
    try {
      onSessionThreadAndWait(
          () -> {
            session.closeDocument(doc.id());
            doc.state().close();
          },
          "document '" + doc.id() + "' did not close cleanly");
    } catch (java.util.concurrent.RejectedExecutionException e) {
      doc.state().close(); // the client closed meanwhile; its close covered the session
    }
  }

  /**
   * Runs {@code task} on the session thread and waits for it, up to {@link #CLOSE_WAIT_SECONDS}; a
   * failure or timeout is logged with {@code failureText}.
   *
   * @throws java.util.concurrent.RejectedExecutionException if the session thread has stopped
   */
  private void onSessionThreadAndWait(Runnable task, String failureText) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    sessionThread.execute(
        () -> {
          try {
            task.run();
          } finally {
            done.complete(null);
          }
        });
    try {
      done.get(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      LOG.log(Level.WARNING, failureText, e);
    }
  }

  /**
   * A future that completes when every local change of every open document made before the call is
   * acknowledged by the server; exceptionally if the server refused one of them (see {@link
   * LatticeDocument#flush()}).
   */
  public CompletableFuture<Void> flush() {
    List<CompletableFuture<Void>> all = new ArrayList<>();
    for (LatticeDocument doc : documents.values()) {
      all.add(doc.flush());
    }
    return CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0]));
  }

  /** The connection's current state. */
  public ConnectionStatus connectionState() {
    return status;
  }

  /** Calls {@code listener} on every change of the connection state. */
  public Registration onConnectionState(Consumer<? super ConnectionStatus> listener) {
    return statusListeners.add(listener);
  }

  /**
   * Sends nothing more, closes the connection (1000), fails pending flushes and releases the local
   * state. Unacknowledged changes stay in the outbox (with a state directory, for the next start).
   * Idempotent.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      onSessionThreadAndWait(session::close, "the Lattice client session did not close cleanly");
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "the Lattice client session did not close cleanly", e);
    }
    sessionThread.shutdown();
    for (LatticeDocument doc : documents.values()) {
      doc.state().close();
    }
    try {
      localState.close();
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "could not release the local state", e);
    }
    if (ownCallbackExecutor != null) {
      // Events already queued (the OFFLINE status among them) are still delivered.
      ownCallbackExecutor.shutdown();
    }
  }

  @Override
  public String toString() {
    return "LatticeClient[" + localState.replicaId() + ", " + status.state() + "]";
  }

  // ------------------------------------------------------------------ internals

  HybridLogicalClock clock() {
    return clock;
  }

  int maxFrameBytes() {
    return session.maxFrameBytes();
  }

  void kick() {
    if (kickPending.compareAndSet(false, true)) {
      executeOnSession(
          () -> {
            kickPending.set(false);
            session.kick();
          });
    }
  }

  void presenceChanged(String documentId) {
    executeOnSession(() -> session.presenceChanged(documentId));
  }

  private void executeOnSession(Runnable task) {
    if (closed.get()) {
      return;
    }
    try {
      sessionThread.execute(task);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // Closing.
    }
  }

  private void checkOpen() {
    if (closed.get()) {
      throw new IllegalStateException("the Lattice client is closed");
    }
  }

  private void statusChanged(ConnectionStatus next) {
    status = next;
    callbacks.deliver(statusListeners.snapshot(), next);
  }

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  /** Timers on the session's scheduled executor. */
  private record ExecutorScheduler(ScheduledExecutorService executor) implements ClientScheduler {
    @Override
    public Cancellable schedule(Runnable task, long delayMillis) {
      try {
        ScheduledFuture<?> future = executor.schedule(task, delayMillis, TimeUnit.MILLISECONDS);
        return () -> future.cancel(false);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        return () -> {};
      }
    }
  }

  /**
   * Builds a {@link LatticeClient}. Setters fail fast on bad values. Not thread-safe; build on one
   * thread.
   */
  public static final class Builder {
    private URI serverUri;
    private Supplier<String> credentials = () -> null;
    private Path stateDirectory;
    private Executor callbackExecutor;
    private Duration backoffBase = Duration.ofMillis(250);
    private Duration backoffCap = Duration.ofSeconds(30);
    private Clock clock = Clock.systemUTC();
    private Duration maxClockDrift = HybridLogicalClock.DEFAULT_MAX_DRIFT;
    private RandomGenerator random = new Random();
    private int maxProtocolVersion = ProtocolVersion.MAX;
    private String clientName = "lattice-java";
    private javax.net.ssl.SSLContext sslContext;

    private Builder() {}

    /** The server's WebSocket endpoint, e.g. {@code ws://host:7070/v1/sync}. Required. */
    public Builder serverUri(URI serverUri) {
      Objects.requireNonNull(serverUri, "serverUri");
      String scheme = serverUri.getScheme();
      if (!"ws".equalsIgnoreCase(scheme) && !"wss".equalsIgnoreCase(scheme)) {
        throw new IllegalArgumentException(
            "serverUri must be a ws:// or wss:// URI, was " + serverUri);
      }
      this.serverUri = serverUri;
      return this;
    }

    /**
     * Supplies the token of each connection (asked again on every connect, so a refreshed token is
     * picked up); may return null for none. Default: none. The token goes both in the upgrade
     * request ({@code Authorization: Bearer}) and in HELLO.
     *
     * <p>How the client treats refusals: a session ended with 4007 (TOKEN_EXPIRED) reconnects at
     * once, asking this supplier again; a refusal of the credentials (close 4002, or 401 at the
     * upgrade) or a 403 at the upgrade (close 1008, e.g. a disallowed origin) stops reconnecting:
     * the connection state turns OFFLINE with that code, since the same credentials would be
     * refused again. A document the token may not read fails with FORBIDDEN (reported to the
     * document's error listeners), and an edit it may not write is dropped with its flush future
     * failing with {@link UpdateRejectedException} (code 16, FORBIDDEN). A HELLO refused because
     * another subject owns the replica id (close 4008, REPLICA_OWNED) retires the id: the edits not
     * yet acknowledged are made again under a fresh one, and the client reconnects.
     */
    public Builder credentials(Supplier<String> credentials) {
      this.credentials = Objects.requireNonNull(credentials, "credentials");
      return this;
    }

    /**
     * Where the client keeps its replica id, replicas and outbox across restarts; null (the
     * default) keeps everything in memory and takes a fresh replica id on every start.
     */
    public Builder stateDirectory(Path stateDirectory) {
      this.stateDirectory = stateDirectory;
      return this;
    }

    /**
     * Where listeners and flush continuations run, e.g. {@code SwingUtilities::invokeLater}; events
     * are handed over in order. Default: one daemon thread of the client.
     */
    public Builder callbackExecutor(Executor callbackExecutor) {
      this.callbackExecutor = Objects.requireNonNull(callbackExecutor, "callbackExecutor");
      return this;
    }

    /**
     * Reconnect backoff: the delay before attempt n is uniform in [0, min(cap, base * 2^n)].
     * Default 250 ms and 30 s.
     *
     * @throws IllegalArgumentException if {@code base} is under 1 ms or {@code cap} under {@code
     *     base}
     */
    public Builder backoff(Duration base, Duration cap) {
      Objects.requireNonNull(base, "base");
      Objects.requireNonNull(cap, "cap");
      new Backoff(base, cap, new Random()); // validates
      this.backoffBase = base;
      this.backoffCap = cap;
      return this;
    }

    /** The wall clock (default the system's, UTC); corrected against the server's clock. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * How far ahead of the corrected clock a timestamp received may be before the client's clock
     * refuses to follow it (the change still merges; a register write after it is stamped just past
     * it all the same). Also how far ahead of the corrected clock a change of this client the
     * server refused with {@code CLOCK_DRIFT} may be for the client to hold it and send it again
     * once the server's clock has caught up (its {@code maxClockDriftMillis} from WELCOME); one
     * further ahead is reported and undone. Default 60 s.
     */
    public Builder maxClockDrift(Duration maxClockDrift) {
      Objects.requireNonNull(maxClockDrift, "maxClockDrift");
      if (maxClockDrift.compareTo(Duration.ofMillis(1)) < 0) {
        throw new IllegalArgumentException(
            "maxClockDrift must be at least 1 ms, was " + maxClockDrift);
      }
      this.maxClockDrift = maxClockDrift;
      return this;
    }

    /** The client name sent in HELLO, for the server's logs. Default {@code lattice-java}. */
    public Builder clientName(String clientName) {
      this.clientName = Objects.requireNonNull(clientName, "clientName");
      return this;
    }

    /**
     * The highest protocol version offered in HELLO (default {@link ProtocolVersion#MAX}); tests
     * set 1 to play a version 1 client.
     */
    Builder maxProtocolVersion(int version) {
      if (version < ProtocolVersion.MIN || version > ProtocolVersion.MAX) {
        throw new IllegalArgumentException("maxProtocolVersion out of range: " + version);
      }
      this.maxProtocolVersion = version;
      return this;
    }

    /**
     * The TLS context for {@code wss://} servers (e.g. one trusting a private CA); default the
     * JDK's.
     */
    public Builder sslContext(javax.net.ssl.SSLContext sslContext) {
      this.sslContext = Objects.requireNonNull(sslContext, "sslContext");
      return this;
    }

    /** The random source of the backoff jitter (tests make it deterministic). */
    Builder random(RandomGenerator random) {
      this.random = Objects.requireNonNull(random, "random");
      return this;
    }

    /**
     * Builds the client and starts connecting.
     *
     * @throws IllegalStateException if no server URI was set
     * @throws LocalStateException if the state directory cannot be opened
     */
    public LatticeClient build() {
      if (serverUri == null) {
        throw new IllegalStateException("serverUri is required");
      }
      LocalState state =
          stateDirectory == null ? new MemoryLocalState() : FileLocalState.open(stateDirectory);
      try {
        return new LatticeClient(this, state);
      } catch (RuntimeException e) {
        state.close();
        throw e;
      }
    }
  }
}

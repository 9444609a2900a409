package dev.lattice.server;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.hlc.SteadyWallClock;
import dev.lattice.protocol.Welcome;
import dev.lattice.server.auth.ReplicaOwners;
import dev.lattice.server.extension.ExtensionRunner;
import dev.lattice.server.hub.DefaultHub;
import dev.lattice.server.hub.DocumentHooks;
import dev.lattice.server.hub.HubConfig;
import dev.lattice.server.redis.RedisDocumentStore;
import dev.lattice.server.redis.RedisKeys;
import dev.lattice.server.redis.RedisReplicator;
import dev.lattice.server.redis.RedisReplicatorConfig;
import dev.lattice.server.redis.RedisStoreConfig;
import dev.lattice.server.session.Handshake;
import dev.lattice.server.session.SessionFactory;
import dev.lattice.server.session.SessionHooks;
import dev.lattice.server.session.SessionTimerWheel;
import dev.lattice.server.spi.AuthResult;
import dev.lattice.server.spi.Authenticator;
import dev.lattice.server.spi.Authorizer;
import dev.lattice.server.spi.DocumentEdit;
import dev.lattice.server.spi.DocumentStore;
import dev.lattice.server.spi.LatticeExtension;
import dev.lattice.server.spi.Replicator;
import dev.lattice.server.spi.SessionConfig;
import dev.lattice.server.store.EmbeddedStoreConfig;
import dev.lattice.server.store.InMemoryDocumentStore;
import dev.lattice.server.store.RocksDbDocumentStore;
import io.lettuce.core.resource.ClientResources;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import java.util.function.LongSupplier;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.ConnectionMetaData;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The Lattice sync server: a Jetty 12 WebSocket endpoint at {@code /v1/sync} (docs/PROTOCOL.md)
 * over the document hub and a store, with plain HTTP beside it ({@code /healthz}, {@code /readyz},
 * {@code /metrics}, {@code /v1/docs/{id}}). Server-side code changes documents with {@link #edit}
 * and reads them with {@link #document}; extensions ({@link Builder#extension}) are told of
 * connections, loads, durable changes and disconnects (docs/EMBEDDING.md).
 *
 * <pre>{@code
 * try (LatticeServer server = LatticeServer.builder().port(0).inMemory(true).build().start()) {
 *   URI uri = server.uri(); // ws://127.0.0.1:<port>/v1/sync: no authenticator, so loopback
 * }
 * }</pre>
 *
 * <p><b>Frame size.</b> The WebSocket transport ({@link WebSocketConnection}, our own RFC 6455
 * server side on Jetty's core I/O) bounds frames and joined messages by the session's {@code
 * maxFrameBytes} (advertised in WELCOME): a larger one closes the connection with 1009 (TOO_BIG)
 * before the session sees it. Text frames close with 4000.
 *
 * <p><b>Slow consumers.</b> Each connection counts the bytes it queued and has not yet written;
 * when another frame would take that past {@link Builder#maxOutgoingBytesPerConnection} while
 * frames are still waiting, the connection is closed with 4003 (SLOW_CONSUMER) rather than buffered
 * without bound. The close frame queues behind the frames already queued, so a peer that does not
 * read up to it within {@link Builder#closeGrace} (5 s) is cut off and sees 1006 instead; both the
 * close and the cut are counted in {@code /metrics}.
 *
 * <p><b>Shutdown.</b> {@link #close()} stops accepting upgrades ({@code /readyz} turns 503), closes
 * every connection with 1001 "server shutting down" (waiting briefly for the closes), stops Jetty,
 * then closes the hub and the store, which flushes pending commits.
 *
 * <p>Thread-safe; {@link #start()} and {@link #close()} are meant to be called once each.
 */
public final class LatticeServer implements AutoCloseable {

  /** The WebSocket path. */
  public static final String SYNC_PATH = "/v1/sync";

  private static final Duration SHUTDOWN_WAIT = Duration.ofSeconds(3);

  /**
   * The default of {@link Builder#minRoundInterval}: 2 ms. On a busy document rounds then come at
   * most every 2 ms, larger and fewer: on 2 shared cores that gave the hot document about 30% more
   * acknowledged updates per second, a lower fan-out p99 and 40% less server CPU than starting each
   * round as soon as the last is durable (docs/BENCHMARKS.md). A quiet document is not delayed.
   */
  public static final Duration DEFAULT_MIN_ROUND_INTERVAL = Duration.ofMillis(2);

  /** The default bound of the idle-document cache, in approximate heap bytes: 64 MiB. */
  public static final long DEFAULT_CACHE_MAX_BYTES = 64L * 1024 * 1024;

  /**
   * How long an update waits for Redis replicas by default with {@link Builder#redisWaitReplicas}.
   */
  public static final Duration DEFAULT_REDIS_WAIT_TIMEOUT = Duration.ofSeconds(1);

  /**
   * The default of {@link Builder#maxClockDrift}: 500 ms, as CockroachDB's default maximum offset.
   */
  public static final Duration DEFAULT_MAX_CLOCK_DRIFT = Duration.ofMillis(500);

  private static final System.Logger LOG = System.getLogger(LatticeServer.class.getName());

  private final String bindAddress;
  private final int requestedPort;
  private final Path dataDirectory;
  private final boolean inMemory;
  private final SessionConfig sessionConfig;
  private final int maxFieldsPerDocument;
  private final ReplicaId replicaId;
  private final long maxOutgoingBytesPerConnection;
  private final Duration closeGrace;
  private final UpgradeGate gate;
  private final long cacheMaxBytes;
  private final int maxThreads;
  private final Duration minRoundInterval;
  private final Authenticator authenticator;
  private final Authorizer authorizer;
  private final Set<String> allowedOrigins;
  private final Path tlsKeyStore;
  private final char[] tlsKeyStorePassword;
  private final DocumentStore givenStore;
  private final Replicator givenReplicator;
  private final RedisMode redis;
  private final Clock wallClock;
  private final LongSupplier nanoTime;
  private final Duration maxClockDrift;
  private final List<LatticeExtension> extensions;
  private final Duration extensionTimeout;
  private final ServerMetrics metrics = new ServerMetrics();

  private final Set<WebSocketConnection> connections = ConcurrentHashMap.newKeySet();
  private final Object lifecycle = new Object();
  private volatile boolean accepting;
  private boolean started;
  private boolean closed;
  private DocumentStore store;
  private Replicator replicator;
  private ClientResources redisResources;
  private DefaultHub hub;
  private ExtensionRunner extensionRunner;
  private ScheduledExecutorService timer;
  private SessionTimerWheel sessionTimers;
  private Server jetty;
  private ServerConnector connector;

  private LatticeServer(Builder b) {
    this.bindAddress = b.bindAddress;
    this.requestedPort = b.port;
    this.dataDirectory = b.dataDirectory;
    this.inMemory = b.inMemory;
    this.sessionConfig = b.sessionConfig;
    this.maxFieldsPerDocument = b.maxFieldsPerDocument;
    this.replicaId = b.replicaId != null ? b.replicaId : randomReplicaId();
    this.maxOutgoingBytesPerConnection = b.maxOutgoingBytesPerConnection;
    this.closeGrace = b.closeGrace;
    this.gate =
        new UpgradeGate(
            b.maxConnectionsPerAddress,
            b.handshakesPerSecond,
            b.handshakesPerSecondPerAddress,
            System::nanoTime);
    this.cacheMaxBytes = b.cacheMaxBytes;
    this.maxThreads = b.maxThreads;
    this.minRoundInterval = b.minRoundInterval;
    this.authenticator = b.authenticator;
    this.authorizer = b.authorizer;
    this.allowedOrigins = b.allowedOrigins;
    this.tlsKeyStore = b.tlsKeyStore;
    this.tlsKeyStorePassword = b.tlsKeyStorePassword;
    this.givenStore = b.store;
    this.givenReplicator = b.replicator;
    this.redis = b.redisMode();
    this.wallClock = b.wallClock;
    this.nanoTime = b.nanoTime;
    this.maxClockDrift = b.maxClockDrift;
    this.extensions = List.copyOf(b.extensions);
    this.extensionTimeout = b.extensionTimeout;
  }

  public static Builder builder() {
    return new Builder();
  }

  private static ReplicaId randomReplicaId() {
    return ReplicaId.of(new SecureRandom().nextLong());
  }

  /**
   * Opens the store, starts the hub and binds the port. Prints nothing.
   *
   * @return this server
   * @throws IllegalStateException if already started or closed, or if Jetty cannot start (the port
   *     is taken, for example); whatever was opened is closed again
   */
  public LatticeServer start() {
    synchronized (lifecycle) {
      if (started || closed) {
        throw new IllegalStateException("LatticeServer.start() may be called once, before close()");
      }
      started = true;
      try {
        if (redis != null) {
          // One set of Lettuce threads for the store's and the replicator's connections, its
          // command latencies recorded into /metrics.
          redisResources =
              RedisStoreConfig.clientResourcesBuilder()
                  .commandLatencyRecorder(metrics.redisCommandLatency())
                  .build();
          store = RedisDocumentStore.open(redis.storeConfig(redisResources));
          replicator =
              RedisReplicator.connect(
                  redis.replicatorConfig(replicaId, redisResources, metrics.replicationLag()));
        } else {
          store =
              givenStore != null
                  ? givenStore
                  : inMemory
                      ? new InMemoryDocumentStore()
                      : RocksDbDocumentStore.open(
                          EmbeddedStoreConfig.builder().dataDirectory(dataDirectory).build());
          replicator = givenReplicator;
        }
        HybridLogicalClock clock = seededClock(store);
        CaffeineDocumentCache cache = new CaffeineDocumentCache(cacheMaxBytes);
        if (!extensions.isEmpty()) {
          extensionRunner = new ExtensionRunner(extensions, extensionTimeout, metrics.registry());
          extensionRunner.start(new ExtensionContext());
        }
        hub =
            new DefaultHub(
                HubConfig.builder(store, replicaId)
                    .hooks(extensionRunner != null ? extensionRunner : DocumentHooks.NONE)
                    .clock(clock)
                    .maxFieldsPerDocument(maxFieldsPerDocument)
                    .cache(cache)
                    .observer(metrics)
                    .minRoundInterval(minRoundInterval)
                    .replicator(replicator)
                    // Room in a frame for the UPDATE, the field's timestamp and touched vector.
                    .maxEditFieldBytes(
                        Math.max(1, sessionConfig.protocolLimits().maxFrameBytes() - 512))
                    .build());
        metrics.bind(hub, store, connections, cache);
        if (replicator instanceof RedisReplicator r) {
          metrics.bindReplicator(r);
        }
        timer = Executors.newSingleThreadScheduledExecutor(daemonThread("lattice-close-timer"));
        sessionTimers =
            SessionTimerWheel.start(sessionTimerTick(sessionConfig), "lattice-session-timer");
        DocumentStore owners = store;
        SessionFactory sessions =
            SessionFactory.builder()
                .hub(hub)
                .config(sessionConfig)
                .clock(clock)
                .serverId(replicaId)
                .scheduler(sessionTimers)
                .observer(metrics)
                .authenticator(authenticator)
                .authorizer(authorizer)
                // In the store, so the binding survives restarts and is shared through Redis;
                // remembered (an owner never changes), so a reconnect costs no store round trip.
                // 50,000 ids take a few MB at most.
                .replicaOwners(ReplicaOwners.remembering(owners::claimReplica, 50_000))
                .hooks(extensionRunner != null ? extensionRunner : SessionHooks.NONE)
                .advertise(Welcome.LIMIT_MAX_FIELDS_PER_DOCUMENT, maxFieldsPerDocument)
                .advertise(Welcome.LIMIT_MAX_CLOCK_DRIFT_MILLIS, maxClockDrift.toMillis())
                .build();
        jetty = newJetty(sessions);
        jetty.start();
        accepting = true;
        return this;
      } catch (Exception e) {
        closeQuietly();
        throw new IllegalStateException(
            "could not start the Lattice server on " + bindAddress + ":" + requestedPort, e);
      }
    }
  }

  /**
   * The server's clock, started past the greatest timestamp in {@code store} so that a server
   * restarted on a wall clock set back neither stamps its own edits below what it holds nor hands
   * clients (WELCOME, PONG) a time below it; see {@link #clockAbove}.
   */
  private HybridLogicalClock seededClock(DocumentStore store) {
    return clockAbove(store, wallClock::millis, nanoTime, maxClockDrift);
  }

  /**
   * The clock a server runs on with {@code store}: past the greatest timestamp the store holds, so
   * its own writes order after everything it acknowledged before. Its physical clock is a {@link
   * SteadyWallClock} on {@code wallMillis}: when the wall reads more than {@code maxClockDrift}
   * behind that timestamp at start (a clock set back, a restored VM), or falls that far behind
   * while the server runs, the server continues from the time it had reached, on the monotonic
   * {@code nanoTime}, until the wall catches up, with a warning; so the drift check and the time
   * clients sync to agree with what the store holds, and correct clients are not refused. A wall
   * behind by less is followed, so restarts do not ratchet the clock ahead by the drift clients are
   * allowed. Public so that simulations of a server on a wrong clock run this code, not a copy.
   */
  public static HybridLogicalClock clockAbove(
      DocumentStore store, LongSupplier wallMillis, LongSupplier nanoTime, Duration maxClockDrift) {
    Optional<HlcTimestamp> max = store.maxTimestamp();
    long wall = wallMillis.getAsLong();
    long behind = max.map(t -> t.physicalMillis() - wall).orElse(0L);
    if (behind > maxClockDrift.toMillis()) {
      LOG.log(
          System.Logger.Level.WARNING,
          "the wall clock reads "
              + behind
              + " ms behind the greatest timestamp in the store ("
              + max.get()
              + "); the server's clock continues from the store's time. Check the machine's"
              + " clock (NTP).");
    }
    LongSupplier physical =
        SteadyWallClock.startingAt(
            max.map(HlcTimestamp::physicalMillis).orElse(wall),
            wallMillis,
            nanoTime,
            maxClockDrift);
    HybridLogicalClock clock = new HybridLogicalClock(physical, maxClockDrift);
    max.ifPresent(clock::advancePast);
    return clock;
  }

  private Server newJetty(SessionFactory sessions) {
    // Sized for the cores rather than Jetty's 200: the server never blocks a Jetty thread (reads
    // hand off to the hub, writes are asynchronous), so extra threads only add context switches.
    // Measured on 2 cores, a relay capped near the core count beat the default by about a third.
    QueuedThreadPool threads = new QueuedThreadPool(maxThreads, Math.min(8, maxThreads));
    threads.setName("lattice-http");
    Server server = new Server(threads);
    // Jetty's error pages would show an exception's message (and, if asked, its stack): a failure
    // inside must reach clients as a status only.
    ErrorHandler errors = new ErrorHandler();
    errors.setShowStacks(false);
    errors.setShowMessageInTitle(false);
    server.setErrorHandler(errors);
    HttpConfiguration http = new HttpConfiguration();
    // Document ids are arbitrary strings: GET /v1/docs/{id} must take %2F and %25 in an id, which
    // Jetty's default compliance refuses as ambiguous. HttpEndpoints reads the raw path itself.
    http.setUriCompliance(
        UriCompliance.DEFAULT.with(
            "lattice-document-ids",
            UriCompliance.Violation.AMBIGUOUS_PATH_SEPARATOR,
            UriCompliance.Violation.AMBIGUOUS_PATH_ENCODING));
    http.setSendServerVersion(false);
    if (tlsKeyStore != null) {
      SslContextFactory.Server ssl = new SslContextFactory.Server();
      ssl.setKeyStorePath(tlsKeyStore.toAbsolutePath().toString());
      ssl.setKeyStorePassword(new String(tlsKeyStorePassword));
      http.addCustomizer(new org.eclipse.jetty.server.SecureRequestCustomizer());
      connector =
          new ServerConnector(
              server, new SslConnectionFactory(ssl, "http/1.1"), new HttpConnectionFactory(http));
    } else {
      connector = new ServerConnector(server, new HttpConnectionFactory(http));
    }
    connector.setHost(bindAddress);
    connector.setPort(requestedPort);
    server.addConnector(connector);
    long maxFrame = sessionConfig.protocolLimits().maxFrameBytes();
    WebSocketConnection.Shared shared =
        new WebSocketConnection.Shared(
            sessions,
            maxOutgoingBytesPerConnection,
            (int) maxFrame,
            connections,
            timer,
            metrics,
            closeGrace.toMillis(),
            sessionConfig.bytesInPerSecond(),
            Math.max(sessionConfig.bytesInPerSecond(), 2 * maxFrame),
            connector.getByteBufferPool());
    WebSocketUpgrade websocket =
        new WebSocketUpgrade(
            SYNC_PATH,
            (request, response, callback, subprotocols) -> {
              if (!accepting) {
                metrics.upgradeRefused(HttpStatus.SERVICE_UNAVAILABLE_503);
                Response.writeError(
                    request,
                    response,
                    callback,
                    HttpStatus.SERVICE_UNAVAILABLE_503,
                    "server shutting down");
                return null;
              }
              if (!RequestCredentials.originAllowed(request, allowedOrigins)) {
                metrics.upgradeRefused(HttpStatus.FORBIDDEN_403);
                Response.writeError(
                    request, response, callback, HttpStatus.FORBIDDEN_403, "origin not allowed");
                return null;
              }
              // The gate comes before any token is checked, so a flood of handshakes costs no
              // signature verification.
              String address = Request.getRemoteAddr(request);
              UpgradeGate.Refusal refusal = gate.admit(address);
              if (refusal != null) {
                metrics.upgradeRefused(refusal.status());
                response.setStatus(refusal.status());
                response
                    .getHeaders()
                    .put(HttpHeader.RETRY_AFTER, String.valueOf(refusal.retryAfterSeconds()));
                Content.Sink.write(response, true, refusal.reason(), callback);
                return null;
              }
              Optional<String> token = RequestCredentials.upgradeToken(request, subprotocols);
              CompletionStage<AuthResult> upgradeAuth = null;
              if (token.isPresent()) {
                upgradeAuth = authenticateQuietly(token);
                CompletableFuture<AuthResult> now = upgradeAuth.toCompletableFuture();
                // A decided refusal is a 401 before any WebSocket exists; a pending check is
                // awaited by the session, which answers nothing until it completes.
                if (now.isDone()) {
                  AuthResult result = now.isCompletedExceptionally() ? null : now.join();
                  if (!(result instanceof AuthResult.Granted)) {
                    gate.release(address);
                    metrics.upgradeRefused(HttpStatus.UNAUTHORIZED_401);
                    RequestCredentials.unauthorized(
                        request,
                        response,
                        callback,
                        true,
                        result instanceof AuthResult.Refused r
                            ? "credentials refused: " + r.reason()
                            : "credentials refused");
                    return null;
                  }
                }
              }
              if (subprotocols.contains(RequestCredentials.SUBPROTOCOL)) {
                // Browsers refuse a handshake that selects none of the subprotocols they offered.
                response
                    .getHeaders()
                    .put(HttpHeader.SEC_WEBSOCKET_SUBPROTOCOL, RequestCredentials.SUBPROTOCOL);
              }
              ConnectionMetaData meta = request.getConnectionMetaData();
              WebSocketConnection connection =
                  new WebSocketConnection(
                      meta.getConnection().getEndPoint(),
                      meta.getConnector().getExecutor(),
                      shared,
                      handshake(request),
                      token,
                      upgradeAuth);
              // The connection's end, however it comes (a failed 101 write included, which closes
              // the socket), gives the address its slot back. Interned: the release keeps the
              // address until the end, and thousands of connections from one address then share
              // one string.
              String slot = address.intern();
              connection.onEnd(() -> gate.release(slot));
              return connection;
            },
            new HttpEndpoints(
                this::isReady,
                this::document,
                metrics::scrape,
                this::authenticateQuietly,
                authorizer));
    server.setHandler(websocket);
    return server;
  }

  /** The peer and the headers of an upgrade request, for the extensions' connect hook. */
  private static Handshake handshake(Request request) {
    SocketAddress peer = request.getConnectionMetaData().getRemoteSocketAddress();
    InetSocketAddress address =
        peer instanceof InetSocketAddress inet
            ? inet
            : InetSocketAddress.createUnresolved(
                Request.getRemoteAddr(request), Request.getRemotePort(request));
    Map<String, List<String>> headers = new LinkedHashMap<>();
    for (HttpField field : request.getHeaders()) {
      headers.computeIfAbsent(field.getName(), n -> new ArrayList<>()).add(field.getValue());
    }
    return new Handshake(address, headers);
  }

  /** The authenticator's answer; one that throws is a failed stage (a refusal). */
  private CompletionStage<AuthResult> authenticateQuietly(Optional<String> token) {
    try {
      CompletionStage<AuthResult> stage = authenticator.authenticate(token);
      return stage != null
          ? stage
          : CompletableFuture.failedFuture(new NullPointerException("the authenticator gave null"));
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * The session timers' granularity: a thirtieth of the idle timeout, at most 1 s (1 s for the
   * default 60 s). A PING or an idle close may come up to one tick late; the coarser the tick, the
   * more of the idle sessions' timers fall due together and run in one wake-up of the timer thread.
   */
  static Duration sessionTimerTick(SessionConfig config) {
    Duration tick = config.idleTimeout().dividedBy(30);
    if (tick.compareTo(Duration.ofSeconds(1)) > 0) {
      return Duration.ofSeconds(1);
    }
    return tick.isZero() ? Duration.ofNanos(1) : tick;
  }

  private static java.util.concurrent.ThreadFactory daemonThread(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  /**
   * Whether the server is started, accepting connections, and its store open and reachable (a Redis
   * store whose connection is down is not: {@code /readyz} then answers 503 so a load balancer
   * sends clients elsewhere).
   */
  public boolean isReady() {
    DocumentStore s = store;
    return accepting && s != null && s.available();
  }

  /**
   * The port bound: the configured one, or the ephemeral one chosen for port 0.
   *
   * @throws IllegalStateException before {@link #start()}
   */
  public int port() {
    ServerConnector c = connector;
    if (c == null) {
      throw new IllegalStateException("the server is not started");
    }
    return c.getLocalPort();
  }

  /**
   * {@code ws://host:port/v1/sync} ({@code wss://} with TLS); the host is the bind address
   * ("localhost" for 0.0.0.0).
   */
  public URI uri() {
    String host =
        "0.0.0.0".equals(bindAddress) || "::".equals(bindAddress) ? "localhost" : bindAddress;
    if (host.contains(":") && !host.startsWith("[")) {
      host = "[" + host + "]"; // an IPv6 literal
    }
    return URI.create((tlsKeyStore != null ? "wss://" : "ws://") + host + ":" + port() + SYNC_PATH);
  }

  /** The address the server listens on, as configured. */
  public String bindAddress() {
    return bindAddress;
  }

  /** The server's replica id, sent in WELCOME. */
  public ReplicaId replicaId() {
    return replicaId;
  }

  /**
   * A document's durable state, as the store holds it (every acknowledged update included), or
   * empty if it does not exist. Loads from the store; for server-side reads such as {@code
   * /v1/docs/{id}}.
   *
   * @throws IllegalStateException before {@link #start()}
   */
  public Optional<Document> document(String id) {
    Objects.requireNonNull(id, "id");
    DocumentStore s = store;
    if (s == null) {
      throw new IllegalStateException("the server is not started");
    }
    return s.load(id);
  }

  /**
   * Changes a document from server-side code, with the same checks, durability and fan-out as a
   * client's update: the change is one update of the server's replica, sent to every subscriber
   * once durable. {@code edits} runs on the calling thread to collect the change.
   *
   * <pre>{@code
   * server.edit("board-1", e -> e.increment("views", 1).set("title", Value.of("Q3"))).join();
   * }</pre>
   *
   * @return completes with the applied delta once it is durable and sent; fails with {@link
   *     dev.lattice.server.hub.HubException} ({@code FIELD_TYPE_MISMATCH}, {@code TOO_MANY_FIELDS},
   *     {@code COUNTER_OVERFLOW} if a counter would pass the signed 64-bit range, {@code INTERNAL})
   *     and nothing changed
   * @throws IllegalStateException before {@link #start()} or after {@link #close()}
   */
  public CompletableFuture<DocumentDelta> edit(String documentId, Consumer<DocumentEdit> edits) {
    Objects.requireNonNull(documentId, "documentId");
    Objects.requireNonNull(edits, "edits");
    DefaultHub h = hub;
    if (h == null || closed) {
      throw new IllegalStateException("the server is not running");
    }
    return h.edit(documentId, edits);
  }

  /**
   * The server's meters (also served at {@code /metrics}), for embedders that export them elsewhere
   * or add their own.
   */
  public MeterRegistry meterRegistry() {
    return metrics.registry();
  }

  /**
   * Shuts down gracefully: stops accepting upgrades, closes every connection with 1001 "server
   * shutting down" (waiting up to 3 s for them to end), stops Jetty, then closes the hub and the
   * store (flushing pending commits). Idempotent.
   */
  @Override
  public void close() {
    synchronized (lifecycle) {
      if (closed) {
        return;
      }
      closed = true;
      accepting = false;
      List<CompletableFuture<Void>> ends = new ArrayList<>();
      for (WebSocketConnection connection : connections) {
        connection.shutDown();
        ends.add(connection.ended());
      }
      try {
        CompletableFuture.allOf(ends.toArray(CompletableFuture[]::new))
            .get(SHUTDOWN_WAIT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (TimeoutException | java.util.concurrent.ExecutionException e) {
        // Connections that did not end in time are cut by Jetty's stop below.
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      closeQuietly();
    }
  }

  private void closeQuietly() {
    RuntimeException failure = null;
    if (jetty != null) {
      try {
        jetty.stop();
      } catch (Exception e) {
        failure = new IllegalStateException("could not stop Jetty", e);
      }
    }
    if (hub != null) {
      hub.close(); // closes the replicator too
    } else if (replicator != null) {
      replicator.close();
    }
    if (extensionRunner != null) {
      // After the hub, which reports nothing more once closed; before the store, which the
      // extensions' onStop may still read (a webhook sending its open windows).
      extensionRunner.close();
    }
    if (store != null) {
      try {
        store.close();
      } catch (RuntimeException e) {
        if (failure == null) {
          failure = e;
        } else {
          failure.addSuppressed(e);
        }
      }
    }

    if (redisResources != null) {
      // After the store and replicator: their clients use these threads until they close.
      redisResources.shutdown(0, 2, TimeUnit.SECONDS);
    }
    if (sessionTimers != null) {
      sessionTimers.close();
    }
    if (timer != null) {
      timer.shutdownNow();
    }
    if (failure != null) {
      throw failure;
    }
  }

  @Override
  public String toString() {
    return "LatticeServer["
        + bindAddress
        + ":"
        + requestedPort
        + (givenStore != null
            ? ", " + givenStore.getClass().getSimpleName()
            : inMemory ? ", in memory" : ", " + dataDirectory)
        + "]";
  }

  /** What extensions may use: reads of the store, the meters. */
  private final class ExtensionContext implements LatticeExtension.Context {
    @Override
    public ReplicaId serverReplicaId() {
      return replicaId;
    }

    @Override
    public Optional<Document> document(String documentId) {
      return LatticeServer.this.document(documentId);
    }

    @Override
    public Optional<String> documentJson(String documentId, Set<String> fields) {
      return document(documentId).map(d -> DocumentJson.render(d, fields));
    }

    @Override
    public MeterRegistry meterRegistry() {
      return metrics.registry();
    }
  }

  /**
   * Builds a {@link LatticeServer}. Defaults: bind 127.0.0.1 without an {@link #authenticator}
   * (0.0.0.0 with one, or after {@link #insecureNoAuth()}), port 7070, data directory {@code
   * ./lattice-data}, embedded (durable) store, {@link SessionConfig#defaults()}, 10,000 fields per
   * document, a random replica id, 4 MiB queued per connection, a 64 MiB idle-document cache.
   * Setters fail fast on bad values.
   */
  public static final class Builder {
    private String bindAddress; // null: chosen at build, by whether the server authenticates
    private boolean authenticates;
    private boolean insecureNoAuth;
    private int port = 7070;
    private Path dataDirectory = EmbeddedStoreConfig.DEFAULT_DATA_DIRECTORY;
    private boolean inMemory;
    private SessionConfig sessionConfig = SessionConfig.defaults();
    private int maxFieldsPerDocument = HubConfig.DEFAULT_MAX_FIELDS_PER_DOCUMENT;
    private ReplicaId replicaId;
    private long maxOutgoingBytesPerConnection = 4L * 1024 * 1024;
    private Duration closeGrace = Duration.ofMillis(WebSocketConnection.CLOSE_GRACE_MILLIS);
    private int maxConnectionsPerAddress = 1024;
    private int handshakesPerSecond = 1000;
    private int handshakesPerSecondPerAddress = 100;
    private long cacheMaxBytes = DEFAULT_CACHE_MAX_BYTES;
    private DocumentStore store;
    private Replicator replicator = Replicator.none();
    private int maxThreads = defaultMaxThreads();
    private Duration minRoundInterval = DEFAULT_MIN_ROUND_INTERVAL;
    private Authenticator authenticator = Authenticator.allowAll();
    private Authorizer authorizer = Authorizer.byPrincipalRights();
    private Set<String> allowedOrigins = Set.of();
    private Path tlsKeyStore;
    private char[] tlsKeyStorePassword;
    private List<String> redisUris;
    private boolean redisCluster;
    private int redisWaitReplicas;
    private Duration redisWaitTimeout = DEFAULT_REDIS_WAIT_TIMEOUT;
    private String redisKeyPrefix = RedisKeys.DEFAULT_PREFIX;
    private Clock wallClock = Clock.systemUTC();
    private LongSupplier nanoTime = System::nanoTime;
    private Duration maxClockDrift = DEFAULT_MAX_CLOCK_DRIFT;
    private final List<LatticeExtension> extensions = new ArrayList<>();
    private Duration extensionTimeout = ExtensionRunner.DEFAULT_TIMEOUT;

    private Builder() {}

    /**
     * Adds a server-side extension, told of connections, authentication, document loads, durable
     * changes, appends, unloads and disconnects (see {@link LatticeExtension} and
     * docs/EMBEDDING.md). May be called several times: extensions run in the order added. The
     * server starts them ({@link LatticeExtension#onStart}) before it binds and stops them when it
     * closes.
     */
    public Builder extension(LatticeExtension extension) {
      this.extensions.add(Objects.requireNonNull(extension, "extension"));
      return this;
    }

    /**
     * How long one extension hook call may take before it counts as failed (default {@link
     * ExtensionRunner#DEFAULT_TIMEOUT}, 5 s): a connection is then refused, a load fails, a
     * notification is skipped; see {@link LatticeExtension}.
     */
    public Builder extensionTimeout(Duration timeout) {
      Objects.requireNonNull(timeout, "extensionTimeout");
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("extensionTimeout must be positive, was " + timeout);
      }
      this.extensionTimeout = timeout;
      return this;
    }

    /**
     * The wall clock the server's hybrid logical clock reads (default the system's, UTC): for tests
     * that set a server's clock back or ahead. Whatever it reads, the server's clock starts past
     * the greatest timestamp in its store (see {@link DocumentStore#maxTimestamp()}).
     */
    public Builder clock(Clock wallClock) {
      this.wallClock = Objects.requireNonNull(wallClock, "clock");
      return this;
    }

    /**
     * The monotonic clock (nanoseconds, default {@link System#nanoTime()}) the server measures
     * elapsed time on while its wall {@link #clock} reads far behind the time it had reached: for
     * tests whose wall clock stands still, which pass one that stands still too.
     */
    public Builder nanoTime(LongSupplier nanoTime) {
      this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
      return this;
    }

    /**
     * How far ahead of the server's clock a timestamp in an update may be (default {@link
     * #DEFAULT_MAX_CLOCK_DRIFT}, 500 ms; at least 1 ms); advertised in WELCOME as {@code
     * maxClockDriftMillis}. An update with a timestamp further ahead is refused with {@code
     * CLOCK_DRIFT} and changes nothing; one within it is merged and moves the server's clock up to
     * it, so this is also how far one client can drag the server's clock ahead.
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

    /**
     * The most threads Jetty's pool may run (acceptor, selector and the threads that read frames
     * and write to sockets); default {@code max(8, 4 x cores)}. Jetty needs a few for itself: at
     * least 8.
     */
    public Builder maxThreads(int maxThreads) {
      if (maxThreads < 8) {
        throw new IllegalArgumentException("maxThreads must be at least 8, was " + maxThreads);
      }
      this.maxThreads = maxThreads;
      return this;
    }

    /**
     * The least time between two fan-out rounds of one document (see {@link
     * HubConfig.Builder#minRoundInterval}): a document busier than that sends fewer, larger frames,
     * at up to this much extra latency; a quieter one is not delayed. Default zero: each round
     * starts as soon as the previous one is durable (docs/BENCHMARKS.md says why).
     */
    public Builder minRoundInterval(Duration interval) {
      HubConfig.builder(new InMemoryDocumentStore(), ReplicaId.of(0)).minRoundInterval(interval);
      this.minRoundInterval = interval;
      return this;
    }

    /** The default of {@link #maxThreads}: 4 per core, at least 8. */
    public static int defaultMaxThreads() {
      return Math.max(8, 4 * Runtime.getRuntime().availableProcessors());
    }

    /**
     * The address to listen on. Default: 127.0.0.1 (loopback) when no {@link #authenticator} is
     * set, else 0.0.0.0 (all interfaces). An address other machines can reach needs an
     * authenticator or {@link #insecureNoAuth()}, or {@link #build()} fails: a server without
     * authentication lets anyone who reaches it read and write every document.
     */
    public Builder bindAddress(String bindAddress) {
      Objects.requireNonNull(bindAddress, "bindAddress");
      if (bindAddress.isBlank()) {
        throw new IllegalArgumentException("bindAddress must not be blank");
      }
      this.bindAddress = bindAddress;
      return this;
    }

    /** The port, 0 to 65535; 0 picks an ephemeral port (see {@link LatticeServer#port()}). */
    public Builder port(int port) {
      if (port < 0 || port > 65_535) {
        throw new IllegalArgumentException("port must be within 0..65535, was " + port);
      }
      this.port = port;
      return this;
    }

    /** Where the embedded store keeps its files; default {@code ./lattice-data}. */
    public Builder dataDirectory(Path dataDirectory) {
      this.dataDirectory = Objects.requireNonNull(dataDirectory, "dataDirectory");
      return this;
    }

    /**
     * The store documents are kept in, instead of the embedded one (or the in-memory one of {@link
     * #inMemory}): for example a store shared by several server processes, with a {@link
     * #replicator} joining them. The server takes it over: it closes the store when it closes,
     * after the hub, so pending appends are flushed. Default: the server opens its own.
     */
    public Builder store(DocumentStore store) {
      this.store = Objects.requireNonNull(store, "store must not be null");
      return this;
    }

    /**
     * The port to other server processes that serve the same {@link #store}: what this server makes
     * durable is announced to them and theirs is fanned out here (see {@link Replicator}). The
     * server takes it over and closes it when it closes. Default {@link Replicator#none()}: this
     * process is the store's only writer.
     */
    public Builder replicator(Replicator replicator) {
      this.replicator = Objects.requireNonNull(replicator, "replicator must not be null");
      return this;
    }

    /** Keep documents in memory only (lost at close) instead of the embedded store. */
    public Builder inMemory(boolean inMemory) {
      this.inMemory = inMemory;
      return this;
    }

    /**
     * The limits every session enforces; also the WebSocket transport's frame size limit.
     *
     * @throws IllegalArgumentException if its {@code maxFrameBytes} cannot hold the server's
     *     WELCOME, with the limits this server advertises beside the session's own
     */
    public Builder sessionConfig(SessionConfig sessionConfig) {
      Objects.requireNonNull(sessionConfig, "sessionConfig");
      // At their widest, so that no later setting of them can make WELCOME outgrow the frame.
      sessionConfig.requireWelcomeFits(
          Map.of(
              Welcome.LIMIT_MAX_FIELDS_PER_DOCUMENT,
              Long.MAX_VALUE,
              Welcome.LIMIT_MAX_CLOCK_DRIFT_MILLIS,
              Long.MAX_VALUE));
      this.sessionConfig = sessionConfig;
      return this;
    }

    /** The most fields a document may have, at least 1; default 10,000. */
    public Builder maxFieldsPerDocument(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("maxFieldsPerDocument must be at least 1, was " + max);
      }
      this.maxFieldsPerDocument = max;
      return this;
    }

    /**
     * The server's replica id, which stamps server-side {@link LatticeServer#edit edits}; default a
     * fresh random id at every start, and that is what a durable server should use. A fixed id
     * across restarts is unsafe after a crash: an edit merged in memory and already shown to a
     * client in a catch-up but not yet durable is lost, the restarted server gives its sequence
     * number to a different edit, and that client takes the new edit for one it holds. For tests
     * (and in-memory servers) that need a known id.
     */
    public Builder replicaId(ReplicaId replicaId) {
      this.replicaId = Objects.requireNonNull(replicaId, "replicaId");
      return this;
    }

    /**
     * Bytes a connection may have queued for sending before it is closed with 4003; default 4 MiB.
     */
    public Builder maxOutgoingBytesPerConnection(long bytes) {
      if (bytes < 1) {
        throw new IllegalArgumentException(
            "maxOutgoingBytesPerConnection must be at least 1, was " + bytes);
      }
      this.maxOutgoingBytesPerConnection = bytes;
      return this;
    }

    /**
     * Most connections open at once from one remote address (as Jetty sees it: behind a proxy, the
     * proxy's); one more is refused at the upgrade with HTTP 429 and {@code Retry-After: 1}.
     * Default 1024, room for a large office behind one NAT.
     */
    public Builder maxConnectionsPerAddress(int connections) {
      if (connections < 1) {
        throw new IllegalArgumentException(
            "maxConnectionsPerAddress must be at least 1, was " + connections);
      }
      this.maxConnectionsPerAddress = connections;
      return this;
    }

    /**
     * WebSocket upgrades the server accepts per second, from all addresses together (a token bucket
     * of a second's worth); one more is refused with HTTP 503 and a {@code Retry-After} in seconds.
     * Default 1000: a restart's reconnecting clients, which back off with jitter, are spread out
     * rather than all handshaking (and catching up) at once.
     */
    public Builder handshakesPerSecond(int handshakes) {
      if (handshakes < 1) {
        throw new IllegalArgumentException(
            "handshakesPerSecond must be at least 1, was " + handshakes);
      }
      this.handshakesPerSecond = handshakes;
      return this;
    }

    /**
     * WebSocket upgrades the server accepts per second from one remote address (a token bucket of a
     * second's worth, checked before the server-wide {@link #handshakesPerSecond}); one more is
     * refused with HTTP 503 and a {@code Retry-After} in seconds. Default 100: one address looping
     * through handshakes cannot use up every client's share; behind a proxy every client shares the
     * proxy's address, so raise it there (or rate-limit at the proxy).
     */
    public Builder handshakesPerSecondPerAddress(int handshakes) {
      if (handshakes < 1) {
        throw new IllegalArgumentException(
            "handshakesPerSecondPerAddress must be at least 1, was " + handshakes);
      }
      this.handshakesPerSecondPerAddress = handshakes;
      return this;
    }

    /**
     * How long a connection the server closes may take to read up to the close frame before it is
     * dropped; default 5 s. The close frame queues behind every frame sent before it, so a client
     * closed as a slow consumer (4003) that does not read for this long sees the TCP connection end
     * (1006) instead of the close code. Counted in {@code lattice_close_cuts_total}.
     */
    public Builder closeGrace(Duration grace) {
      Objects.requireNonNull(grace, "grace");
      if (grace.isNegative() || grace.isZero()) {
        throw new IllegalArgumentException("closeGrace must be positive, was " + grace);
      }
      this.closeGrace = grace;
      return this;
    }

    /**
     * Approximate heap bytes of idle documents (no subscriber) kept in memory so the next
     * subscriber need not reload them; 0 keeps none. Subscribed documents are always in memory and
     * not counted here. Default 64 MiB.
     */
    public Builder cacheMaxBytes(long bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("cacheMaxBytes must not be negative, was " + bytes);
      }
      this.cacheMaxBytes = bytes;
      return this;
    }

    /**
     * Checks tokens: the upgrade's ({@code Authorization: Bearer}, {@code access_token}, or a
     * {@code lattice.bearer.<token>} subprotocol; a refusal there is a 401), else HELLO's
     * credentials (a refusal is ERROR UNAUTHORIZED and close 4002), and those of HTTP document
     * reads. Default {@link Authenticator#allowAll()}: everyone, every right. See docs/SECURITY.md;
     * {@link dev.lattice.server.JwtAuthenticator} checks JWTs.
     */
    public Builder authenticator(Authenticator authenticator) {
      this.authenticator = Objects.requireNonNull(authenticator, "authenticator");
      this.authenticates = true;
      return this;
    }

    /**
     * Serves addresses other than loopback WITHOUT authentication (the runnable server's {@code
     * --insecure-no-auth}): anyone who reaches the server reads and writes every document. For
     * trusted networks, and servers behind a proxy that authenticates. Also makes 0.0.0.0 the
     * default {@link #bindAddress}.
     */
    public Builder insecureNoAuth() {
      this.insecureNoAuth = true;
      return this;
    }

    /**
     * Gives a principal's access to a document, asked on every SUBSCRIBE, UPDATE and PRESENCE and
     * every HTTP document read (FORBIDDEN or 403 without the right). Default {@link
     * Authorizer#byPrincipalRights()}: the rights the token carries.
     */
    public Builder authorizer(Authorizer authorizer) {
      this.authorizer = Objects.requireNonNull(authorizer, "authorizer");
      return this;
    }

    /**
     * The {@code Origin}s browsers may upgrade from (exactly, e.g. {@code https://app.example});
     * another origin gets 403 at the upgrade. Requests without {@code Origin} (not browsers) are
     * always allowed. Default empty: every origin.
     */
    public Builder allowedOrigins(Set<String> origins) {
      this.allowedOrigins = Set.copyOf(origins);
      return this;
    }

    /**
     * Serve TLS (wss:// and https://) with the key and certificate of a PKCS#12 (or JKS) key store.
     * Default: plain text.
     */
    public Builder tls(Path keyStore, char[] password) {
      Objects.requireNonNull(keyStore, "keyStore");
      Objects.requireNonNull(password, "password");
      this.tlsKeyStore = keyStore;
      this.tlsKeyStorePassword = password.clone();
      return this;
    }

    /**
     * Redis mode on one Redis server ({@code redis://host:port}, {@code rediss://} for TLS, with
     * {@code user:password@} or {@code /database} as Lettuce reads them): Redis becomes the store
     * and the bus between every server started with the same Redis, any of which serves any
     * document. No data directory is used. Exclusive with {@link #store}, {@link #replicator} and
     * {@link #inMemory}.
     */
    public Builder redis(String uri) {
      this.redisUris = List.of(checkRedisUri(uri));
      this.redisCluster = false;
      return this;
    }

    /**
     * Redis mode on a Redis Cluster, reached through one or more of its nodes ({@code
     * redis://host:port} each); the rest is found from them. Pub/sub is sharded (SPUBLISH), so a
     * document's messages stay on the shard of its data. See {@link #redis}.
     */
    public Builder redisCluster(List<String> seedUris) {
      if (seedUris.isEmpty()) {
        throw new IllegalArgumentException("redisCluster needs at least one seed URI");
      }
      this.redisUris = seedUris.stream().map(Builder::checkRedisUri).toList();
      this.redisCluster = true;
      return this;
    }

    /**
     * In Redis mode, acknowledge an update only once {@code replicas} Redis replicas have it too
     * (Redis {@code WAIT}), waiting at most {@code timeout}; an update fewer replicas confirmed in
     * time is refused with a retryable error. Default 0: acknowledged once the primary has it.
     */
    public Builder redisWaitReplicas(int replicas, Duration timeout) {
      if (replicas < 0) {
        throw new IllegalArgumentException(
            "redisWaitReplicas must not be negative, was " + replicas);
      }
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("the WAIT timeout must be positive, was " + timeout);
      }
      this.redisWaitReplicas = replicas;
      this.redisWaitTimeout = timeout;
      return this;
    }

    /**
     * The prefix of every Redis key and channel, default {@code lattice}: servers sharing one Redis
     * with the same prefix share documents; another prefix is a separate set of documents.
     */
    public Builder redisKeyPrefix(String prefix) {
      new RedisKeys(prefix); // its checks
      this.redisKeyPrefix = prefix;
      return this;
    }

    private static String checkRedisUri(String uri) {
      Objects.requireNonNull(uri, "Redis URI");
      if (!uri.startsWith("redis://") && !uri.startsWith("rediss://")) {
        throw new IllegalArgumentException(
            "a Redis URI looks like redis://host:port (rediss:// for TLS), was '" + uri + "'");
      }
      return uri;
    }

    private RedisMode redisMode() {
      if (redisUris == null) {
        return null;
      }
      if (store != null || replicator != Replicator.none() || inMemory) {
        throw new IllegalStateException(
            "Redis mode is its own store and replicator: do not also set store, replicator or"
                + " inMemory");
      }
      return new RedisMode(
          redisUris, redisCluster, redisWaitReplicas, redisWaitTimeout, redisKeyPrefix);
    }

    /**
     * The server, not started.
     *
     * @throws IllegalStateException if Redis mode is combined with a store, a replicator or
     *     in-memory documents
     */
    /**
     * Builds the server (nothing is opened or bound until {@link LatticeServer#start()}).
     *
     * @throws IllegalStateException if {@link #bindAddress} is not a loopback address but no {@link
     *     #authenticator} is set and {@link #insecureNoAuth()} was not called
     */
    public LatticeServer build() {
      boolean open = authenticates || insecureNoAuth;
      if (bindAddress == null) {
        bindAddress = open ? "0.0.0.0" : "127.0.0.1";
      } else if (!open && !isLoopback(bindAddress)) {
        throw new IllegalStateException(
            "bindAddress "
                + bindAddress
                + " serves other machines, but no authenticator is set: set one with"
                + " authenticator(...), or call insecureNoAuth() to serve without authentication");
      }
      return new LatticeServer(this);
    }

    private static boolean isLoopback(String address) {
      try {
        return java.net.InetAddress.getByName(address).isLoopbackAddress();
      } catch (java.net.UnknownHostException e) {
        return false;
      }
    }
  }

  /** What the builder said about Redis; the store and replicator are made at start. */
  private record RedisMode(
      List<String> uris, boolean cluster, int waitReplicas, Duration waitTimeout, String prefix) {

    RedisStoreConfig storeConfig(ClientResources resources) {
      RedisStoreConfig.Builder b =
          cluster ? RedisStoreConfig.cluster(uris) : RedisStoreConfig.builder(uris.get(0));
      return b.keyPrefix(prefix)
          .clientResources(resources)
          .waitReplicas(waitReplicas, waitTimeout)
          .build();
    }

    RedisReplicatorConfig replicatorConfig(
        ReplicaId origin, ClientResources resources, LongConsumer lag) {
      RedisReplicatorConfig.Builder b =
          cluster
              ? RedisReplicatorConfig.cluster(uris, origin)
              : RedisReplicatorConfig.builder(uris.get(0), origin);
      return b.keyPrefix(prefix).clientResources(resources).lagListener(lag).build();
    }
  }
}

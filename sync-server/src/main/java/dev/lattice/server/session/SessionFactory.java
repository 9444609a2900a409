package dev.lattice.server.session;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.server.auth.ReplicaOwners;
import dev.lattice.server.hub.Hub;
import dev.lattice.server.spi.AuthResult;
import dev.lattice.server.spi.Authenticator;
import dev.lattice.server.spi.Authorizer;
import dev.lattice.server.spi.Principal;
import dev.lattice.server.spi.SessionConfig;
import java.time.Clock;
import java.util.Collections;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * Opens {@link ServerSession}s that share one server's hub, configuration, authenticator, clock and
 * timers. Session ids are {@code s-<n>}, unique within the factory (one per server).
 *
 * <p>Immutable apart from its id counter; thread-safe.
 */
public final class SessionFactory {

  private final Hub hub;
  private final SessionConfig config;
  private final Authenticator authenticator;
  private final Authorizer authorizer;
  private final ReplicaOwners replicaOwners;
  private final Clock wallClock;
  private final HybridLogicalClock clock;
  private final ReplicaId serverId;
  private final LongSupplier nanoTime;
  private final SessionScheduler scheduler;
  private final SessionObserver observer;
  private final SessionHooks hooks;
  private final SortedMap<String, Long> welcomeLimits;

  private final AtomicLong nextId = new AtomicLong(1);

  private SessionFactory(Builder b) {
    this.hub = required(b.hub, "hub");
    this.clock = required(b.clock, "clock");
    this.serverId = required(b.serverId, "serverId");
    this.scheduler = required(b.scheduler, "scheduler");
    this.config = b.config;
    this.authenticator = b.authenticator;
    this.authorizer = b.authorizer;
    this.replicaOwners = b.replicaOwners;
    this.wallClock = b.wallClock;
    this.nanoTime = b.nanoTime;
    this.observer = b.observer;
    this.hooks = b.hooks;
    b.config.requireWelcomeFits(b.advertised);
    TreeMap<String, Long> limits = new TreeMap<>(b.config.limitsMap());
    limits.putAll(b.advertised);
    this.welcomeLimits = Collections.unmodifiableSortedMap(limits);
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Checks the sessions' tokens; the server also asks it at the upgrade. */
  public Authenticator authenticator() {
    return authenticator;
  }

  /** The configuration every session of this factory enforces. */
  public SessionConfig config() {
    return config;
  }

  /**
   * A new session writing to {@code transport}, its idle timer started. The caller then feeds it
   * the connection's frames and, at the end, {@link ServerSession#onClosed()}.
   */
  public ServerSession open(SessionTransport transport) {
    return open(transport, null);
  }

  /**
   * {@link #open(SessionTransport)} for a connection whose upgrade request carried a token: {@code
   * upgradeAuth} is the {@link #authenticator()}'s answer for it (possibly still pending), which
   * decides at HELLO instead of HELLO's credentials. Null when the upgrade carried no token.
   */
  public ServerSession open(SessionTransport transport, CompletionStage<AuthResult> upgradeAuth) {
    return open(transport, Optional.empty(), upgradeAuth);
  }

  /**
   * {@link #open(SessionTransport, CompletionStage)} that also hands the upgrade's token to the
   * {@link SessionHooks}' authentication (HELLO's credentials are used when it is empty).
   */
  public ServerSession open(
      SessionTransport transport,
      Optional<String> upgradeToken,
      CompletionStage<AuthResult> upgradeAuth) {
    return open(transport, upgradeToken, upgradeAuth, null);
  }

  /**
   * {@link #open(SessionTransport, Optional, CompletionStage)} for a connection whose upgrade
   * showed {@code handshake}, which the {@link SessionHooks} get at HELLO; null when unknown.
   */
  public ServerSession open(
      SessionTransport transport,
      Optional<String> upgradeToken,
      CompletionStage<AuthResult> upgradeAuth,
      Handshake handshake) {
    Objects.requireNonNull(transport, "transport");
    Objects.requireNonNull(upgradeToken, "upgradeToken");
    SessionHooks sessionHooks =
        handshake == null || hooks == SessionHooks.NONE ? hooks : withHandshake(hooks, handshake);
    ServerSession session =
        new ServerSession(
            nextId.getAndIncrement(),
            transport,
            hub,
            config,
            authenticator,
            authorizer,
            replicaOwners,
            wallClock,
            upgradeAuth,
            upgradeToken.isPresent() ? upgradeToken : null,
            sessionHooks,
            clock,
            serverId,
            nanoTime,
            scheduler,
            observer,
            welcomeLimits);
    session.start();
    return session;
  }

  /** {@code hooks} with this connection's handshake added to its connect hook. */
  private static SessionHooks withHandshake(SessionHooks hooks, Handshake handshake) {
    return new SessionHooks() {
      @Override
      public CompletionStage<Void> connecting(String connectionId, ReplicaId replica, int version) {
        return hooks.connecting(connectionId, replica, version, handshake);
      }

      @Override
      public CompletionStage<AuthResult> authenticated(
          String connectionId, ReplicaId replica, Optional<String> token, Principal principal) {
        return hooks.authenticated(connectionId, replica, token, principal);
      }

      @Override
      public void disconnected(
          String connectionId, ReplicaId replica, Principal principal, int code, String reason) {
        hooks.disconnected(connectionId, replica, principal, code, reason);
      }
    };
  }

  private static <T> T required(T value, String name) {
    if (value == null) {
      throw new IllegalStateException("SessionFactory needs a " + name + "; none was set");
    }
    return value;
  }

  /**
   * Builds a {@link SessionFactory}. Required: hub, clock, serverId, scheduler. Defaults: {@link
   * SessionConfig#defaults()}, {@link Authenticator#allowAll()}, {@link
   * Authorizer#byPrincipalRights()}, {@link ReplicaOwners#inMemory()}, the system UTC clock for
   * token expiry, {@link System#nanoTime()}, {@link SessionObserver#NONE}.
   */
  public static final class Builder {

    private Hub hub;
    private SessionConfig config = SessionConfig.defaults();
    private Authenticator authenticator = Authenticator.allowAll();
    private Authorizer authorizer = Authorizer.byPrincipalRights();
    private ReplicaOwners replicaOwners = ReplicaOwners.inMemory();
    private Clock wallClock = Clock.systemUTC();
    private HybridLogicalClock clock;
    private ReplicaId serverId;
    private LongSupplier nanoTime = System::nanoTime;
    private SessionScheduler scheduler;
    private SessionObserver observer = SessionObserver.NONE;
    private SessionHooks hooks = SessionHooks.NONE;
    private final TreeMap<String, Long> advertised = new TreeMap<>();

    private Builder() {}

    /**
     * Adds a limit to WELCOME that another layer enforces (the hub's {@code maxFieldsPerDocument}),
     * so clients learn it; the session's own limits come from its config.
     */
    public Builder advertise(String limit, long value) {
      advertised.put(Objects.requireNonNull(limit, "limit"), value);
      return this;
    }

    public Builder hub(Hub hub) {
      this.hub = Objects.requireNonNull(hub, "hub");
      return this;
    }

    public Builder config(SessionConfig config) {
      this.config = Objects.requireNonNull(config, "config");
      return this;
    }

    public Builder authenticator(Authenticator authenticator) {
      this.authenticator = Objects.requireNonNull(authenticator, "authenticator");
      return this;
    }

    /** Gives a principal's access to a document on every SUBSCRIBE, UPDATE and PRESENCE. */
    public Builder authorizer(Authorizer authorizer) {
      this.authorizer = Objects.requireNonNull(authorizer, "authorizer");
      return this;
    }

    /**
     * Binds replica ids to authenticated subjects at HELLO; the server passes its store's {@code
     * claimReplica}, so owners survive restarts and are shared through Redis.
     */
    public Builder replicaOwners(ReplicaOwners replicaOwners) {
      this.replicaOwners = Objects.requireNonNull(replicaOwners, "replicaOwners");
      return this;
    }

    /** The wall clock a principal's expiry is measured against; for tests. */
    public Builder wallClock(Clock wallClock) {
      this.wallClock = Objects.requireNonNull(wallClock, "wallClock");
      return this;
    }

    /** The server's one HLC: WELCOME and PONG carry its time. */
    public Builder clock(HybridLogicalClock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** The server's replica id, sent in WELCOME. */
    public Builder serverId(ReplicaId serverId) {
      this.serverId = Objects.requireNonNull(serverId, "serverId");
      return this;
    }

    /** A monotonic nanosecond clock for the idle timeout and the rate limit. */
    public Builder nanoTime(LongSupplier nanoTime) {
      this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
      return this;
    }

    public Builder scheduler(SessionScheduler scheduler) {
      this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
      return this;
    }

    /** Told frame sizes, errors and closes of every session, for metrics. Default: nobody. */
    public Builder observer(SessionObserver observer) {
      this.observer = Objects.requireNonNull(observer, "observer");
      return this;
    }

    /**
     * Told of each connection's HELLO (which it may refuse), of its authentication (which it may
     * refuse or change) and of its end with the close code. Default {@link SessionHooks#NONE}.
     */
    public Builder hooks(SessionHooks hooks) {
      this.hooks = Objects.requireNonNull(hooks, "hooks");
      return this;
    }

    public SessionFactory build() {
      return new SessionFactory(this);
    }
  }
}

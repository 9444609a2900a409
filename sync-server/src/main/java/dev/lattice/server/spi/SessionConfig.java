package dev.lattice.server.spi;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.codec.CrdtCodecs;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.protocol.ProtocolLimits;
import dev.lattice.protocol.ProtocolVersion;
import dev.lattice.protocol.Welcome;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The policy limits one {@code ServerSession} enforces, and the codec limits it decodes with. The
 * limits that concern the client are advertised in WELCOME ({@link #limitsMap()}).
 *
 * <p>Immutable and thread-safe; one instance is shared by every session of a server, and so are the
 * codecs it builds from its limits ({@link #codec()}, {@link #crdtCodecs()}).
 */
public final class SessionConfig {

  private static final SessionConfig DEFAULTS = builder().build();

  private final int maxDocumentsPerConnection;
  private final int updatesPerSecond;
  private final int updateBurst;
  private final int rateLimitCloseThreshold;
  private final int catchUpsPerMinute;
  private final long bytesInPerSecond;
  private final Duration idleTimeout;
  private final Duration presenceTtl;
  private final Duration rightsRecheckInterval;
  private final int maxPresenceBytes;
  private final int maxPendingUpdates;
  private final ProtocolLimits protocolLimits;
  private final int maxProtocolVersion;

  /*
   * Built once per configuration, not per session: the codecs are stateless and thread-safe, and a
   * set of them (eight CRDT codecs with their writers and error-message prefixes) cost each idle
   * connection about 2 KiB of heap when every session made its own.
   */
  private final MessageCodec codec;
  private final CrdtCodecs crdtCodecs;

  private SessionConfig(Builder b) {
    this.maxDocumentsPerConnection = b.maxDocumentsPerConnection;
    this.updatesPerSecond = b.updatesPerSecond;
    this.updateBurst = b.updateBurst;
    this.rateLimitCloseThreshold = b.rateLimitCloseThreshold;
    this.catchUpsPerMinute = b.catchUpsPerMinute;
    this.bytesInPerSecond = b.bytesInPerSecond;
    this.idleTimeout = b.idleTimeout;
    this.presenceTtl = b.presenceTtl;
    this.rightsRecheckInterval = b.rightsRecheckInterval;
    this.maxPresenceBytes = b.maxPresenceBytes;
    this.maxPendingUpdates = b.maxPendingUpdates;
    this.protocolLimits = b.protocolLimits;
    this.codec = MessageCodec.create(protocolLimits);
    this.crdtCodecs = CrdtCodecs.create(protocolLimits.codecLimits());
    this.maxProtocolVersion = b.maxProtocolVersion;
  }

  /**
   * The defaults: 100 documents, 100 updates/s with bursts of 200, 60 s idle, 30 s presence TTL.
   */
  public static SessionConfig defaults() {
    return DEFAULTS;
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    return new Builder()
        .maxDocumentsPerConnection(maxDocumentsPerConnection)
        .updatesPerSecond(updatesPerSecond)
        .updateBurst(updateBurst)
        .rateLimitCloseThreshold(rateLimitCloseThreshold)
        .catchUpsPerMinute(catchUpsPerMinute)
        .bytesInPerSecond(bytesInPerSecond)
        .idleTimeout(idleTimeout)
        .presenceTtl(presenceTtl)
        .rightsRecheckInterval(rightsRecheckInterval)
        .maxPresenceBytes(maxPresenceBytes)
        .maxPendingUpdates(maxPendingUpdates)
        .protocolLimits(protocolLimits)
        .maxProtocolVersion(maxProtocolVersion);
  }

  /** Most documents one connection may have subscribed (or be subscribing) at once. */
  public int maxDocumentsPerConnection() {
    return maxDocumentsPerConnection;
  }

  /** Sustained UPDATE rate per connection: the token bucket's refill per second. */
  public int updatesPerSecond() {
    return updatesPerSecond;
  }

  /** UPDATEs a connection may send at once: the token bucket's capacity. */
  public int updateBurst() {
    return updateBurst;
  }

  /**
   * How many UPDATEs may be refused with RATE_LIMITED before the next refusal closes the session
   * with 4005; refusals are forgiven at {@link #updatesPerSecond()} (a token bucket of this
   * capacity, one token per refusal). A client that overshoots now and then is only refused; one
   * whose refusals come faster than the rate itself (it sends at more than twice the limit) is
   * closed within about {@code threshold / (sent - 2 * rate)} seconds.
   */
  public int rateLimitCloseThreshold() {
    return rateLimitCloseThreshold;
  }

  /**
   * Catch-ups a connection may get a minute: SUBSCRIBEs whose SYNC sends it something. A token
   * bucket of this many, refilled at this many a minute; a SUBSCRIBE takes a token, and gives it
   * back when its SYNC turns out empty (the client was up to date, as after most reconnects) or the
   * SUBSCRIBE failed. One without a token is refused with ERROR RATE_LIMITED (the SUBSCRIBE changes
   * nothing; the client retries later). Default 300, room for a reconnect that catches up every one
   * of the default 100 documents, three times over.
   */
  public int catchUpsPerMinute() {
    return catchUpsPerMinute;
  }

  /**
   * Bytes a connection may send the server per second, as frames: past a burst of a second's worth
   * (at least two frames of {@code maxFrameBytes}), the server reads the connection's next frame
   * only once the rate allows it, so a flooding client is slowed down by TCP, not refused. Default
   * 4 MiB/s.
   */
  public long bytesInPerSecond() {
    return bytesInPerSecond;
  }

  /** The session closes (4004) after this long without an incoming frame; it PINGs at half. */
  public Duration idleTimeout() {
    return idleTimeout;
  }

  /** The longest presence TTL honoured; longer ones are capped to it. */
  public Duration presenceTtl() {
    return presenceTtl;
  }

  /**
   * How often a session asks the authorizer again whether its principal may still read each
   * document it is subscribed to. Every request is checked as it comes, but fan-out to an existing
   * subscription needs no request: without this a revoked read right would keep receiving every
   * change until the client disconnected. On loss of read the session sends ERROR FORBIDDEN and
   * ends that subscription. Default 30 s; the check runs on the session timer only while the
   * connection has subscriptions.
   */
  public Duration rightsRecheckInterval() {
    return rightsRecheckInterval;
  }

  /** Largest presence value, in bytes of its raw MessagePack encoding. */
  public int maxPresenceBytes() {
    return maxPresenceBytes;
  }

  /**
   * UPDATEs of one connection that may await their reply (the hub is merging them or the store is
   * making them durable) before the server stops reading the connection; it reads again once half
   * of them are answered. Back-pressure from the store to the socket: a client that sends faster
   * than the store commits is slowed down by TCP instead of queueing without bound in the server.
   */
  public int maxPendingUpdates() {
    return maxPendingUpdates;
  }

  /** The limits frames are decoded and encoded with. */
  public ProtocolLimits protocolLimits() {
    return protocolLimits;
  }

  /** The frame codec of {@link #protocolLimits()}, shared by every session of this config. */
  public MessageCodec codec() {
    return codec;
  }

  /** The CRDT codecs of {@link #protocolLimits()}' codec limits, shared like {@link #codec()}. */
  public CrdtCodecs crdtCodecs() {
    return crdtCodecs;
  }

  /**
   * The highest protocol version the session negotiates, from {@link ProtocolVersion#MIN} to {@link
   * ProtocolVersion#MAX} (the default): 1 makes the server a version 1 server, for a staged rollout
   * or to test clients against one.
   */
  public int maxProtocolVersion() {
    return maxProtocolVersion;
  }

  /** The limits advertised in WELCOME, by their protocol names. */
  public SortedMap<String, Long> limitsMap() {
    TreeMap<String, Long> limits = new TreeMap<>();
    limits.put(Welcome.LIMIT_MAX_FRAME_BYTES, (long) protocolLimits.maxFrameBytes());
    limits.put(Welcome.LIMIT_MAX_DOCUMENTS_PER_CONNECTION, (long) maxDocumentsPerConnection);
    limits.put(Welcome.LIMIT_UPDATES_PER_SECOND, (long) updatesPerSecond);
    limits.put(Welcome.LIMIT_UPDATE_BURST, (long) updateBurst);
    limits.put(Welcome.LIMIT_CATCH_UPS_PER_MINUTE, (long) catchUpsPerMinute);
    limits.put(Welcome.LIMIT_BYTES_IN_PER_SECOND, bytesInPerSecond);
    limits.put(Welcome.LIMIT_IDLE_TIMEOUT_MILLIS, idleTimeout.toMillis());
    limits.put(Welcome.LIMIT_MAX_PRESENCE_BYTES, (long) maxPresenceBytes);
    limits.put(Welcome.LIMIT_PRESENCE_TTL_MILLIS, presenceTtl.toMillis());
    return limits;
  }

  /**
   * The size in bytes of the largest WELCOME a server of this config can send, with {@code
   * advertised} limits beside its own (their values as given: pass the largest they may take): the
   * widest server id, time and session id.
   */
  public int welcomeBytes(Map<String, Long> advertised) {
    TreeMap<String, Long> limits = new TreeMap<>(limitsMap());
    limits.putAll(advertised);
    Welcome widest =
        Welcome.of(
            ProtocolVersion.MAX,
            ReplicaId.of(Long.MIN_VALUE),
            HlcTimestamp.of(HlcTimestamp.MAX_PHYSICAL_MILLIS, HlcTimestamp.MAX_LOGICAL),
            limits,
            "s-" + Long.MAX_VALUE);
    return MessageCodec.defaults().encode(widest).length;
  }

  /**
   * Checks that this config's {@code maxFrameBytes} holds its own WELCOME with {@code advertised}
   * limits beside its own: a server that cannot send WELCOME closes every HELLO with 1011.
   *
   * @throws IllegalArgumentException naming maxFrameBytes and the size it needs
   */
  public void requireWelcomeFits(Map<String, Long> advertised) {
    int welcome = welcomeBytes(advertised);
    if (welcome > protocolLimits.maxFrameBytes()) {
      throw new IllegalArgumentException(
          "maxFrameBytes must hold the server's own WELCOME, "
              + welcome
              + " bytes with these limits, was "
              + protocolLimits.maxFrameBytes());
    }
  }

  @Override
  public String toString() {
    return "SessionConfig[maxDocumentsPerConnection="
        + maxDocumentsPerConnection
        + ", updatesPerSecond="
        + updatesPerSecond
        + ", updateBurst="
        + updateBurst
        + ", rateLimitCloseThreshold="
        + rateLimitCloseThreshold
        + ", catchUpsPerMinute="
        + catchUpsPerMinute
        + ", bytesInPerSecond="
        + bytesInPerSecond
        + ", idleTimeout="
        + idleTimeout
        + ", presenceTtl="
        + presenceTtl
        + ", rightsRecheckInterval="
        + rightsRecheckInterval
        + ", maxPresenceBytes="
        + maxPresenceBytes
        + ", maxPendingUpdates="
        + maxPendingUpdates
        + ", protocolLimits="
        + protocolLimits
        + ", maxProtocolVersion="
        + maxProtocolVersion
        + "]";
  }

  /** Builds a {@link SessionConfig}; every setter refuses a bad value at once, naming it. */
  public static final class Builder {

    private static final int MAX_RATE = 1_000_000;
    private static final Duration MAX_DURATION = Duration.ofDays(1);

    private int maxDocumentsPerConnection = 100;
    private int updatesPerSecond = 100;
    private int updateBurst = 200;
    private int rateLimitCloseThreshold = 1000;
    private int catchUpsPerMinute = 300;
    private long bytesInPerSecond = 4L * 1024 * 1024;
    private Duration idleTimeout = Duration.ofSeconds(60);
    private Duration presenceTtl = Duration.ofSeconds(30);
    private Duration rightsRecheckInterval = Duration.ofSeconds(30);
    private int maxPresenceBytes = 4096;
    private int maxPendingUpdates = 256;
    private ProtocolLimits protocolLimits = ProtocolLimits.defaults();
    private int maxProtocolVersion = ProtocolVersion.MAX;

    private Builder() {}

    public Builder maxDocumentsPerConnection(int documents) {
      this.maxDocumentsPerConnection = between("maxDocumentsPerConnection", documents, 1, 1 << 20);
      return this;
    }

    public Builder updatesPerSecond(int updates) {
      this.updatesPerSecond = between("updatesPerSecond", updates, 1, MAX_RATE);
      return this;
    }

    public Builder updateBurst(int updates) {
      this.updateBurst = between("updateBurst", updates, 1, MAX_RATE);
      return this;
    }

    public Builder catchUpsPerMinute(int catchUps) {
      this.catchUpsPerMinute = between("catchUpsPerMinute", catchUps, 1, MAX_RATE);
      return this;
    }

    public Builder bytesInPerSecond(long bytes) {
      if (bytes < 1024 || bytes > (1L << 40)) {
        throw new IllegalArgumentException(
            "bytesInPerSecond must be in [1024, " + (1L << 40) + "], was " + bytes);
      }
      this.bytesInPerSecond = bytes;
      return this;
    }

    public Builder rateLimitCloseThreshold(int refusals) {
      this.rateLimitCloseThreshold =
          between("rateLimitCloseThreshold", refusals, 1, Integer.MAX_VALUE);
      return this;
    }

    public Builder idleTimeout(Duration timeout) {
      this.idleTimeout = duration("idleTimeout", timeout, Duration.ofMillis(2));
      return this;
    }

    public Builder presenceTtl(Duration ttl) {
      this.presenceTtl = duration("presenceTtl", ttl, Duration.ofMillis(1));
      return this;
    }

    /** See {@link SessionConfig#rightsRecheckInterval()}; default 30 s, at least 1 ms. */
    public Builder rightsRecheckInterval(Duration interval) {
      this.rightsRecheckInterval =
          duration("rightsRecheckInterval", interval, Duration.ofMillis(1));
      return this;
    }

    public Builder maxPresenceBytes(int bytes) {
      this.maxPresenceBytes = between("maxPresenceBytes", bytes, 0, Integer.MAX_VALUE);
      return this;
    }

    /** See {@link SessionConfig#maxPendingUpdates()}; default 256, at least 2. */
    public Builder maxPendingUpdates(int updates) {
      this.maxPendingUpdates = between("maxPendingUpdates", updates, 2, 1 << 20);
      return this;
    }

    public Builder protocolLimits(ProtocolLimits limits) {
      this.protocolLimits = Objects.requireNonNull(limits, "protocolLimits");
      return this;
    }

    public Builder maxProtocolVersion(int version) {
      this.maxProtocolVersion =
          between("maxProtocolVersion", version, ProtocolVersion.MIN, ProtocolVersion.MAX);
      return this;
    }

    /**
     * Builds the config.
     *
     * @throws IllegalArgumentException if {@code maxFrameBytes} cannot hold the config's own
     *     WELCOME
     */
    public SessionConfig build() {
      SessionConfig config = new SessionConfig(this);
      config.requireWelcomeFits(Map.of());
      return config;
    }

    private static int between(String name, int value, int min, int max) {
      if (value < min || value > max) {
        throw new IllegalArgumentException(
            name + " must be in [" + min + ", " + max + "], was " + value);
      }
      return value;
    }

    private static Duration duration(String name, Duration value, Duration min) {
      Objects.requireNonNull(value, name);
      if (value.compareTo(min) < 0 || value.compareTo(MAX_DURATION) > 0) {
        throw new IllegalArgumentException(
            name + " must be in [" + min + ", " + MAX_DURATION + "], was " + value);
      }
      return value;
    }
  }
}

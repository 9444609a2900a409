package dev.lattice.server.redis;

import dev.lattice.crdt.ReplicaId;
import io.lettuce.core.resource.ClientResources;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.function.LongConsumer;

/**
 * The settings of a {@link RedisReplicator}. Built with {@link #builder}; setters fail fast.
 * Immutable and thread-safe.
 */
public final class RedisReplicatorConfig {

  /** Default {@link Builder#headCheckInterval}: one second. */
  public static final Duration DEFAULT_HEAD_CHECK_INTERVAL = Duration.ofSeconds(1);

  /** Default {@link Builder#commandTimeout}: two seconds. */
  public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(2);

  private final List<String> uris;
  private final boolean cluster;
  private final ReplicaId origin;
  private final String keyPrefix;
  private final Duration headCheckInterval;
  private final Duration commandTimeout;
  private final ClientResources clientResources;
  private final LongConsumer lagListener;

  private RedisReplicatorConfig(Builder b) {
    this.uris = b.uris;
    this.cluster = b.cluster;
    this.origin = b.origin;
    this.keyPrefix = b.keyPrefix;
    this.headCheckInterval = b.headCheckInterval;
    this.commandTimeout = b.commandTimeout;
    this.clientResources = b.clientResources;
    this.lagListener = b.lagListener;
  }

  /**
   * A builder for the Redis at {@code uri} ({@code redis://host:port}, as Lettuce reads it) and the
   * server's replica id, which marks its own messages.
   */
  public static Builder builder(String uri, ReplicaId origin) {
    return new Builder(List.of(Objects.requireNonNull(uri, "uri must not be null")), false, origin);
  }

  /**
   * A builder for the Redis Cluster reached through {@code seedUris} (one or more {@code
   * redis://host:port}): sharded pub/sub, each document's channel on its data's shard.
   *
   * @throws IllegalArgumentException if no seed is given
   */
  public static Builder cluster(List<String> seedUris, ReplicaId origin) {
    if (seedUris.isEmpty()) {
      throw new IllegalArgumentException("a Redis Cluster needs at least one seed URI");
    }
    return new Builder(List.copyOf(seedUris), true, origin);
  }

  /** The Redis URI, or the cluster's seed URIs. */
  public List<String> uris() {
    return uris;
  }

  /** Whether {@link #uris} are seeds of a Redis Cluster. */
  public boolean isCluster() {
    return cluster;
  }

  /** This server's replica id. */
  public ReplicaId origin() {
    return origin;
  }

  /** The prefix of every Redis name; must equal the store's. */
  public String keyPrefix() {
    return keyPrefix;
  }

  /** How often the heads of followed documents are read. */
  public Duration headCheckInterval() {
    return headCheckInterval;
  }

  /** How long a publish or head read may take before it fails. */
  public Duration commandTimeout() {
    return commandTimeout;
  }

  /** Lettuce's shared resources (threads, metrics) to use, or null to make its own. */
  public ClientResources clientResources() {
    return clientResources;
  }

  /** Told the lag of every message of another server received; never null. */
  public LongConsumer lagListener() {
    return lagListener;
  }

  /** Builds a {@link RedisReplicatorConfig}. Not thread-safe. */
  public static final class Builder {
    private final List<String> uris;
    private final boolean cluster;
    private final ReplicaId origin;
    private String keyPrefix = RedisKeys.DEFAULT_PREFIX;
    private Duration headCheckInterval = DEFAULT_HEAD_CHECK_INTERVAL;
    private Duration commandTimeout = DEFAULT_COMMAND_TIMEOUT;
    private ClientResources clientResources;
    private LongConsumer lagListener = lag -> {};

    private Builder(List<String> uris, boolean cluster, ReplicaId origin) {
      this.uris = uris;
      this.cluster = cluster;
      this.origin = Objects.requireNonNull(origin, "origin must not be null");
    }

    /** The prefix of every Redis name; default {@code lattice}. */
    public Builder keyPrefix(String prefix) {
      new RedisKeys(prefix); // validates
      this.keyPrefix = prefix;
      return this;
    }

    /**
     * How often the heads of the followed documents are read to catch a lost last message; between
     * 10 ms and 1 minute. Default one second: a document whose last update's message was lost is
     * repaired within about this long plus the hub's repair delay.
     */
    public Builder headCheckInterval(Duration interval) {
      this.headCheckInterval = within("headCheckInterval", interval, Duration.ofMinutes(1));
      return this;
    }

    /** How long a publish or head read may take; between 10 ms and 1 minute. Default 2 s. */
    public Builder commandTimeout(Duration timeout) {
      this.commandTimeout = within("commandTimeout", timeout, Duration.ofMinutes(1));
      return this;
    }

    /**
     * Lettuce's resources (event loops, command latency recording) shared with the store; the
     * caller owns them and shuts them down after closing the replicator. Default: the replicator
     * makes and owns its own.
     */
    public Builder clientResources(ClientResources resources) {
      this.clientResources = Objects.requireNonNull(resources, "resources must not be null");
      return this;
    }

    /**
     * Told, on Lettuce's thread, the replication lag of every delta of another server received:
     * milliseconds from its publish to its receipt here, by the two servers' wall clocks (so skew
     * between them shows up in it). Must be quick and not throw. Default: nobody is told.
     */
    public Builder lagListener(LongConsumer listener) {
      this.lagListener = Objects.requireNonNull(listener, "listener must not be null");
      return this;
    }

    private static Duration within(String name, Duration d, Duration max) {
      Objects.requireNonNull(d, name + " must not be null");
      if (d.compareTo(Duration.ofMillis(10)) < 0 || d.compareTo(max) > 0) {
        throw new IllegalArgumentException(
            name + " must be within 10 ms and " + max + ", was " + d);
      }
      return d;
    }

    /** The configuration. */
    public RedisReplicatorConfig build() {
      return new RedisReplicatorConfig(this);
    }
  }
}

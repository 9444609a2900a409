package dev.lattice.server.redis;

import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The settings of a {@link RedisDocumentStore}. Built with {@link #builder} (one Redis) or {@link
 * #cluster} (a Redis Cluster); setters fail fast, naming the bad value. Immutable and thread-safe.
 */
public final class RedisStoreConfig {

  /** Default {@link Builder#commandTimeout}: two seconds. */
  public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(2);

  /** Default {@link Builder#compactionThreshold}: 1000 deltas. */
  public static final int DEFAULT_COMPACTION_THRESHOLD = 1000;

  private static final Duration MIN_TIMEOUT = Duration.ofMillis(10);
  private static final Duration MAX_TIMEOUT = Duration.ofMinutes(1);

  private final List<String> uris;
  private final boolean cluster;
  private final String keyPrefix;
  private final Duration commandTimeout;
  private final int waitReplicas;
  private final Duration waitTimeout;
  private final int compactionThreshold;
  private final ClientResources clientResources;

  private RedisStoreConfig(Builder b) {
    this.uris = b.uris;
    this.cluster = b.cluster;
    this.keyPrefix = b.keyPrefix;
    this.commandTimeout = b.commandTimeout;
    this.waitReplicas = b.waitReplicas;
    this.waitTimeout = b.waitTimeout;
    this.compactionThreshold = b.compactionThreshold;
    this.clientResources = b.clientResources;
  }

  /**
   * A builder for the one Redis at {@code uri} ({@code redis://host:port}, as Lettuce reads it).
   *
   * @throws NullPointerException if {@code uri} is null
   */
  public static Builder builder(String uri) {
    return new Builder(List.of(Objects.requireNonNull(uri, "uri must not be null")), false);
  }

  /**
   * A builder for the Redis Cluster reached through {@code seedUris} (one or more {@code
   * redis://host:port}); the client learns the rest of the cluster from them.
   *
   * @throws IllegalArgumentException if no seed is given
   */
  public static Builder cluster(List<String> seedUris) {
    if (seedUris.isEmpty()) {
      throw new IllegalArgumentException("a Redis Cluster needs at least one seed URI");
    }
    return new Builder(List.copyOf(seedUris), true);
  }

  /** The Redis URI, or the cluster's seed URIs. */
  public List<String> uris() {
    return uris;
  }

  /** Whether {@link #uris} are seeds of a Redis Cluster. */
  public boolean isCluster() {
    return cluster;
  }

  /** The prefix of every Redis name; must equal the replicator's. */
  public String keyPrefix() {
    return keyPrefix;
  }

  /** How long one Redis command may take before it fails. */
  public Duration commandTimeout() {
    return commandTimeout;
  }

  /** How many replicas must have an append before it is acknowledged; 0 for no WAIT. */
  public int waitReplicas() {
    return waitReplicas;
  }

  /** How long an append waits for {@link #waitReplicas} replicas; zero when it does not wait. */
  public Duration waitTimeout() {
    return waitTimeout;
  }

  /** Log length of a document at which it is compacted in the background; 0 for never. */
  public int compactionThreshold() {
    return compactionThreshold;
  }

  @Override
  public String toString() {
    return "RedisStoreConfig{uris="
        + uris.stream().map(RedisStoreConfig::withoutPassword).toList()
        + ", cluster="
        + cluster
        + ", keyPrefix="
        + keyPrefix
        + ", commandTimeout="
        + commandTimeout
        + ", waitReplicas="
        + waitReplicas
        + ", waitTimeout="
        + waitTimeout
        + ", compactionThreshold="
        + compactionThreshold
        + "}";
  }

  /** Lettuce's shared resources, or null if the store makes its own. */
  public ClientResources clientResources() {
    return clientResources;
  }

  /**
   * Lettuce resources as the store makes its own: reconnect attempts from 10 ms, doubling up to 1
   * s, since a store is needed at once once Redis is back. For {@link Builder#clientResources}.
   */
  public static ClientResources.Builder clientResourcesBuilder() {
    return ClientResources.builder()
        .reconnectDelay(
            Delay.exponential(
                Duration.ofMillis(10), Duration.ofSeconds(1), 2, TimeUnit.MILLISECONDS));
  }

  /** Builds a {@link RedisStoreConfig}. Not thread-safe. */
  public static final class Builder {
    private final List<String> uris;
    private final boolean cluster;
    private String keyPrefix = RedisKeys.DEFAULT_PREFIX;
    private Duration commandTimeout = DEFAULT_COMMAND_TIMEOUT;
    private int waitReplicas;
    private Duration waitTimeout = Duration.ZERO;
    private int compactionThreshold = DEFAULT_COMPACTION_THRESHOLD;
    private ClientResources clientResources;

    private Builder(List<String> uris, boolean cluster) {
      this.uris = uris;
      this.cluster = cluster;
    }

    /**
     * The prefix of every Redis name; default {@link RedisKeys#DEFAULT_PREFIX}.
     *
     * @throws IllegalArgumentException if it is empty or holds a brace
     */
    public Builder keyPrefix(String prefix) {
      new RedisKeys(Objects.requireNonNull(prefix, "keyPrefix must not be null")); // validates
      this.keyPrefix = prefix;
      return this;
    }

    /**
     * How long one command may take before its caller sees a {@code StoreException}; between 10 ms
     * and 1 minute. Default 2 s. An append may wait up to this long behind an earlier append of its
     * document, then up to this long for its own command.
     */
    public Builder commandTimeout(Duration timeout) {
      this.commandTimeout = within("commandTimeout", timeout);
      return this;
    }

    /**
     * Acknowledge an append only once {@code replicas} replicas of the primary that took it have it
     * ({@code WAIT replicas timeout}); 0 (the default) acknowledges when the primary answers. WAIT
     * holds the store's write connection while it waits, so keep the timeout well below {@link
     * #commandTimeout}: appends of other documents wait behind it.
     *
     * @param replicas at least 0
     * @param timeout how long to wait for them, between 10 ms and 1 minute (ignored when {@code
     *     replicas} is 0)
     * @throws IllegalArgumentException if {@code replicas} is negative or the timeout out of range
     */
    public Builder waitReplicas(int replicas, Duration timeout) {
      if (replicas < 0) {
        throw new IllegalArgumentException("waitReplicas must be at least 0, was " + replicas);
      }
      this.waitTimeout = replicas == 0 ? Duration.ZERO : within("waitReplicas timeout", timeout);
      this.waitReplicas = replicas;
      return this;
    }

    /**
     * Compact a document in the background once its log holds this many deltas (appended by any
     * server); 0 never compacts on its own. Default 1000. Bounds both Redis memory and the work of
     * a load.
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder compactionThreshold(int deltas) {
      if (deltas < 0) {
        throw new IllegalArgumentException("compactionThreshold must be at least 0, was " + deltas);
      }
      this.compactionThreshold = deltas;
      return this;
    }

    /**
     * Lettuce's resources (event loops, reconnect pacing, command latency recording) to share with
     * other Redis clients of the process, such as the replicator; the caller owns them and shuts
     * them down after closing the store. Start from {@link #clientResourcesBuilder()} to keep the
     * store's quick reconnects. Default: the store makes and owns its own.
     */
    public Builder clientResources(ClientResources resources) {
      this.clientResources = Objects.requireNonNull(resources, "resources must not be null");
      return this;
    }

    private static Duration within(String name, Duration d) {
      Objects.requireNonNull(d, name + " must not be null");
      if (d.compareTo(MIN_TIMEOUT) < 0 || d.compareTo(MAX_TIMEOUT) > 0) {
        throw new IllegalArgumentException(
            name + " must be within " + MIN_TIMEOUT + " and " + MAX_TIMEOUT + ", was " + d);
      }
      return d;
    }

    /** The configuration. */
    public RedisStoreConfig build() {
      return new RedisStoreConfig(this);
    }
  }

  /** The URI for logs and messages: {@code redis://user:secret@host} becomes {@code user:***}. */
  static String withoutPassword(String uri) {
    return uri.replaceFirst("^(rediss?://)([^:@/]*):[^@/]*@", "$1$2:***@");
  }
}

package dev.lattice.server.redis;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.codec.CrdtCodecs;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.protocol.Presence;
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.ReplicationSink;
import dev.lattice.server.spi.Replicator;
import dev.lattice.server.spi.StoreCursor;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.KeyValue;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisURI;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.cluster.pubsub.RedisClusterPubSubAdapter;
import io.lettuce.core.cluster.pubsub.StatefulRedisClusterPubSubConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The {@link Replicator} over Redis pub/sub: one channel per document ({@link RedisKeys#channel}),
 * one publish per durable round and per presence change, a subscription only for documents live on
 * this server.
 *
 * <p>Pub/sub is only the fast path: it drops messages when a subscriber disconnects or lags past
 * {@code client-output-buffer-limit pubsub}, and a publisher may die between its append and its
 * publish. The store in Redis is the truth, and every way a message can go missing is reported to
 * the hub, which then reads what it lacks from the store:
 *
 * <ul>
 *   <li>each round's message carries its store position and the one before it, so the hub sees a
 *       break in the chain at the next message;
 *   <li>after the subscription connection reconnects (Lettuce resubscribes by itself), every
 *       followed document is reported as {@link ReplicationSink#mayHaveMissed};
 *   <li>every {@link RedisReplicatorConfig#headCheckInterval()}, the head of every followed
 *       document is read ({@code MGET} of their {@link RedisKeys#head} keys) and reported through
 *       {@link ReplicationSink#head}: that catches the last message of a burst lost with nothing
 *       after it, and a publish that never happened;
 *   <li>a message it cannot read (a newer format, damage) is reported as a possible miss.
 * </ul>
 *
 * <p>Messages from this server (same origin replica id) are skipped. Two connections: one
 * subscribed, one for publishes and head reads. On Redis Cluster ({@link
 * RedisReplicatorConfig#cluster}) it uses sharded pub/sub: SPUBLISH, and SSUBSCRIBE on the master
 * that owns the channel's slot, which is the slot of the document's data, so a round's message
 * stays within its shard. A reconnect of one node's subscription there is caught by the head check
 * rather than reported at once.
 *
 * <p>Thread-safe.
 */
public final class RedisReplicator implements Replicator {

  private static final System.Logger LOG = System.getLogger(RedisReplicator.class.getName());
  private static final int HEAD_BATCH = 500;

  private final RedisReplicatorConfig config;
  private final RedisKeys keys;
  private final long origin;
  private final CrdtCodecs codecs = CrdtCodecs.defaults();
  private final MessageCodec protocol = MessageCodec.defaults();
  private final PubSub bus;
  private final ScheduledExecutorService checker;

  /** Channel name to document id, for every followed document. */
  private final ConcurrentHashMap<String, String> followed = new ConcurrentHashMap<>();

  private final AtomicBoolean connectedOnce = new AtomicBoolean();
  private volatile ReplicationSink sink;
  private volatile boolean closed;

  private final AtomicLong published = new AtomicLong();
  private final AtomicLong publishFailures = new AtomicLong();
  private final AtomicLong received = new AtomicLong();
  private final AtomicLong unreadable = new AtomicLong();
  private final AtomicLong reconnects = new AtomicLong();
  private final AtomicLong headChecks = new AtomicLong();
  private final AtomicLong lastLagMillis = new AtomicLong();

  private RedisReplicator(RedisReplicatorConfig config) {
    this.config = config;
    this.keys = new RedisKeys(config.keyPrefix());
    this.origin = config.origin().value();
    try {
      this.bus =
          config.isCluster()
              ? new ClusterPubSub(config, this::onMessage, this::onConnected)
              : new StandalonePubSub(config, this::onMessage, this::onConnected);
    } catch (RuntimeException e) {
      throw new IllegalStateException(
          "cannot connect to Redis at " + String.join(",", config.uris()) + ": " + e.getMessage(),
          e);
    }
    this.checker =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "lattice-redis-head-check");
              t.setDaemon(true);
              return t;
            });
  }

  private void onConnected() {
    // The first connection is the start, every later one a reconnect that may have lost messages.
    if (connectedOnce.getAndSet(true)) {
      reconnected();
    }
  }

  /**
   * Connects to Redis.
   *
   * @throws IllegalStateException if Redis cannot be reached, naming its URI
   */
  public static RedisReplicator connect(RedisReplicatorConfig config) {
    return new RedisReplicator(Objects.requireNonNull(config, "config"));
  }

  @Override
  public void start(ReplicationSink sink) {
    this.sink = Objects.requireNonNull(sink, "sink");
    long every = config.headCheckInterval().toNanos();
    checker.scheduleWithFixedDelay(this::checkHeads, every, every, TimeUnit.NANOSECONDS);
  }

  @Override
  public CompletableFuture<Void> follow(String documentId) {
    String channel = keys.channel(documentId);
    followed.put(channel, documentId);
    return bus.subscribe(RedisKeys.bytes(channel));
  }

  @Override
  public void unfollow(String documentId) {
    String channel = keys.channel(documentId);
    if (followed.remove(channel) != null && !closed) {
      bus.unsubscribe(RedisKeys.bytes(channel));
    }
  }

  @Override
  public void announce(String documentId, DocumentDelta delta, Appended appended) {
    publish(
        documentId,
        new ReplicationMessage.Delta(origin, System.currentTimeMillis(), delta, appended));
  }

  @Override
  public void announcePresence(Presence presence) {
    publish(presence.documentId(), new ReplicationMessage.PresenceChange(origin, presence));
  }

  private void publish(String documentId, ReplicationMessage message) {
    if (closed) {
      return;
    }
    byte[] bytes = ReplicationMessage.encode(message, codecs, protocol);
    try {
      bus.publish(RedisKeys.bytes(keys.channel(documentId)), bytes)
          .whenComplete(
              (n, failure) -> {
                if (failure == null) {
                  published.incrementAndGet();
                } else {
                  // The receivers' chain check or head check repairs the loss.
                  publishFailures.incrementAndGet();
                  LOG.log(
                      System.Logger.Level.DEBUG, "publish to " + documentId + " failed", failure);
                }
              });
    } catch (RuntimeException e) {
      publishFailures.incrementAndGet();
    }
  }

  private void reconnected() {
    reconnects.incrementAndGet();
    ReplicationSink s = sink;
    if (s == null) {
      return;
    }
    LOG.log(
        System.Logger.Level.INFO,
        "Redis subscription reconnected; repairing " + followed.size() + " live documents");
    for (String documentId : List.copyOf(followed.values())) {
      s.mayHaveMissed(documentId);
    }
  }

  /** Reads the heads of every followed document and reports them. */
  private void checkHeads() {
    ReplicationSink s = sink;
    if (s == null || closed || followed.isEmpty()) {
      return;
    }
    headChecks.incrementAndGet();
    List<String> documents = new ArrayList<>(followed.values());
    for (int from = 0; from < documents.size(); from += HEAD_BATCH) {
      List<String> batch = documents.subList(from, Math.min(documents.size(), from + HEAD_BATCH));
      byte[][] heads = new byte[batch.size()][];
      for (int i = 0; i < heads.length; i++) {
        heads[i] = RedisKeys.bytes(keys.head(batch.get(i)));
      }
      List<String> ids = List.copyOf(batch);
      try {
        bus.mget(heads)
            .whenComplete(
                (values, failure) -> {
                  if (failure != null) {
                    LOG.log(System.Logger.Level.DEBUG, "head check failed", failure);
                    return;
                  }
                  for (int i = 0; i < values.size(); i++) {
                    KeyValue<byte[], byte[]> kv = values.get(i);
                    if (kv.hasValue()) {
                      reportHead(s, ids.get(i), kv.getValue());
                    } else {
                      // Nothing stored: Redis lost it (or it is new); the hub tells which.
                      s.head(ids.get(i), StoreCursor.ORIGIN);
                    }
                  }
                });
      } catch (RuntimeException e) {
        LOG.log(System.Logger.Level.DEBUG, "head check failed", e);
      }
    }
  }

  private static void reportHead(ReplicationSink s, String documentId, byte[] head) {
    try {
      s.head(documentId, StoreCursor.parse(new String(head, StandardCharsets.UTF_8)));
    } catch (IllegalArgumentException e) {
      LOG.log(System.Logger.Level.WARNING, "document '" + documentId + "' has a bad head", e);
    }
  }

  /** Counters since start; a snapshot. */
  public Stats stats() {
    return new Stats(
        published.get(),
        publishFailures.get(),
        received.get(),
        unreadable.get(),
        reconnects.get(),
        headChecks.get(),
        lastLagMillis.get());
  }

  /**
   * Counters of a {@link RedisReplicator}. Immutable.
   *
   * @param published messages published
   * @param publishFailures publishes that failed (Redis away); receivers repair
   * @param received messages of other servers received for followed documents
   * @param unreadable messages that could not be read, each answered by a repair
   * @param reconnects reconnections of the subscription, each answered by repairing everything
   * @param headChecks rounds of the periodic head check
   * @param lastLagMillis publish to receipt of the last message received, by the two wall clocks
   */
  public record Stats(
      long published,
      long publishFailures,
      long received,
      long unreadable,
      long reconnects,
      long headChecks,
      long lastLagMillis) {}

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    checker.shutdownNow();
    bus.close();
  }

  private void onMessage(byte[] channel, byte[] message) {
    String documentId = followed.get(new String(channel, StandardCharsets.UTF_8));
    ReplicationSink s = sink;
    if (documentId == null || s == null) {
      return;
    }
    ReplicationMessage m;
    try {
      m = ReplicationMessage.decode(message, codecs, protocol);
    } catch (ReplicationMessage.UnreadableMessageException e) {
      unreadable.incrementAndGet();
      LOG.log(
          System.Logger.Level.WARNING,
          "unreadable replication message on '" + documentId + "'; repairing: " + e.getMessage());
      s.mayHaveMissed(documentId);
      return;
    }
    if (m.origin() == origin) {
      return;
    }
    received.incrementAndGet();
    if (m instanceof ReplicationMessage.Delta d) {
      long lag = Math.max(0, System.currentTimeMillis() - d.sentAtMillis());
      lastLagMillis.set(lag);
      config.lagListener().accept(lag);
      s.deliver(documentId, d.delta(), d.appended());
    } else if (m instanceof ReplicationMessage.PresenceChange p
        && p.presence().documentId().equals(documentId)) {
      s.presence(p.presence());
    }
  }

  /** The Redis side: a subscribing connection and a command connection. */
  private interface PubSub {
    CompletableFuture<Void> subscribe(byte[] channel);

    void unsubscribe(byte[] channel);

    CompletionStage<Long> publish(byte[] channel, byte[] message);

    CompletionStage<List<KeyValue<byte[], byte[]>>> mget(byte[][] keys);

    void close();
  }

  private static TimeoutOptions timeouts(RedisReplicatorConfig config) {
    return TimeoutOptions.enabled(config.commandTimeout());
  }

  /** One Redis: PUBLISH and SUBSCRIBE. */
  private static final class StandalonePubSub implements PubSub {
    private final RedisClient client;
    private final StatefulRedisPubSubConnection<byte[], byte[]> subscriber;
    private final StatefulRedisConnection<byte[], byte[]> commands;

    StandalonePubSub(
        RedisReplicatorConfig config,
        java.util.function.BiConsumer<byte[], byte[]> onMessage,
        Runnable onConnected) {
      RedisURI uri = RedisURI.create(config.uris().get(0));
      uri.setTimeout(config.commandTimeout());
      client =
          config.clientResources() != null
              ? RedisClient.create(config.clientResources(), uri)
              : RedisClient.create(uri);
      client.setOptions(
          ClientOptions.builder()
              .autoReconnect(true)
              // Publishes and head reads are best effort: fail them while Redis is away instead
              // of queueing them without bound; the receivers repair from the store.
              .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
              .timeoutOptions(timeouts(config))
              .build());
      try {
        subscriber = client.connectPubSub(ByteArrayCodec.INSTANCE);
        commands = client.connect(ByteArrayCodec.INSTANCE);
      } catch (RuntimeException e) {
        client.shutdown();
        throw e;
      }
      onConnected.run();
      subscriber.addListener(
          new RedisPubSubAdapter<byte[], byte[]>() {
            @Override
            public void message(byte[] channel, byte[] message) {
              onMessage.accept(channel, message);
            }
          });
      subscriber.addListener(
          new RedisConnectionStateListener() {
            @Override
            public void onRedisConnected(RedisChannelHandler<?, ?> c, SocketAddress address) {
              onConnected.run();
            }
          });
    }

    @Override
    public CompletableFuture<Void> subscribe(byte[] channel) {
      return subscriber.async().subscribe(channel).toCompletableFuture();
    }

    @Override
    public void unsubscribe(byte[] channel) {
      subscriber.async().unsubscribe(channel);
    }

    @Override
    public CompletionStage<Long> publish(byte[] channel, byte[] message) {
      return commands.async().publish(channel, message);
    }

    @Override
    public CompletionStage<List<KeyValue<byte[], byte[]>>> mget(byte[][] keys) {
      return commands.async().mget(keys);
    }

    @Override
    public void close() {
      try {
        subscriber.close();
        commands.close();
      } finally {
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      }
    }
  }

  /**
   * Redis Cluster: sharded pub/sub (SPUBLISH, SSUBSCRIBE on the master that owns the channel's
   * slot, which is its document's data's slot), so a message travels only within its shard.
   */
  private static final class ClusterPubSub implements PubSub {
    private final RedisClusterClient client;
    private final StatefulRedisClusterPubSubConnection<byte[], byte[]> subscriber;
    private final StatefulRedisClusterConnection<byte[], byte[]> commands;

    ClusterPubSub(
        RedisReplicatorConfig config,
        java.util.function.BiConsumer<byte[], byte[]> onMessage,
        Runnable onConnected) {
      List<RedisURI> seeds = new ArrayList<>();
      for (String u : config.uris()) {
        RedisURI uri = RedisURI.create(u);
        uri.setTimeout(config.commandTimeout());
        seeds.add(uri);
      }
      client =
          config.clientResources() != null
              ? RedisClusterClient.create(config.clientResources(), seeds)
              : RedisClusterClient.create(seeds);
      client.setOptions(
          ClusterClientOptions.builder()
              .autoReconnect(true)
              .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
              .timeoutOptions(timeouts(config))
              .topologyRefreshOptions(
                  ClusterTopologyRefreshOptions.builder()
                      .enableAllAdaptiveRefreshTriggers()
                      .enablePeriodicRefresh(Duration.ofSeconds(30))
                      .build())
              .build());
      try {
        subscriber = client.connectPubSub(ByteArrayCodec.INSTANCE);
        commands = client.connect(ByteArrayCodec.INSTANCE);
      } catch (RuntimeException e) {
        client.shutdown();
        throw e;
      }
      onConnected.run();
      subscriber.setNodeMessagePropagation(true);
      subscriber.addListener(
          new RedisClusterPubSubAdapter<byte[], byte[]>() {
            @Override
            public void smessage(RedisClusterNode node, byte[] channel, byte[] message) {
              onMessage.accept(channel, message);
            }
          });
      subscriber.addListener(
          new RedisConnectionStateListener() {
            @Override
            public void onRedisConnected(RedisChannelHandler<?, ?> c, SocketAddress address) {
              onConnected.run();
            }
          });
    }

    private CompletableFuture<StatefulRedisPubSubConnection<byte[], byte[]>> nodeOf(
        byte[] channel) {
      RedisClusterNode node = subscriber.getPartitions().getMasterBySlot(SlotHash.getSlot(channel));
      if (node == null) {
        return CompletableFuture.failedFuture(
            new IllegalStateException("no Redis Cluster master serves the slot of this document"));
      }
      return subscriber.getConnectionAsync(node.getNodeId());
    }

    @Override
    public CompletableFuture<Void> subscribe(byte[] channel) {
      return nodeOf(channel).thenCompose(c -> c.async().ssubscribe(channel).toCompletableFuture());
    }

    @Override
    public void unsubscribe(byte[] channel) {
      nodeOf(channel).thenAccept(c -> c.async().sunsubscribe(channel));
    }

    @Override
    public CompletionStage<Long> publish(byte[] channel, byte[] message) {
      return commands.async().spublish(channel, message);
    }

    @Override
    public CompletionStage<List<KeyValue<byte[], byte[]>>> mget(byte[][] keys) {
      return commands.async().mget(keys);
    }

    @Override
    public void close() {
      try {
        subscriber.close();
        commands.close();
      } finally {
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      }
    }
  }
}

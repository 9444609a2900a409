package dev.lattice.client;

import static dev.lattice.client.Awaits.awaitValue;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.server.Closer;
import dev.lattice.server.LatticeServer;
import dev.lattice.server.redis.RedisClusterProcesses;
import dev.lattice.server.redis.RedisDocumentStore;
import dev.lattice.server.redis.RedisServerProcess;
import dev.lattice.server.redis.RedisStoreConfig;
import dev.lattice.server.spi.SessionConfig;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several Lattice servers joined by a real {@code redis-server} (started by the test on a free
 * loopback port, never the machine's 6379), with SDK clients spread over them, under the faults the
 * Redis mode promises to survive: a server killed mid-stream, pub/sub messages lost, a server that
 * wrote but never published, Redis killed and restarted from its AOF, Redis restarted empty, and a
 * Redis Cluster. In every case every client converges and the total of the increments made is what
 * Redis holds: nothing acknowledged is lost.
 *
 * <p>Every wait is for a condition, with a deadline; every process is killed after the test.
 */
class RedisServersIT {

  private static final long TIMEOUT_SECONDS = 60;
  private static final String DOC = "board";

  @TempDir Path tmp;

  private final Closer closer = new Closer();

  @AfterEach
  void closeAll() throws Exception {
    closer.closeAll();
  }

  private <T extends AutoCloseable> T closeLater(T resource) {
    return closer.add(resource);
  }

  /** A redis-server with its AOF fsynced before every answer. */
  private RedisServerProcess redis() {
    return closeLater(RedisServerProcess.startDefault());
  }

  private static SessionConfig fast() {
    // The rate limit is not under test: writers must never be refused for speed.
    return SessionConfig.builder().updatesPerSecond(1_000_000).updateBurst(1_000_000).build();
  }

  private LatticeServer server(String redisUri) {
    return closeLater(
        LatticeServer.builder()
            .bindAddress("127.0.0.1")
            .port(0)
            .redis(redisUri)
            .sessionConfig(fast())
            .build()
            .start());
  }

  private LatticeClient client(URI server) {
    return closeLater(
        LatticeClient.builder()
            .serverUri(server)
            // Quick retries: the faults below last a second or two.
            .backoff(Duration.ofMillis(20), Duration.ofMillis(500))
            .build());
  }

  /** Increments "clicks" {@code times} on each document, each from its own thread. */
  private static List<CompletableFuture<Void>> writeConcurrently(
      List<LatticeDocument> docs, int times, AtomicLong made) {
    List<CompletableFuture<Void>> writers = new ArrayList<>();
    for (LatticeDocument doc : docs) {
      writers.add(
          CompletableFuture.runAsync(
              () -> {
                for (int i = 0; i < times; i++) {
                  doc.counter("clicks").increment();
                  made.incrementAndGet();
                  if (i % 20 == 19) {
                    // Let the outbox drain now and then, so the stream spreads over the faults.
                    doc.flush().orTimeout(TIMEOUT_SECONDS, TimeUnit.SECONDS).join();
                  }
                }
              }));
    }
    return writers;
  }

  /** {@code clients} clients opening {@link #DOC}, client i on server i mod the servers. */
  private List<LatticeDocument> openOn(List<LatticeServer> servers, int clients) {
    List<LatticeDocument> docs = new ArrayList<>();
    for (int i = 0; i < clients; i++) {
      docs.add(client(servers.get(i % servers.size()).uri()).open(DOC));
    }
    return docs;
  }

  private static void flushAll(List<LatticeDocument> docs) {
    for (LatticeDocument d : docs) {
      d.flush().orTimeout(TIMEOUT_SECONDS, TimeUnit.SECONDS).join();
    }
  }

  private static void awaitCondition(String what, BooleanSupplier condition) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as("waiting for: %s", what).isLessThan(deadline);
      Thread.sleep(20);
    }
  }

  /** What Redis holds of the document, read by a store of its own. */
  private static Document stored(String redisUri, String documentId) {
    try (RedisDocumentStore store =
        RedisDocumentStore.open(RedisStoreConfig.builder(redisUri).build())) {
      return store.load(documentId).orElseThrow();
    }
  }

  private static double sum(List<LatticeServer> servers, String counter) {
    return servers.stream()
        .mapToDouble(s -> s.meterRegistry().get(counter).functionCounter().count())
        .sum();
  }

  @Test
  void clientsOnThreeServersConvergeAndSeeEachOthersPresence() throws Exception {
    RedisServerProcess redis = redis();
    List<LatticeServer> servers =
        List.of(server(redis.uri()), server(redis.uri()), server(redis.uri()));
    List<LatticeClient> clients = new ArrayList<>();
    List<LatticeDocument> docs = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      LatticeClient c = client(servers.get(i % 3).uri());
      clients.add(c);
      docs.add(c.open(DOC));
    }

    AtomicLong made = new AtomicLong();
    CompletableFuture.allOf(writeConcurrently(docs, 100, made).toArray(CompletableFuture[]::new))
        .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    docs.get(4).register("title").set(Value.of("plan"));
    flushAll(docs);

    for (LatticeDocument d : docs) {
      awaitValue(d, () -> d.counter("clicks").value(), 600L);
      awaitValue(d, () -> d.register("title").get(), java.util.Optional.of(Value.of("plan")));
    }
    assertThat(stored(redis.uri(), DOC).counterValue("clicks")).isEqualTo(600L);
    for (LatticeServer server : servers) {
      // What an operator watches: the lag of the deltas received, Redis commands' latency.
      assertThat(server.meterRegistry().get("lattice.replication.lag").timer().count())
          .isPositive();
      assertThat(
              server
                  .meterRegistry()
                  .get("lettuce.command.completion")
                  .tag("command", "EVALSHA")
                  .timers())
          .isNotEmpty();
    }

    // Presence set on server 0 is seen on servers 1 and 2.
    docs.get(0).setPresence(Value.of("alice"));
    ReplicaId alice = clients.get(0).replicaId();
    for (int i : new int[] {1, 2}) {
      LatticeDocument d = docs.get(i);
      awaitValue(d, () -> d.presences().get(alice), Value.of("alice"));
    }
  }

  @Test
  void aServerKilledMidStreamLosesNothingAndItsClientsMoveToAnother() throws Exception {
    RedisServerProcess redis = redis();
    List<ChildJvm> children = new ArrayList<>();
    List<Integer> ports = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      ChildJvm child =
          closeLater(
              new ChildJvm(
                  RedisServerChild.class, tmp.resolve("server" + i + ".err"), redis.uri()));
      children.add(child);
      String line = child.next();
      assertThat(line).startsWith("port ");
      ports.add(Integer.parseInt(line.substring(5)));
    }
    TcpBalancer balancer = closeLater(new TcpBalancer(ports));
    List<LatticeDocument> docs = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      docs.add(client(balancer.uri()).open(DOC));
    }
    flushAll(docs); // connected and subscribed

    AtomicLong made = new AtomicLong();
    List<CompletableFuture<Void>> writers = writeConcurrently(docs, 300, made);
    awaitCondition("a third of the writes made", () -> made.get() >= 600);
    children.get(0).kill(); // SIGKILL: no goodbye to its clients, whatever it had in flight
    CompletableFuture.allOf(writers.toArray(CompletableFuture[]::new))
        .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    flushAll(docs);

    for (LatticeDocument d : docs) {
      awaitValue(d, () -> d.counter("clicks").value(), 1_800L);
    }
    assertThat(stored(redis.uri(), DOC).counterValue("clicks")).isEqualTo(1_800L);
  }

  @Test
  void lostPubSubMessagesAreRepaired() throws Exception {
    RedisServerProcess redis = redis();
    List<LatticeServer> servers = List.of(server(redis.uri()), server(redis.uri()));
    List<LatticeDocument> docs = openOn(servers, 4);
    flushAll(docs); // connected and subscribed

    // Any subscriber with more than a few hundred bytes queued is cut off by Redis, and every
    // subscriber connection is killed outright twice while the writers run.
    redis.call("CONFIG", "SET", "client-output-buffer-limit", "pubsub 256 128 1");
    AtomicLong made = new AtomicLong();
    List<CompletableFuture<Void>> writers = writeConcurrently(docs, 200, made);
    awaitCondition("a quarter of the writes made", () -> made.get() >= 200);
    redis.call("CLIENT", "KILL", "TYPE", "pubsub");
    awaitCondition("half of the writes made", () -> made.get() >= 400);
    redis.call("CLIENT", "KILL", "TYPE", "pubsub");
    CompletableFuture.allOf(writers.toArray(CompletableFuture[]::new))
        .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    flushAll(docs);
    redis.call("CONFIG", "SET", "client-output-buffer-limit", "pubsub 32mb 8mb 60");

    for (LatticeDocument d : docs) {
      awaitValue(d, () -> d.counter("clicks").value(), 800L);
    }
    // The faults happened: subscriptions were cut and came back, and the servers read what they
    // missed. Not "both servers twice": a connection that is still reconnecting when a KILL
    // comes is not a pubsub client yet and escapes it, and a reconnect is counted when Lettuce
    // reports it, which may be after the clients converged.
    awaitCondition(
        "a subscription cut and re-established",
        () -> sum(servers, "lattice.replication.reconnects") >= 1);
    assertThat(sum(servers, "lattice.replication.repairs")).isPositive();
  }

  /**
   * A server that wrote to Redis and died before it published: nobody hears of the write, and the
   * periodic head check still brings it to every server's clients. On servers of their own, with no
   * subscription cut, so no other repair (a late reconnect's) can bring it first.
   */
  @Test
  void aWriteNobodyAnnouncedReachesEveryServerByTheHeadCheck() throws Exception {
    RedisServerProcess redis = redis();
    List<LatticeServer> servers = List.of(server(redis.uri()), server(redis.uri()));
    List<LatticeDocument> docs = openOn(servers, 2);
    docs.get(0).counter("clicks").increment(1);
    flushAll(docs);
    for (LatticeDocument d : docs) {
      awaitValue(d, () -> d.counter("clicks").value(), 1L);
    }
    long gapsBefore = (long) sum(servers, "lattice.replication.gaps");

    ReplicaId ghost = ReplicaId.of(0x6057);
    try (RedisDocumentStore writer =
        RedisDocumentStore.open(RedisStoreConfig.builder(redis.uri()).build())) {
      DocumentDelta five = Document.create(DOC).incrementGCounter(ghost, "clicks", 5);
      writer.append(DOC, five).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }
    for (LatticeDocument d : docs) {
      awaitValue(d, () -> d.counter("clicks").value(), 6L);
    }
    // Both servers saw the head pass them and read the write: a gap each.
    assertThat(sum(servers, "lattice.replication.gaps")).isGreaterThanOrEqualTo(gapsBefore + 2);
  }

  @Test
  void redisKilledAndRestartedFromItsAofLosesNothingAcknowledged() throws Exception {
    RedisServerProcess redis = redis(); // appendfsync always
    List<LatticeServer> servers = List.of(server(redis.uri()), server(redis.uri()));
    List<LatticeDocument> docs = openOn(servers, 4);
    flushAll(docs); // connected and subscribed

    AtomicLong made = new AtomicLong();
    List<CompletableFuture<Void>> writers = writeConcurrently(docs, 200, made);
    awaitCondition("a quarter of the writes made", () -> made.get() >= 200);
    redis.kill9();
    awaitCondition(
        "every server unready while Redis is away",
        () -> servers.stream().noneMatch(LatticeServer::isReady));
    redis.restart();
    awaitCondition(
        "every server ready again", () -> servers.stream().allMatch(LatticeServer::isReady));
    CompletableFuture.allOf(writers.toArray(CompletableFuture[]::new))
        .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    flushAll(docs);

    for (LatticeDocument d : docs) {
      awaitValue(d, () -> d.counter("clicks").value(), 800L);
    }
    assertThat(stored(redis.uri(), DOC).counterValue("clicks")).isEqualTo(800L);
  }

  @Test
  void redisRestartedEmptyIsWrittenBackFromTheServers() throws Exception {
    RedisServerProcess redis = redis();
    List<LatticeServer> servers = List.of(server(redis.uri()), server(redis.uri()));
    List<LatticeDocument> docs = openOn(servers, 4);
    AtomicLong made = new AtomicLong();
    CompletableFuture.allOf(writeConcurrently(docs, 50, made).toArray(CompletableFuture[]::new))
        .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    flushAll(docs);
    assertThat(stored(redis.uri(), DOC).counterValue("clicks")).isEqualTo(200L);

    redis.restartEmpty();

    awaitCondition(
        "a server noticed and wrote the document back",
        () -> sum(servers, "lattice.replication.reseeds") > 0);
    awaitCondition(
        "the document back in Redis",
        () -> {
          try {
            return stored(redis.uri(), DOC).counterValue("clicks") == 200L;
          } catch (RuntimeException notYet) {
            return false;
          }
        });
    // And it goes on: new edits on either server reach every client and Redis.
    CompletableFuture.allOf(writeConcurrently(docs, 25, made).toArray(CompletableFuture[]::new))
        .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    flushAll(docs);
    for (LatticeDocument d : docs) {
      awaitValue(d, () -> d.counter("clicks").value(), 300L);
    }
    assertThat(stored(redis.uri(), DOC).counterValue("clicks")).isEqualTo(300L);
  }

  @Test
  void serversOnARedisClusterShareDocumentsOverShardedPubSub() throws Exception {
    assumeTrue(
        RedisClusterProcesses.supportsShardedPubSub(),
        "redis-server " + RedisServerProcess.version() + " has no sharded pub/sub (7.0+)");
    RedisClusterProcesses cluster = closeLater(RedisClusterProcesses.start(3));
    List<LatticeServer> servers = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      servers.add(
          closeLater(
              LatticeServer.builder()
                  .bindAddress("127.0.0.1")
                  .port(0)
                  .redisCluster(cluster.uris())
                  .sessionConfig(fast())
                  .build()
                  .start()));
    }
    // Documents whose hash tags fall on different shards, two clients of each on two servers.
    List<LatticeDocument> docs = new ArrayList<>();
    for (int d = 0; d < 6; d++) {
      for (int s = 0; s < 2; s++) {
        docs.add(client(servers.get(s).uri()).open("doc-" + d));
      }
    }
    AtomicLong made = new AtomicLong();
    CompletableFuture.allOf(writeConcurrently(docs, 20, made).toArray(CompletableFuture[]::new))
        .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    flushAll(docs);

    for (LatticeDocument d : docs) {
      awaitValue(d, () -> d.counter("clicks").value(), 40L);
    }
  }
}

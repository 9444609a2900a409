package dev.lattice.server.redis;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.VersionVector;
import dev.lattice.crdt.codec.CrdtCodecs;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.DocumentStore;
import dev.lattice.server.spi.FieldTypeConflictException;
import dev.lattice.server.spi.StoreCorruptedException;
import dev.lattice.server.spi.StoreCursor;
import dev.lattice.server.spi.StoreException;
import dev.lattice.server.spi.StoreStats;
import dev.lattice.server.spi.StoredChanges;
import dev.lattice.server.spi.StoredDocument;
import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.models.role.RedisNodeDescription;
import io.lettuce.core.protocol.CommandType;
import io.lettuce.core.protocol.RedisCommand;
import io.lettuce.core.resource.ClientResources;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The {@link DocumentStore} in Redis, shared by every server process of a deployment: one Redis or
 * a Redis Cluster.
 *
 * <h2>Layout</h2>
 *
 * Per document, under one hash tag ({@link RedisKeys}), so that every script touches one slot and
 * the layout works on Redis Cluster: {@code s} the snapshot ({@code CrdtCodecs.document()}, as the
 * embedded store writes it), {@code l} a stream of the deltas appended since ({@code
 * CrdtCodecs.documentDelta()} in field {@code d}, ids chosen by {@code XADD *}), {@code h} the id
 * of the last append (the head, {@code major-minor}, which the replicator reads), {@code f} the id
 * of the last delta folded into the snapshot, {@code b} the id of the append that created the
 * document (again, after a Redis that lost it), {@code t} a hash of the type of every field made
 * durable ({@code f:<name>} to the {@code CrdtType} name, {@code #} once filled). A stream entry id
 * is the append's {@link StoreCursor}.
 *
 * <h2>Appends</h2>
 *
 * An append is one Lua script: it reads {@code h}, XADDs the delta, sets {@code h} and returns both
 * ids, so {@link Appended#previous()} is atomic with the append ({@link StoreCursor#ORIGIN} for a
 * document's first append). The script also arbitrates field types (see {@link DocumentStore},
 * "Types"): each delta comes with its fields' type names, and one that gives a field another type
 * than {@code t} holds is refused ({@link FieldTypeConflictException}, nothing of it stored); a
 * taken delta's new fields join {@code t}. A document written before {@code t} existed (a head, no
 * hash) makes the script answer "seed": the store reads the document (the type appended first wins,
 * as for every read) and runs the script again with its types and the head it read them at, which
 * the script takes only if the head is still that. An append that finds no head starts {@code t}
 * afresh, with the document's history. Appends of one document are sent one script at a time, in
 * call order; those that queue meanwhile go together in the next script. So they become durable in
 * call order even across a reconnect, and appends of different documents run concurrently.
 *
 * <h2>Durability</h2>
 *
 * An append is acknowledged (its future completes) once the Redis primary answered the script. What
 * survives then is what Redis promises: with {@code appendonly yes} and {@code appendfsync always}
 * Redis fsyncs its log before it answers, so an acknowledged append survives a crash of Redis or
 * its machine; with {@code appendfsync everysec} a crash of the machine (or of Redis, while a slow
 * disk holds its writes back) may lose the last one to two seconds of acknowledged appends; without
 * persistence, a restart loses everything (the hub then writes the documents it holds back, see
 * {@link #readSince}). With {@link RedisStoreConfig#waitReplicas} n > 0, an append is acknowledged
 * only after {@code WAIT} reports n replicas hold it; if fewer do within the timeout, the append
 * fails although the primary has it: it may still be seen later, and a retry is harmless because
 * merging is idempotent. WAIT blocks the write connection while it waits, so commands of other
 * documents wait behind it: keep its timeout well below the command timeout. On Redis Cluster, the
 * script and its {@code WAIT} go on the connection to the primary that owns the document's slot
 * (WAIT only counts the writes of its own connection); if the slot moved meanwhile, the append
 * fails and the client refreshes its view of the cluster.
 *
 * <h2>Failures</h2>
 *
 * {@link #open} connects and answers only once Redis answered a PING within the command timeout, so
 * a misconfigured server fails at start. Commands while the connection is down are rejected at once
 * (on a cluster they wait for the node's connection, up to the timeout), commands to a Redis that
 * does not answer time out after {@link RedisStoreConfig#commandTimeout()}, and every such failure
 * fails the future with a {@link StoreException}: never hangs, never acknowledges. A failed append
 * may still have been applied (Redis took it, the answer was lost or late): its delta may show up
 * in later reads, and a retry is harmless since merging is idempotent. An append queued behind an
 * earlier one of its document fails if it could not be sent within the command timeout. The client
 * reconnects on its own (retrying within a second); {@link #available()} is false from a connection
 * failure until Redis answers again. Undecodable stored bytes make reads fail with a {@link
 * StoreCorruptedException}, never return less. A log written before the type hash may give one
 * field two types: read in log order, the type appended first wins and the later entries' fields of
 * another type are left out (logged), the same for every reader.
 *
 * <h2>Compaction</h2>
 *
 * {@link #compact} (and, in the background, any document whose log reached {@link
 * RedisStoreConfig#compactionThreshold()} entries) reads snapshot and log, merges them here, and
 * writes the merged snapshot with a script that also trims exactly the entries it folded, and only
 * if no other compaction (of any server) wrote since it read ({@code f} is unchanged). Appends that
 * race keep their entries; a compaction that lost the race reads again.
 *
 * <p>Thread-safe: any thread may call any method. Futures complete on the store's own thread;
 * callers that do real work on completion should use the {@code *Async} stages.
 */
public final class RedisDocumentStore implements DocumentStore {

  private static final System.Logger LOG = System.getLogger(RedisDocumentStore.class.getName());

  /** At most this many deltas go in one append script: bounds the script's size and latency. */
  private static final int MAX_BATCH = 128;

  private static final int MAX_BATCH_BYTES = 1 << 20;
  private static final int COMPACTION_ATTEMPTS = 3;
  private static final Duration PROBE_INTERVAL = Duration.ofMillis(100);
  private static final byte[] DELTA_FIELD = {'d'};

  // Stream ids compared as decimals of any length, without Lua's doubles losing digits.
  private static final String COMPARE_IDS =
      """
      local function cmp(a, b)
        local am, as = string.match(a, '^(%d+)-(%d+)$')
        local bm, bs = string.match(b, '^(%d+)-(%d+)$')
        if not am or not bm then return redis.error_reply('not a stream id: ' .. a .. ' ' .. b) end
        if #am ~= #bm then return #am < #bm and -1 or 1 end
        if am ~= bm then return am < bm and -1 or 1 end
        if #as ~= #bs then return #as < #bs and -1 or 1 end
        if as ~= bs then return as < bs and -1 or 1 end
        return 0
      end
      """;

  /**
   * KEYS h l b t; ARGV the seed's head (or ""), the seed's field count k, k pairs field and type
   * name, then per delta its bytes, its field count n and n pairs field and type name. Returns
   * {{"seed", head}} for a document written before the type hash existed (no hash under a head)
   * unless the seed was read at that head (then it fills the hash from it); else the previous head
   * (or nil), per delta its id or, for a delta refused because the hash holds one of its fields
   * with another type, the list of those fields and their held types; then the log length. The
   * first append of a document (no head) also records where its history starts and starts the hash
   * afresh.
   */
  private static final Script APPEND =
      new Script(
          """
          local head = redis.call('GET', KEYS[1])
          local k = tonumber(ARGV[2])
          if not head then
            redis.call('DEL', KEYS[4])
          elseif redis.call('EXISTS', KEYS[4]) == 0 then
            if ARGV[1] ~= head then return {{'seed', head}} end
            redis.call('HSET', KEYS[4], '#', '1')
            for j = 0, k - 1 do
              redis.call('HSET', KEYS[4], 'f:' .. ARGV[3 + 2 * j], ARGV[4 + 2 * j])
            end
          end
          local out = {head or false}
          local i = 3 + 2 * k
          local d = 0
          local first = false
          local last = false
          while i <= #ARGV do
            local n = tonumber(ARGV[i + 1])
            local p = i + 2
            local conflict = {}
            for j = 0, n - 1 do
              local held = redis.call('HGET', KEYS[4], 'f:' .. ARGV[p + 2 * j])
              if held and held ~= ARGV[p + 2 * j + 1] then
                conflict[#conflict + 1] = ARGV[p + 2 * j]
                conflict[#conflict + 1] = held
              end
            end
            d = d + 1
            if #conflict > 0 then
              out[d + 1] = conflict
            else
              local id = redis.call('XADD', KEYS[2], '*', 'd', ARGV[i])
              first = first or id
              last = id
              redis.call('HSET', KEYS[4], '#', '1')
              for j = 0, n - 1 do
                redis.call('HSETNX', KEYS[4], 'f:' .. ARGV[p + 2 * j], ARGV[p + 2 * j + 1])
              end
              out[d + 1] = id
            end
            i = p + 2 * n
          end
          if last then
            if not head then redis.call('SET', KEYS[3], first) end
            redis.call('SET', KEYS[1], last)
          end
          out[d + 2] = redis.call('XLEN', KEYS[2])
          return out
          """,
          ScriptOutputType.MULTI);

  /** Times an append reads the document's types to fill a missing type hash before it fails. */
  private static final int SEED_ATTEMPTS = 5;

  private static final byte[] SEED = {'s', 'e', 'e', 'd'};

  /** KEYS s l h f. Returns head, snapshot, folded (each or nil), every log entry. */
  /**
   * Raises the store-wide greatest timestamp to ARGV[1] (19 digits, zero-padded: Lua numbers are
   * doubles and cannot hold a packed timestamp exactly, but equal-width digit strings compare
   * right).
   */
  private static final Script RAISE_MAX_TIMESTAMP =
      new Script(
          """
          local current = redis.call('GET', KEYS[1])
          if not current or ARGV[1] > current then redis.call('SET', KEYS[1], ARGV[1]) end
          return 1
          """,
          ScriptOutputType.INTEGER);

  /** KEYS owner; ARGV subject. Sets the owner if none is set; returns the owner. */
  private static final Script CLAIM_REPLICA =
      new Script(
          """
          if redis.call('SET', KEYS[1], ARGV[1], 'NX') then return ARGV[1] end
          return redis.call('GET', KEYS[1])
          """,
          ScriptOutputType.VALUE);

  private static final Script LOAD =
      new Script(
          """
          return {redis.call('GET', KEYS[3]) or false, redis.call('GET', KEYS[1]) or false,
            redis.call('GET', KEYS[4]) or false, redis.call('XRANGE', KEYS[2], '-', '+')}
          """,
          ScriptOutputType.MULTI);

  /**
   * KEYS s l h f b; ARGV cursor. Returns {nil} for a missing document, else head, 2 with the
   * snapshot and the whole log when the cursor comes from before the document's current history
   * (Redis lost the one it was from), 1 with the same when entries after the cursor were folded (or
   * the cursor is past the head), 0 with nil and the entries after the cursor otherwise.
   */
  private static final Script READ_SINCE =
      new Script(
          COMPARE_IDS
              + """
              local head = redis.call('GET', KEYS[3])
              if not head then return {false} end
              local born = redis.call('GET', KEYS[5])
              if born and ARGV[1] ~= '0-0' and cmp(born, ARGV[1]) > 0 then
                return {head, 2, redis.call('GET', KEYS[1]) or false,
                  redis.call('XRANGE', KEYS[2], '-', '+')}
              end
              local folded = redis.call('GET', KEYS[4])
              if (folded and cmp(folded, ARGV[1]) > 0) or cmp(ARGV[1], head) > 0 then
                return {head, 1, redis.call('GET', KEYS[1]) or false,
                  redis.call('XRANGE', KEYS[2], '-', '+')}
              end
              return {head, 0, false, redis.call('XRANGE', KEYS[2], '(' .. ARGV[1], '+')}
              """,
          ScriptOutputType.MULTI);

  /**
   * KEYS s l f h; ARGV snapshot, last folded id, folded id read before (or ""), first id to keep.
   * Writes only if the document exists and no compaction wrote since the read; returns 1 if it did.
   */
  private static final Script COMPACT =
      new Script(
          """
          if redis.call('EXISTS', KEYS[4]) == 0 then return 0 end
          if (redis.call('GET', KEYS[3]) or '') ~= ARGV[3] then return 0 end
          redis.call('SET', KEYS[1], ARGV[1])
          redis.call('SET', KEYS[3], ARGV[2])
          redis.call('XTRIM', KEYS[2], 'MINID', ARGV[4])
          return 1
          """,
          ScriptOutputType.INTEGER);

  private final RedisStoreConfig config;
  private final RedisKeys keys;
  private final CrdtCodecs codecs = CrdtCodecs.defaults();
  private final Connections redis;
  private final ScheduledExecutorService events;
  private final Executor completer;
  private final ExecutorService compactor;
  private final ReentrantLock[] compactionLocks = new ReentrantLock[64];
  private final Set<String> compactionScheduled = ConcurrentHashMap.newKeySet();
  private final ConcurrentHashMap<String, Long> compactionRetryAt = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, DocumentQueue> queues = new ConcurrentHashMap<>();
  private final ReentrantReadWriteLock closeLock = new ReentrantReadWriteLock();
  private final Object drained = new Object();
  private final AtomicLong pendingAppends = new AtomicLong();
  private final AtomicBoolean probing = new AtomicBoolean();
  private volatile boolean reachable = true;
  private volatile boolean closed; // written under closeLock's write lock
  private volatile boolean shutDown;

  private final AtomicLong commits = new AtomicLong();
  private final AtomicLong appended = new AtomicLong();
  private final AtomicLong largestBatch = new AtomicLong();
  private final AtomicLong failedCommits = new AtomicLong();
  private final AtomicLong compactions = new AtomicLong();
  private final AtomicLong failedCompactions = new AtomicLong();

  /** One append waiting for its document's turn. */
  private record PendingAppend(
      byte[] delta,
      byte[][] types,
      long maxTimestamp,
      CompletableFuture<Appended> done,
      long queuedAt) {}

  /** A document's field types as the append script takes them: the head they were read at. */
  private record TypeSeed(byte[] head, byte[][] types) {
    static final TypeSeed NONE = new TypeSeed(new byte[0], new byte[0][]);
  }

  /** The greatest timestamp this store has seen Redis take into the max-timestamp key. */
  private final AtomicLong raisedMaxTimestamp = new AtomicLong(-1);

  /** The appends of one document not yet sent. Guarded by the map's lock on its entry. */
  private static final class DocumentQueue {
    final ArrayDeque<PendingAppend> waiting = new ArrayDeque<>();
  }

  private RedisDocumentStore(RedisStoreConfig config) {
    this.config = config;
    this.keys = new RedisKeys(config.keyPrefix());
    for (int i = 0; i < compactionLocks.length; i++) {
      compactionLocks[i] = new ReentrantLock();
    }
    this.events =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "lattice-redis-store");
              t.setDaemon(true);
              return t;
            });
    // Completing a future must never be lost, not even while the store shuts down.
    this.completer =
        r -> {
          try {
            events.execute(r);
          } catch (RejectedExecutionException e) {
            r.run();
          }
        };
    this.compactor =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "lattice-redis-compactor");
              t.setDaemon(true);
              return t;
            });
    Connections connections;
    try {
      connections =
          config.isCluster() ? new ClusterConnections(config) : new StandaloneConnections(config);
    } catch (RuntimeException e) {
      events.shutdownNow();
      compactor.shutdownNow();
      throw new StoreException(
          "cannot connect to Redis at "
              + String.join(",", config.uris())
              + ": "
              + rootMessage(e)
              + " (is it running, and is the URI right?)",
          e);
    }
    this.redis = connections;
    try {
      redis.pingAll().get(config.commandTimeout().toMillis() * 2, TimeUnit.MILLISECONDS);
    } catch (InterruptedException | ExecutionException | TimeoutException e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      shutdownQuietly();
      throw new StoreException(
          "Redis at "
              + String.join(",", config.uris())
              + " did not answer a PING within "
              + timeout()
              + ": "
              + rootMessage(e),
          e);
    }
    redis
        .client()
        .addListener(
            new RedisConnectionStateListener() {
              @Override
              public void onRedisDisconnected(RedisChannelHandler<?, ?> connection) {
                unreachable();
              }

              @Override
              public void onRedisConnected(RedisChannelHandler<?, ?> c, SocketAddress address) {
                // Connected is not yet answering; the probe tells.
                if (!reachable) {
                  probeSoon();
                }
              }
            });
  }

  /**
   * Connects to the Redis (or Redis Cluster) of {@code config} and checks that it answers a PING
   * within the command timeout.
   *
   * @throws StoreException naming the URIs if Redis cannot be reached or does not answer
   */
  public static RedisDocumentStore open(RedisStoreConfig config) {
    return new RedisDocumentStore(Objects.requireNonNull(config, "config"));
  }

  /** The settings this store was opened with. */
  public RedisStoreConfig config() {
    return config;
  }

  // ---------------------------------------------------------------- appends

  @Override
  public CompletableFuture<Appended> append(String documentId, DocumentDelta delta) {
    checkId(documentId);
    Objects.requireNonNull(delta, "delta");
    byte[] bytes = codecs.documentDelta().encode(delta);
    byte[][] types = typePairs(delta.fields());
    long max = delta.maxTimestamp().map(HlcTimestamp::toLong).orElse(-1L);
    CompletableFuture<Appended> done = new CompletableFuture<>();
    boolean start;
    closeLock.readLock().lock();
    try {
      if (closed) {
        return CompletableFuture.failedFuture(new IllegalStateException("the store is closed"));
      }
      pendingAppends.incrementAndGet();
      boolean[] first = new boolean[1];
      queues.compute(
          documentId,
          (id, q) -> {
            // An absent queue means no script of this document is in flight.
            first[0] = q == null;
            DocumentQueue queue = q == null ? new DocumentQueue() : q;
            queue.waiting.add(new PendingAppend(bytes, types, max, done, System.nanoTime()));
            return queue;
          });
      start = first[0];
    } finally {
      closeLock.readLock().unlock();
    }
    if (start) {
      // The first append sends at once; the rest are taken by the completion of the one before.
      sendNext(documentId);
    }
    return done;
  }

  /**
   * Sends what queued for the document as one script, or removes its queue if nothing did. Called
   * only by whoever owns the document's turn.
   */
  private void sendNext(String documentId) {
    while (true) {
      List<PendingAppend> batch = new ArrayList<>();
      queues.computeIfPresent(
          documentId,
          (id, q) -> {
            int bytes = 0;
            while (!q.waiting.isEmpty()
                && batch.size() < MAX_BATCH
                && (batch.isEmpty() || bytes + q.waiting.peek().delta.length <= MAX_BATCH_BYTES)) {
              PendingAppend p = q.waiting.poll();
              bytes += p.delta.length;
              batch.add(p);
            }
            return batch.isEmpty() ? null : q;
          });
      if (batch.isEmpty()) {
        return;
      }
      List<PendingAppend> live = new ArrayList<>(batch.size());
      long now = System.nanoTime();
      for (PendingAppend p : batch) {
        if (shutDown) {
          finish(p, null, new StoreException("the store closed before Redis took this delta"));
        } else if (now - p.queuedAt > config.commandTimeout().toNanos()) {
          finish(
              p,
              null,
              new StoreException(
                  "the append to document '"
                      + documentId
                      + "' waited longer than "
                      + timeout()
                      + " behind earlier appends of the document; Redis is slow or away"));
        } else {
          live.add(p);
        }
      }
      if (live.isEmpty()) {
        continue;
      }
      CompletableFuture<List<Object>> sent;
      try {
        sent = sendAppends(documentId, live, TypeSeed.NONE, SEED_ATTEMPTS);
      } catch (RuntimeException e) {
        sent = CompletableFuture.failedFuture(e);
      }
      sent.whenCompleteAsync(
          (reply, failure) -> {
            try {
              appendsDone(documentId, live, reply, failure);
            } finally {
              sendNext(documentId);
            }
          },
          completer);
      return;
    }
  }

  /** Each field's name and type name, as the append script compares them with the type hash. */
  private static byte[][] typePairs(java.util.Map<String, dev.lattice.crdt.FieldState> fields) {
    byte[][] out = new byte[fields.size() * 2][];
    int i = 0;
    for (java.util.Map.Entry<String, dev.lattice.crdt.FieldState> f : fields.entrySet()) {
      out[i++] = f.getKey().getBytes(StandardCharsets.UTF_8);
      out[i++] = ascii(f.getValue().type().name());
    }
    return out;
  }

  /**
   * Runs the append script; if it asks for the document's types (a document written before the type
   * hash existed), reads the document and runs it again with them, up to {@code attempts} times
   * (another server's append between the read and the script makes the read stale).
   */
  private CompletableFuture<List<Object>> sendAppends(
      String documentId, List<PendingAppend> batch, TypeSeed seed, int attempts) {
    return sendAppendScript(documentId, batch, seed)
        .thenCompose(
            reply -> {
              if (!isSeedRequest(reply)) {
                return CompletableFuture.completedFuture(reply);
              }
              if (attempts <= 1) {
                return CompletableFuture.failedFuture(
                    new StoreException(
                        "document '"
                            + documentId
                            + "' kept changing while its field types were read to fill its"
                            + " type hash; retry"));
              }
              return readTypes(documentId)
                  .thenCompose(read -> sendAppends(documentId, batch, read, attempts - 1));
            });
  }

  private static boolean isSeedRequest(List<Object> reply) {
    return reply != null
        && reply.size() == 1
        && reply.get(0) instanceof List<?> l
        && l.size() == 2
        && java.util.Arrays.equals(SEED, (byte[]) l.get(0));
  }

  /** The document's field types as its log reads (the type appended first wins), and its head. */
  private CompletableFuture<TypeSeed> readTypes(String documentId) {
    return LOAD.<List<Object>>run(redis.writes(), documentKeys(documentId), new byte[0][])
        .thenApplyAsync(
            reply -> {
              byte[] head = (byte[]) reply.get(0);
              Optional<StoredDocument> stored = decodeLoad(documentId, reply);
              java.util.Map<String, dev.lattice.crdt.FieldState> fields =
                  stored.map(d -> d.document().fields()).orElse(new java.util.TreeMap<>());
              return new TypeSeed(head == null ? new byte[0] : head, typePairs(fields));
            },
            completer);
  }

  private CompletableFuture<List<Object>> sendAppendScript(
      String documentId, List<PendingAppend> batch, TypeSeed seed) {
    byte[][] scriptKeys = {
      RedisKeys.bytes(keys.head(documentId)),
      RedisKeys.bytes(keys.log(documentId)),
      RedisKeys.bytes(keys.born(documentId)),
      RedisKeys.bytes(keys.types(documentId))
    };
    List<byte[]> argList = new ArrayList<>();
    argList.add(seed.head());
    argList.add(ascii(Integer.toString(seed.types().length / 2)));
    argList.addAll(java.util.Arrays.asList(seed.types()));
    long batchMax = -1;
    for (PendingAppend p : batch) {
      argList.add(p.delta);
      argList.add(ascii(Integer.toString(p.types.length / 2)));
      argList.addAll(java.util.Arrays.asList(p.types));
      batchMax = Math.max(batchMax, p.maxTimestamp);
    }
    byte[][] args = argList.toArray(new byte[0][]);
    CompletableFuture<List<Object>> appended = appendScript(documentId, scriptKeys, args, batch);
    if (batchMax <= raisedMaxTimestamp.get()) {
      return appended;
    }
    // Sent beside the append and waited for before the ack, so that the key is never below an
    // acknowledged timestamp; skipped once Redis holds a greater one from this store.
    long raise = batchMax;
    CompletableFuture<Long> raised =
        RAISE_MAX_TIMESTAMP.<Long>run(
            redis.writes(),
            new byte[][] {RedisKeys.bytes(keys.maxTimestamp())},
            new byte[][] {maxTimestampDigits(raise)});
    return appended.thenCombine(
        raised,
        (reply, ok) -> {
          raisedMaxTimestamp.accumulateAndGet(raise, Math::max);
          return reply;
        });
  }

  private static byte[] maxTimestampDigits(long packed) {
    return String.format("%019d", packed).getBytes(StandardCharsets.US_ASCII);
  }

  private CompletableFuture<List<Object>> appendScript(
      String documentId, byte[][] scriptKeys, byte[][] args, List<PendingAppend> batch) {
    if (config.waitReplicas() == 0) {
      return APPEND.run(redis.writes(), scriptKeys, args);
    }
    return redis
        .primaryOf(scriptKeys[0])
        .thenCompose(
            primary ->
                APPEND
                    .<List<Object>>run(primary, scriptKeys, args)
                    .thenCompose(reply -> replicated(primary, documentId, batch.size(), reply)));
  }

  /** {@code reply} once WAIT on the script's connection saw enough replicas take it. */
  private CompletableFuture<List<Object>> replicated(
      RedisClusterAsyncCommands<byte[], byte[]> primary,
      String documentId,
      int deltas,
      List<Object> reply) {
    int replicas = config.waitReplicas();
    return primary
        .waitForReplication(replicas, config.waitTimeout().toMillis())
        .toCompletableFuture()
        .thenApply(
            acked -> {
              if (acked < replicas) {
                throw new StoreException(
                    String.format(
                        "the primary took %d delta(s) of document '%s', but only %d of %d"
                            + " replicas acknowledged within %d ms; they may still become"
                            + " visible, and a retry is harmless",
                        deltas, documentId, acked, replicas, config.waitTimeout().toMillis()));
              }
              return reply;
            });
  }

  private void appendsDone(
      String documentId, List<PendingAppend> batch, List<Object> reply, Throwable failure) {
    if (failure == null) {
      try {
        List<Object> where = positions(documentId, reply, batch.size());
        reachable();
        commits.incrementAndGet();
        largestBatch.accumulateAndGet(batch.size(), Math::max);
        for (int i = 0; i < batch.size(); i++) {
          if (where.get(i) instanceof Appended a) {
            appended.incrementAndGet();
            finish(batch.get(i), a, null);
          } else {
            FieldTypeConflictException refused = (FieldTypeConflictException) where.get(i);
            LOG.log(System.Logger.Level.INFO, refused.getMessage());
            finish(batch.get(i), null, refused);
          }
        }
        maybeCompact(documentId, asLong(reply.get(reply.size() - 1)));
        return;
      } catch (RuntimeException e) {
        failure = e;
      }
    }
    failedCommits.incrementAndGet();
    if (!answered(failure)) {
      unreachable();
    }
    redis.failed(failure);
    StoreException error =
        storeFailure(
            "cannot append " + batch.size() + " delta(s) to '" + documentId + "'", failure);
    for (PendingAppend p : batch) {
      finish(p, null, error);
    }
  }

  /** Per delta its {@link Appended}, or the {@link FieldTypeConflictException} refusing it. */
  private List<Object> positions(String documentId, List<Object> reply, int n) {
    if (reply == null || reply.size() != n + 2) {
      throw new StoreException(
          "the append script answered " + reply + " for " + n + " deltas of '" + documentId + "'");
    }
    StoreCursor previous = StoreCursor.ORIGIN;
    if (reply.get(0) != null) {
      try {
        previous = StoreCursor.parse(text(reply.get(0)));
      } catch (IllegalArgumentException e) {
        // The delta is stored; only the chain link is unknown, which the hub repairs.
        LOG.log(System.Logger.Level.WARNING, "document '" + documentId + "' had a bad head", e);
        previous = null;
      }
    }
    List<Object> out = new ArrayList<>(n);
    for (int i = 1; i <= n; i++) {
      if (reply.get(i) instanceof List<?> conflict) {
        out.add(conflictOf(documentId, conflict));
        continue;
      }
      StoreCursor position = StoreCursor.parse(text(reply.get(i)));
      if (previous != null && !position.isAfter(previous)) {
        previous = null; // a head set by hand ahead of the stream: unknown, not an error
      }
      out.add(new Appended(previous, position));
      previous = position;
    }
    return out;
  }

  private static FieldTypeConflictException conflictOf(String documentId, List<?> pairs) {
    java.util.Map<String, dev.lattice.crdt.CrdtType> held = new java.util.TreeMap<>();
    for (int j = 0; j + 1 < pairs.size(); j += 2) {
      String field = text(pairs.get(j));
      String type = text(pairs.get(j + 1));
      try {
        held.put(field, dev.lattice.crdt.CrdtType.valueOf(type));
      } catch (IllegalArgumentException e) {
        throw new StoreCorruptedException(
            "document '" + documentId + "' holds field '" + field + "' as unknown type " + type, e);
      }
    }
    return new FieldTypeConflictException(documentId, held);
  }

  private void finish(PendingAppend p, Appended where, Throwable failure) {
    if (failure == null) {
      p.done.complete(where);
    } else {
      p.done.completeExceptionally(failure);
    }
    if (pendingAppends.decrementAndGet() == 0) {
      synchronized (drained) {
        drained.notifyAll();
      }
    }
  }

  // ---------------------------------------------------------------- reads

  @Override
  public Optional<Document> load(String documentId) {
    checkOpen();
    return read(documentId).map(StoredDocument::document);
  }

  private Optional<StoredDocument> read(String documentId) {
    checkId(documentId);
    return decodeLoad(documentId, await(guarded(loadScript(documentId))));
  }

  @Override
  public CompletableFuture<Optional<StoredDocument>> loadAsync(String documentId) {
    checkId(documentId);
    if (closed) {
      return CompletableFuture.failedFuture(new IllegalStateException("the store is closed"));
    }
    return translated(
        guarded(loadScript(documentId))
            .thenApplyAsync(reply -> decodeLoad(documentId, reply), completer),
        "cannot load document '" + documentId + "'");
  }

  private CompletableFuture<List<Object>> loadScript(String documentId) {
    try {
      return LOAD.run(redis.reads(), documentKeys(documentId), new byte[0][]);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  private byte[][] documentKeys(String documentId) {
    return new byte[][] {
      RedisKeys.bytes(keys.snapshot(documentId)),
      RedisKeys.bytes(keys.log(documentId)),
      RedisKeys.bytes(keys.head(documentId)),
      RedisKeys.bytes(keys.folded(documentId)),
      RedisKeys.bytes(keys.born(documentId))
    };
  }

  /** One stream entry: its id and the delta's bytes. */
  private record Entry(String id, byte[] delta) {}

  private Optional<StoredDocument> decodeLoad(String documentId, List<Object> reply) {
    byte[] head = (byte[]) reply.get(0);
    byte[] snapshot = (byte[]) reply.get(1);
    byte[] folded = (byte[]) reply.get(2);
    List<Entry> entries = entries(documentId, reply.get(3));
    if (head == null && snapshot == null && entries.isEmpty()) {
      return Optional.empty();
    }
    Document doc = decodeDocument(documentId, snapshot, entries);
    StoreCursor position;
    if (head != null) {
      position = cursor(documentId, "head", head);
    } else {
      // No head but data: written by something else than this store; read what is there.
      position = folded == null ? StoreCursor.ORIGIN : cursor(documentId, "folded id", folded);
      if (!entries.isEmpty()) {
        position =
            StoreCursor.max(
                position, cursor(documentId, "entry id", bytes(entries.get(entries.size() - 1))));
      }
    }
    if (config.compactionThreshold() > 0 && entries.size() >= config.compactionThreshold()) {
      // Left long by another server, or by a compaction that failed: fold it in the background.
      maybeCompact(documentId, entries.size());
    }
    return Optional.of(new StoredDocument(doc, position));
  }

  private static byte[] bytes(Entry e) {
    return e.id.getBytes(StandardCharsets.UTF_8);
  }

  /**
   * {@inheritDoc}
   *
   * <p>One script reads the head and the log entries after {@code after}; if a compaction folded
   * entries after {@code after} into the snapshot (or {@code after} lies beyond the head, a
   * position this Redis never gave out), the answer is the whole document instead. A document
   * without a head (never written, or lost by a Redis that restarted empty) answers an empty delta
   * at {@link StoreCursor#ORIGIN}, and a cursor from before the append that created the document's
   * current history (Redis lost the history it came from) the whole document at {@link
   * StoreCursor#ORIGIN}: both tell a hub that the store lost what it held. This relies on stream
   * ids growing across such a loss, as Redis takes them from its clock.
   */
  @Override
  public CompletableFuture<StoredChanges> readSince(String documentId, StoreCursor after) {
    checkId(documentId);
    Objects.requireNonNull(after, "after");
    if (closed) {
      return CompletableFuture.failedFuture(new IllegalStateException("the store is closed"));
    }
    CompletableFuture<List<Object>> reply;
    try {
      reply =
          READ_SINCE.run(
              redis.reads(),
              documentKeys(documentId),
              new byte[][] {after.toString().getBytes(StandardCharsets.US_ASCII)});
    } catch (RuntimeException e) {
      reply = CompletableFuture.failedFuture(e);
    }
    return translated(
        guarded(reply).thenApplyAsync(r -> decodeChanges(documentId, r), completer),
        "cannot read document '" + documentId + "'");
  }

  private StoredChanges decodeChanges(String documentId, List<Object> reply) {
    if (reply.get(0) == null) {
      // ORIGIN, not the cursor: a hub holding the document at a later position learns that the
      // store lost it, and writes it back.
      return new StoredChanges(DocumentDelta.empty(), StoreCursor.ORIGIN);
    }
    StoreCursor head = cursor(documentId, "head", (byte[]) reply.get(0));
    long kind = asLong(reply.get(1));
    List<Entry> entries = entries(documentId, reply.get(3));
    if (kind != 0) {
      Document doc = decodeDocument(documentId, (byte[]) reply.get(2), entries);
      // A cursor of a history Redis lost: the whole document at ORIGIN tells the hub that what it
      // held beyond this may be gone from the store, so it writes its document back.
      return new StoredChanges(
          doc.deltaSince(VersionVector.empty()), kind == 2 ? StoreCursor.ORIGIN : head);
    }
    DocumentDelta joined = DocumentDelta.empty();
    for (Entry e : entries) {
      try {
        DocumentDelta delta = codecs.documentDelta().decode(e.delta);
        joined =
            joined.join(firstTypeWins(documentId, e, joined.withoutTypeConflicts(delta), delta));
      } catch (RuntimeException ex) {
        throw new StoreCorruptedException(
            "delta "
                + e.id
                + " of document '"
                + documentId
                + "' cannot be decoded or joined: "
                + ex.getMessage(),
            ex);
      }
    }
    return new StoredChanges(joined, head);
  }

  /**
   * Two servers can append deltas that give one field different types at once (each checked its own
   * document, not the other's). Read in log order, the type appended first wins: the later delta's
   * field is left out, the same for every reader, instead of the log becoming unreadable.
   */
  private static DocumentDelta firstTypeWins(
      String documentId, Entry e, DocumentDelta kept, DocumentDelta delta) {
    if (kept != delta) {
      java.util.Set<String> dropped = new java.util.TreeSet<>(delta.fields().keySet());
      dropped.removeAll(kept.fields().keySet());
      LOG.log(
          System.Logger.Level.WARNING,
          "document '"
              + documentId
              + "': log entry "
              + e.id
              + " gives "
              + dropped
              + " another type than an earlier entry (two servers created them at once); the"
              + " earlier type wins and these fields of the entry are left out");
    }
    return kept;
  }

  private List<Entry> entries(String documentId, Object raw) {
    List<?> list = (List<?>) raw;
    List<Entry> out = new ArrayList<>(list.size());
    for (Object o : list) {
      List<?> entry = (List<?>) o;
      String id = text(entry.get(0));
      List<?> fields = (List<?>) entry.get(1);
      byte[] delta = null;
      for (int i = 0; i + 1 < fields.size(); i += 2) {
        if (java.util.Arrays.equals((byte[]) fields.get(i), DELTA_FIELD)) {
          delta = (byte[]) fields.get(i + 1);
        }
      }
      if (delta == null) {
        throw new StoreCorruptedException(
            "log entry " + id + " of document '" + documentId + "' holds no delta field", null);
      }
      out.add(new Entry(id, delta));
    }
    return out;
  }

  private Document decodeDocument(String documentId, byte[] snapshot, List<Entry> entries) {
    Document doc;
    if (snapshot == null) {
      doc = Document.create(documentId);
    } else {
      try {
        doc = codecs.document().decode(snapshot);
      } catch (RuntimeException e) {
        throw new StoreCorruptedException(
            "the snapshot of document '" + documentId + "' cannot be decoded: " + e.getMessage(),
            e);
      }
      if (!doc.id().equals(documentId)) {
        throw new StoreCorruptedException(
            "the snapshot stored for document '"
                + documentId
                + "' belongs to document '"
                + doc.id()
                + "'",
            null);
      }
    }
    for (Entry e : entries) {
      try {
        DocumentDelta delta = codecs.documentDelta().decode(e.delta);
        doc.merge(firstTypeWins(documentId, e, doc.withoutTypeConflicts(delta), delta));
      } catch (RuntimeException ex) {
        throw new StoreCorruptedException(
            "delta "
                + e.id
                + " of document '"
                + documentId
                + "' cannot be decoded or merged: "
                + ex.getMessage(),
            ex);
      }
    }
    return doc;
  }

  private static StoreCursor cursor(String documentId, String what, byte[] raw) {
    String s = new String(raw, StandardCharsets.UTF_8);
    try {
      return StoreCursor.parse(s);
    } catch (IllegalArgumentException e) {
      throw new StoreCorruptedException(
          "the " + what + " of document '" + documentId + "' is not a position: '" + s + "'", e);
    }
  }

  /**
   * One script on the primary: {@code SET NX} of {@link RedisKeys#replicaOwner}, else its value.
   * Every server sharing the Redis sees the same owner. The write is not followed by {@code WAIT}
   * (unlike appends): a failover that loses it lets the next subject to connect with that replica
   * id claim it again, which docs/SECURITY.md lists as a known gap.
   */
  @Override
  public CompletableFuture<String> claimReplica(ReplicaId replica, String subject) {
    Objects.requireNonNull(replica, "replica");
    Objects.requireNonNull(subject, "subject");
    if (closed) {
      return CompletableFuture.failedFuture(new IllegalStateException("the store is closed"));
    }
    CompletableFuture<byte[]> claimed;
    try {
      claimed =
          CLAIM_REPLICA.run(
              redis.writes(),
              new byte[][] {RedisKeys.bytes(keys.replicaOwner(replica))},
              new byte[][] {subject.getBytes(StandardCharsets.UTF_8)});
    } catch (RuntimeException e) {
      claimed = CompletableFuture.failedFuture(e);
    }
    return translated(
        guarded(claimed).thenApplyAsync(o -> new String(o, StandardCharsets.UTF_8), completer),
        "cannot record the owner of replica " + replica);
  }

  @Override
  public boolean exists(String documentId) {
    checkId(documentId);
    checkOpen();
    byte[] head = RedisKeys.bytes(keys.head(documentId));
    return await(guarded(redis.reads().exists(head).toCompletableFuture())) > 0;
  }

  /**
   * One GET of the store-wide key every append raises before it is acknowledged ({@link
   * RedisKeys#maxTimestamp()}). Without the key (documents written before it existed, or a Redis
   * that lost it) every document is read once, and the key written.
   */
  @Override
  public Optional<HlcTimestamp> maxTimestamp() {
    checkOpen();
    byte[] key = RedisKeys.bytes(keys.maxTimestamp());
    byte[] stored = await(guarded(redis.reads().get(key).toCompletableFuture()));
    if (stored != null) {
      return Optional.of(
          HlcTimestamp.fromLong(Long.parseLong(new String(stored, StandardCharsets.US_ASCII))));
    }
    Optional<HlcTimestamp> found = DocumentStore.super.maxTimestamp();
    if (found.isPresent()) {
      long packed = found.get().toLong();
      await(
          guarded(
              RAISE_MAX_TIMESTAMP.<Long>run(
                  redis.writes(), new byte[][] {key}, new byte[][] {maxTimestampDigits(packed)})));
    }
    return found;
  }

  @Override
  public Set<String> documentIds() {
    checkOpen();
    Set<String> ids = new HashSet<>();
    ScanArgs args = ScanArgs.Builder.matches(keys.headPattern()).limit(1000);
    // On a cluster, Lettuce's SCAN walks every master in turn: the heads have no index outside
    // their own slots.
    KeyScanCursor<byte[]> cursor = await(guarded(redis.reads().scan(args).toCompletableFuture()));
    while (true) {
      for (byte[] key : cursor.getKeys()) {
        String id = keys.documentOfHead(new String(key, StandardCharsets.UTF_8));
        if (id != null) {
          ids.add(id);
        }
      }
      if (cursor.isFinished()) {
        return Set.copyOf(ids);
      }
      ScanCursor next = cursor;
      cursor = await(guarded(redis.reads().scan(next, args).toCompletableFuture()));
    }
  }

  // ---------------------------------------------------------------- compaction

  @Override
  public void compact(String documentId) {
    checkId(documentId);
    checkOpen();
    // One compaction of a document at a time here; other servers' are caught by the script.
    ReentrantLock lock =
        compactionLocks[Math.floorMod(documentId.hashCode(), compactionLocks.length)];
    lock.lock();
    try {
      for (int attempt = 0; attempt < COMPACTION_ATTEMPTS; attempt++) {
        List<Object> reply = await(guarded(loadScript(documentId)));
        byte[] head = (byte[]) reply.get(0);
        byte[] folded = (byte[]) reply.get(2);
        List<Entry> entries = entries(documentId, reply.get(3));
        if (head == null || entries.isEmpty()) {
          return;
        }
        Document doc = decodeDocument(documentId, (byte[]) reply.get(1), entries);
        StoreCursor last = StoreCursor.parse(entries.get(entries.size() - 1).id);
        StoreCursor keepFrom =
            last.minor() == Long.MAX_VALUE
                ? new StoreCursor(last.major() + 1, 0)
                : new StoreCursor(last.major(), last.minor() + 1);
        byte[][] args = {
          codecs.document().encode(doc),
          ascii(entries.get(entries.size() - 1).id),
          folded == null ? new byte[0] : folded,
          ascii(keepFrom.toString())
        };
        byte[][] scriptKeys = {
          RedisKeys.bytes(keys.snapshot(documentId)),
          RedisKeys.bytes(keys.log(documentId)),
          RedisKeys.bytes(keys.folded(documentId)),
          RedisKeys.bytes(keys.head(documentId))
        };
        Long wrote = await(guarded(COMPACT.<Long>run(redis.writes(), scriptKeys, args)));
        if (wrote == 1) {
          compactions.incrementAndGet();
          compactionRetryAt.remove(documentId);
          return;
        }
        // Another server compacted since the read (or the document is gone): read again.
      }
    } finally {
      lock.unlock();
    }
  }

  private void maybeCompact(String documentId, long logLength) {
    int threshold = config.compactionThreshold();
    if (threshold == 0 || logLength < threshold || closed) {
      return;
    }
    Long retryAt = compactionRetryAt.get(documentId);
    if (retryAt != null && logLength < retryAt) {
      return;
    }
    if (compactionScheduled.add(documentId)) {
      try {
        compactor.execute(
            () -> {
              compactionScheduled.remove(documentId);
              if (closed) {
                return;
              }
              try {
                compact(documentId);
              } catch (RuntimeException e) {
                // The log stays; try again once as many more deltas came, not on every append.
                failedCompactions.incrementAndGet();
                compactionRetryAt.put(documentId, logLength + threshold);
                LOG.log(
                    System.Logger.Level.WARNING,
                    "background compaction of document '" + documentId + "' failed",
                    e);
              }
            });
      } catch (RejectedExecutionException e) {
        compactionScheduled.remove(documentId);
      }
    }
  }

  // ---------------------------------------------------------------- availability

  @Override
  public boolean available() {
    return !closed && reachable;
  }

  private void unreachable() {
    reachable = false;
    probeSoon();
  }

  private void reachable() {
    reachable = true;
  }

  /** Pings until Redis answers, so availability comes back even when nobody writes. */
  private void probeSoon() {
    if (shutDown || !probing.compareAndSet(false, true)) {
      return;
    }
    try {
      events.schedule(this::probe, PROBE_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      probing.set(false);
    }
  }

  private void probe() {
    if (shutDown) {
      probing.set(false);
      return;
    }
    CompletableFuture<Void> ping;
    try {
      ping = redis.pingAll();
    } catch (RuntimeException e) {
      ping = CompletableFuture.failedFuture(e);
    }
    ping.whenComplete(
        (ok, failure) -> {
          probing.set(false);
          if (failure == null) {
            reachable();
          } else {
            reachable = false;
            probeSoon();
          }
        });
  }

  /** Marks Redis unreachable when a command fails for want of an answer. */
  private <T> CompletableFuture<T> guarded(CompletableFuture<T> f) {
    return f.whenComplete(
        (v, failure) -> {
          if (failure == null) {
            reachable();
          } else if (!answered(failure)) {
            unreachable();
          }
        });
  }

  /** Whether Redis answered (with an error): it is reachable, the command was wrong. */
  private static boolean answered(Throwable failure) {
    Throwable t = unwrap(failure);
    return t instanceof RedisCommandExecutionException || t instanceof StoreException;
  }

  // ---------------------------------------------------------------- stats and close

  /**
   * Counters since open: a commit is one append script (holding every delta of its document that
   * queued while the previous one was in flight), a failed commit one script that failed.
   */
  @Override
  public StoreStats stats() {
    return new StoreStats(
        commits.get(), appended.get(), largestBatch.get(), failedCommits.get(), compactions.get());
  }

  /** Background compactions that failed (their logs stay and are retried later). */
  public long failedCompactions() {
    return failedCompactions.get();
  }

  /**
   * Waits (at most twice the command timeout plus the replica wait) for the appends already made to
   * be answered, then closes the connections and the client resources this store created. Appends
   * after close fail with {@link IllegalStateException}. Idempotent.
   */
  @Override
  public void close() {
    closeLock.writeLock().lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
    } finally {
      closeLock.writeLock().unlock();
    }
    boolean interrupted = false;
    long deadline =
        System.nanoTime()
            + config.commandTimeout().toNanos() * 2
            + config.waitTimeout().toNanos()
            + TimeUnit.SECONDS.toNanos(1);
    synchronized (drained) {
      while (pendingAppends.get() > 0) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        try {
          TimeUnit.NANOSECONDS.timedWait(drained, left);
        } catch (InterruptedException e) {
          interrupted = true;
          break;
        }
      }
    }
    compactor.shutdown();
    try {
      if (!compactor.awaitTermination(
          config.commandTimeout().toMillis() * 2 * COMPACTION_ATTEMPTS + 1000,
          TimeUnit.MILLISECONDS)) {
        compactor.shutdownNow();
      }
    } catch (InterruptedException e) {
      interrupted = true;
      compactor.shutdownNow();
    }
    shutdownQuietly();
    // Whatever still waits for its turn fails now rather than never.
    for (String documentId : List.copyOf(queues.keySet())) {
      sendNext(documentId);
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private void shutdownQuietly() {
    shutDown = true;
    try {
      redis.close();
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.DEBUG, "closing the Redis connections failed", e);
    }
    events.shutdown();
    compactor.shutdownNow();
  }

  // ---------------------------------------------------------------- helpers

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("the store is closed");
    }
  }

  /** Refuses ids Redis names cannot carry faithfully. */
  private static void checkId(String documentId) {
    Objects.requireNonNull(documentId, "documentId");
    if (documentId.isEmpty()) {
      throw new IllegalArgumentException("documentId must not be empty");
    }
    for (int i = 0; i < documentId.length(); i++) {
      char c = documentId.charAt(i);
      if (Character.isHighSurrogate(c)
          && i + 1 < documentId.length()
          && Character.isLowSurrogate(documentId.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        // UTF-8 would turn it into '?', and two ids into one name.
        throw new IllegalArgumentException("document id is not valid Unicode: " + documentId);
      }
    }
  }

  /** Waits for a command (each has its own Lettuce timeout) and turns failures into exceptions. */
  private <T> T await(CompletableFuture<T> f) {
    long bound =
        config.commandTimeout().toNanos() * 2
            + config.waitTimeout().toNanos()
            + TimeUnit.SECONDS.toNanos(1);
    try {
      return f.get(bound, TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StoreException("interrupted while waiting for Redis", e);
    } catch (ExecutionException e) {
      throw storeFailure("Redis command failed", e.getCause());
    } catch (TimeoutException e) {
      throw new StoreException("Redis did not answer within " + timeout(), e);
    }
  }

  private StoreException storeFailure(String what, Throwable failure) {
    Throwable t = unwrap(failure);
    if (t instanceof StoreException se) {
      return se;
    }
    if (t instanceof RedisCommandTimeoutException) {
      return new StoreException(what + ": Redis did not answer within " + timeout(), t);
    }
    return new StoreException(what + ": " + rootMessage(t), t);
  }

  /** The same outcome, with a failure always a {@link StoreException}, as the contract says. */
  private <T> CompletableFuture<T> translated(CompletableFuture<T> f, String what) {
    CompletableFuture<T> out = new CompletableFuture<>();
    f.whenComplete(
        (v, failure) -> {
          if (failure == null) {
            out.complete(v);
          } else {
            out.completeExceptionally(storeFailure(what, failure));
          }
        });
    return out;
  }

  private String timeout() {
    return config.commandTimeout().toMillis() + " ms";
  }

  private static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  private static String rootMessage(Throwable t) {
    Throwable root = unwrap(t);
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String m = root.getMessage();
    return m == null ? root.getClass().getSimpleName() : m;
  }

  private static String text(Object raw) {
    return new String((byte[]) raw, StandardCharsets.UTF_8);
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  private static long asLong(Object o) {
    return ((Number) o).longValue();
  }

  // ---------------------------------------------------------------- scripts

  /** A Lua script, sent by its digest and loaded on the first NOSCRIPT (after a Redis restart). */
  private static final class Script {
    private final byte[] body;
    private final String sha;
    private final ScriptOutputType type;

    Script(String body, ScriptOutputType type) {
      this.body = body.getBytes(StandardCharsets.UTF_8);
      this.type = type;
      try {
        this.sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(this.body));
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("the JDK has no SHA-1", e);
      }
    }

    <T> CompletableFuture<T> run(
        RedisClusterAsyncCommands<byte[], byte[]> commands, byte[][] keys, byte[][] args) {
      CompletableFuture<T> bySha = commands.<T>evalsha(sha, type, keys, args).toCompletableFuture();
      return bySha
          .handle(
              (reply, failure) -> {
                if (failure != null && unwrap(failure) instanceof RedisNoScriptException) {
                  return commands.<T>eval(body, type, keys, args).toCompletableFuture();
                }
                return failure == null
                    ? CompletableFuture.completedFuture(reply)
                    : CompletableFuture.<T>failedFuture(unwrap(failure));
              })
          .thenCompose(f -> f);
    }
  }

  // ---------------------------------------------------------------- connections

  /** The Redis side: connections for writes and for reads, one Redis or a cluster. */
  private interface Connections {
    RedisClusterAsyncCommands<byte[], byte[]> writes();

    RedisClusterAsyncCommands<byte[], byte[]> reads();

    /**
     * The write connection to the primary that owns {@code key}'s slot, not routed: a script and
     * the WAIT after it must run on one connection for WAIT to count the script's write.
     */
    CompletableFuture<RedisClusterAsyncCommands<byte[], byte[]>> primaryOf(byte[] key);

    /** Completes once every primary answered a PING. */
    CompletableFuture<Void> pingAll();

    /** Learns from a failed write (a slot that moved). */
    void failed(Throwable failure);

    AbstractRedisClient client();

    void close();
  }

  /** The configured shared resources, or the store's own (which it shuts down at close). */
  private static ClientResources resources(RedisStoreConfig config) {
    return config.clientResources() != null
        ? config.clientResources()
        : RedisStoreConfig.clientResourcesBuilder().build();
  }

  private static TimeoutOptions timeouts(RedisStoreConfig config) {
    long command = config.commandTimeout().toNanos();
    long waiting = command + config.waitTimeout().toNanos();
    return TimeoutOptions.builder()
        .timeoutSource(
            new TimeoutOptions.TimeoutSource() {
              @Override
              public long getTimeout(RedisCommand<?, ?, ?> c) {
                // WAIT blocks for its own timeout by design: give it that on top.
                return c != null && c.getType() == CommandType.WAIT ? waiting : command;
              }

              @Override
              public TimeUnit getTimeUnit() {
                return TimeUnit.NANOSECONDS;
              }
            })
        .build();
  }

  private static SocketOptions socket(RedisStoreConfig config) {
    return SocketOptions.builder().connectTimeout(config.commandTimeout()).keepAlive(true).build();
  }

  private static RedisURI uri(String text, RedisStoreConfig config) {
    RedisURI uri = RedisURI.create(text);
    uri.setTimeout(config.commandTimeout());
    return uri;
  }

  private static void closeAll(
      AbstractRedisClient client, ClientResources ownResources, StatefulConnection<?, ?>... cs) {
    try {
      for (StatefulConnection<?, ?> c : cs) {
        if (c != null) {
          c.close();
        }
      }
    } finally {
      try {
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      } finally {
        try {
          // Wait for the event loops, so that a closed store leaves no threads behind; shared
          // resources are their owner's to shut down.
          if (ownResources != null) {
            ownResources.shutdown(0, 2, TimeUnit.SECONDS).get(3, TimeUnit.SECONDS);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
          LOG.log(System.Logger.Level.DEBUG, "Lettuce's resources did not shut down cleanly", e);
        }
      }
    }
  }

  /** One Redis: a connection for writes (and their WAITs), one for reads, never behind a WAIT. */
  private static final class StandaloneConnections implements Connections {
    private final ClientResources resources;
    private final boolean ownsResources;
    private final RedisClient client;
    private final StatefulRedisConnection<byte[], byte[]> writes;
    private final StatefulRedisConnection<byte[], byte[]> reads;

    StandaloneConnections(RedisStoreConfig config) {
      resources = resources(config);
      ownsResources = config.clientResources() == null;
      client = RedisClient.create(resources, uri(config.uris().get(0), config));
      StatefulRedisConnection<byte[], byte[]> w = null;
      StatefulRedisConnection<byte[], byte[]> r = null;
      try {
        client.setOptions(
            ClientOptions.builder()
                .autoReconnect(true)
                // Fail at once while disconnected, and fail (not replay) what was in flight when
                // the connection dropped: an append is acknowledged by its answer or not at all.
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .timeoutOptions(timeouts(config))
                .socketOptions(socket(config))
                .build());
        w = client.connect(ByteArrayCodec.INSTANCE);
        r = client.connect(ByteArrayCodec.INSTANCE);
      } catch (RuntimeException e) {
        closeAll(client, ownsResources ? resources : null, w, r);
        throw e;
      }
      writes = w;
      reads = r;
    }

    @Override
    public RedisClusterAsyncCommands<byte[], byte[]> writes() {
      return writes.async();
    }

    @Override
    public RedisClusterAsyncCommands<byte[], byte[]> reads() {
      return reads.async();
    }

    @Override
    public CompletableFuture<RedisClusterAsyncCommands<byte[], byte[]>> primaryOf(byte[] key) {
      return CompletableFuture.completedFuture(writes.async());
    }

    @Override
    public CompletableFuture<Void> pingAll() {
      // Both connections: each reconnects on its own, and the store is not available for appends
      // while the writing one is still down.
      return CompletableFuture.allOf(
          writes.async().ping().toCompletableFuture(), reads.async().ping().toCompletableFuture());
    }

    @Override
    public void failed(Throwable failure) {}

    @Override
    public AbstractRedisClient client() {
      return client;
    }

    @Override
    public void close() {
      closeAll(client, ownsResources ? resources : null, writes, reads);
    }
  }

  /** Redis Cluster: routed commands (following MOVED), node connections for script + WAIT. */
  private static final class ClusterConnections implements Connections {
    private final ClientResources resources;
    private final boolean ownsResources;
    private final RedisClusterClient client;
    private final StatefulRedisClusterConnection<byte[], byte[]> writes;
    private final StatefulRedisClusterConnection<byte[], byte[]> reads;

    ClusterConnections(RedisStoreConfig config) {
      resources = resources(config);
      ownsResources = config.clientResources() == null;
      List<RedisURI> seeds = new ArrayList<>();
      for (String u : config.uris()) {
        seeds.add(uri(u, config));
      }
      client = RedisClusterClient.create(resources, seeds);
      StatefulRedisClusterConnection<byte[], byte[]> w = null;
      StatefulRedisClusterConnection<byte[], byte[]> r = null;
      try {
        client.setOptions(
            ClusterClientOptions.builder()
                .autoReconnect(true)
                // Not REJECT_COMMANDS: Lettuce connects to a node on its first command, and rejects
                // that command while the connection is pending. Commands while a node is away wait
                // and time out instead; one that timed out is never replayed.
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.ACCEPT_COMMANDS)
                .timeoutOptions(timeouts(config))
                .socketOptions(socket(config))
                .topologyRefreshOptions(
                    ClusterTopologyRefreshOptions.builder()
                        .enableAllAdaptiveRefreshTriggers()
                        .enablePeriodicRefresh(Duration.ofSeconds(30))
                        .build())
                .build());
        w = client.connect(ByteArrayCodec.INSTANCE);
        r = client.connect(ByteArrayCodec.INSTANCE);
      } catch (RuntimeException e) {
        closeAll(client, ownsResources ? resources : null, w, r);
        throw e;
      }
      writes = w;
      reads = r;
    }

    @Override
    public RedisClusterAsyncCommands<byte[], byte[]> writes() {
      return writes.async();
    }

    @Override
    public RedisClusterAsyncCommands<byte[], byte[]> reads() {
      return reads.async();
    }

    @Override
    public CompletableFuture<RedisClusterAsyncCommands<byte[], byte[]>> primaryOf(byte[] key) {
      RedisClusterNode primary = writes.getPartitions().getMasterBySlot(SlotHash.getSlot(key));
      if (primary == null) {
        client.refreshPartitionsAsync();
        return CompletableFuture.failedFuture(
            new StoreException("no Redis Cluster primary serves the slot of this document"));
      }
      RedisURI at = primary.getUri();
      return writes
          .getConnectionAsync(at.getHost(), at.getPort())
          .thenApply(c -> (RedisClusterAsyncCommands<byte[], byte[]>) c.async())
          .whenComplete(
              (c, failure) -> {
                if (failure != null) {
                  client.refreshPartitionsAsync();
                }
              });
    }

    /** Pings every primary over both connections, which also opens their node connections. */
    @Override
    public CompletableFuture<Void> pingAll() {
      List<CompletableFuture<?>> pings = new ArrayList<>();
      for (RedisClusterNode node : reads.getPartitions()) {
        if (node.is(RedisClusterNode.NodeFlag.UPSTREAM) && !node.getSlots().isEmpty()) {
          pings.add(ping(writes, node).toCompletableFuture());
          pings.add(ping(reads, node).toCompletableFuture());
        }
      }
      if (pings.isEmpty()) {
        return reads.async().ping().toCompletableFuture().thenApply(pong -> null);
      }
      return CompletableFuture.allOf(pings.toArray(CompletableFuture[]::new));
    }

    @Override
    public void failed(Throwable failure) {
      String m = String.valueOf(unwrap(failure).getMessage());
      // Scripts sent to a node connection (with WAIT) see MOVED themselves; routing does not.
      if (m.startsWith("MOVED") || m.startsWith("ASK") || m.startsWith("CLUSTERDOWN")) {
        client.refreshPartitionsAsync();
      }
    }

    private static CompletionStage<String> ping(
        StatefulRedisClusterConnection<byte[], byte[]> connection, RedisNodeDescription node) {
      RedisURI at = node.getUri();
      return connection
          .getConnectionAsync(at.getHost(), at.getPort())
          .thenCompose(c -> c.async().ping());
    }

    @Override
    public AbstractRedisClient client() {
      return client;
    }

    @Override
    public void close() {
      closeAll(client, ownsResources ? resources : null, writes, reads);
    }
  }
}

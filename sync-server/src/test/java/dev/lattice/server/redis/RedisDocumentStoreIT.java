package dev.lattice.server.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.server.Closer;
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.FieldTypeConflictException;
import dev.lattice.server.spi.StoreCorruptedException;
import dev.lattice.server.spi.StoreCursor;
import dev.lattice.server.spi.StoreException;
import dev.lattice.server.spi.StoredChanges;
import dev.lattice.server.spi.StoredDocument;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link RedisDocumentStore} against real redis-server processes: positions, repair reads,
 * compaction racing appends of another server, and Redis crashing, freezing, restarting, losing its
 * data and replicating.
 */
class RedisDocumentStoreIT {

  private static final Duration DEADLINE = Duration.ofSeconds(15);
  private static final ReplicaId ALICE = ReplicaId.of(0xA11CEL);
  private static final ReplicaId BOB = ReplicaId.of(0xB0B);

  private final Closer closer = new Closer();
  private RedisServerProcess redis;

  @BeforeEach
  void startRedis() {
    redis = open(RedisServerProcess.startDefault());
  }

  @AfterEach
  void closeEverything() throws Exception {
    closer.closeAll();
  }

  private <T extends AutoCloseable> T open(T closeable) {
    return closer.add(closeable);
  }

  private RedisDocumentStore store(RedisStoreConfig.Builder config) {
    return open(RedisDocumentStore.open(config.build()));
  }

  private RedisDocumentStore store() {
    return store(RedisStoreConfig.builder(redis.uri()).compactionThreshold(0));
  }

  private static <T> T join(CompletableFuture<T> f) throws Exception {
    return f.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
  }

  /** The cause the future failed with, which must be there within the deadline. */
  private static Throwable failureOf(CompletableFuture<?> f) {
    try {
      f.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      return e.getCause();
    } catch (Exception e) {
      throw new AssertionError("the future did not fail within " + DEADLINE, e);
    }
    throw new AssertionError("the future succeeded: " + f.join());
  }

  /** Polls {@code condition} until it holds, failing after the deadline. */
  private static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + DEADLINE.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(10);
    }
  }

  /** {@code n} increments of ALICE's counter {@code n}, each a delta with its own dot. */
  private static List<DocumentDelta> increments(String id, ReplicaId writer, int n) {
    Document w = Document.create(id);
    List<DocumentDelta> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(w.incrementGCounter(writer, "n", 1));
    }
    return out;
  }

  private static Document merged(String id, List<DocumentDelta> deltas) {
    Document doc = Document.create(id);
    deltas.forEach(doc::merge);
    return doc;
  }

  private static DocumentDelta joined(List<DocumentDelta> deltas) {
    DocumentDelta out = DocumentDelta.empty();
    for (DocumentDelta d : deltas) {
      out = out.join(d);
    }
    return out;
  }

  private long logLength(String prefix, String id) {
    return (Long) redis.call("XLEN", new RedisKeys(prefix).log(id));
  }

  // ---------------------------------------------------------------- positions and reads

  @Test
  void maxTimestampIsOneKeyRaisedByEveryServerAndFoundByAScanWhenTheKeyIsGone() throws Exception {
    RedisDocumentStore first = store();
    RedisDocumentStore second = store();
    HlcTimestamp early = HlcTimestamp.of(1_700_000_000_000L, 1);
    HlcTimestamp late = HlcTimestamp.of(1_700_000_000_500L, 7);
    join(first.append("a", Document.create("a").setRegister(ALICE, "t", Value.of("x"), late)));
    join(second.append("b", Document.create("b").setRegister(BOB, "t", Value.of("y"), early)));

    assertThat(second.maxTimestamp()).as("what the other server stored").contains(late);
    assertThat(redis.call("GET", "lattice:max-timestamp").toString())
        .isEqualTo(String.format("%019d", late.toLong()));

    // Data from before the key (or a Redis that lost it): read whole once, and the key written.
    redis.call("DEL", "lattice:max-timestamp");
    assertThat(store().maxTimestamp()).contains(late);
    assertThat(redis.call("GET", "lattice:max-timestamp").toString())
        .isEqualTo(String.format("%019d", late.toLong()));
  }

  @Test
  void positionsGrowAndChainFromOrigin() throws Exception {
    RedisDocumentStore store = store();
    List<CompletableFuture<Appended>> acks = new ArrayList<>();
    // Not waiting in between: queued appends of one document still go in order.
    for (DocumentDelta d : increments("chain", ALICE, 60)) {
      acks.add(store.append("chain", d));
    }
    StoreCursor before = StoreCursor.ORIGIN;
    for (CompletableFuture<Appended> ack : acks) {
      Appended a = join(ack);
      assertThat(a.previous()).isEqualTo(before);
      assertThat(a.position().isAfter(before)).isTrue();
      before = a.position();
    }
    StoredDocument loaded = join(store.loadAsync("chain")).orElseThrow();
    assertThat(loaded.position()).isEqualTo(before);
    assertThat(loaded.document().counterValue("n")).isEqualTo(60);
    assertThat(redis.call("GET", new RedisKeys(RedisKeys.DEFAULT_PREFIX).head("chain")))
        .isEqualTo(before.toString());
    assertThat(join(store.append("other", increments("other", ALICE, 1).get(0))).previous())
        .isEqualTo(StoreCursor.ORIGIN);
    assertThat(store.stats().appendedDeltas()).isEqualTo(61);
  }

  @Test
  void readSinceACursorReturnsExactlyTheLaterDeltas() throws Exception {
    RedisDocumentStore store = store();
    List<DocumentDelta> deltas = new ArrayList<>();
    Document w = Document.create("doc");
    for (int i = 1; i <= 10; i++) {
      deltas.add(w.incrementGCounter(ReplicaId.of(i), "n", i));
      deltas.add(w.setRegister(ALICE, "title", Value.of("t" + i), HlcTimestamp.of(1000L + i, 0)));
    }
    List<Appended> where = new ArrayList<>();
    for (DocumentDelta d : deltas) {
      where.add(join(store.append("doc", d)));
    }
    StoredChanges since = join(store.readSince("doc", where.get(7).position()));
    assertThat(since.delta()).isEqualTo(joined(deltas.subList(8, deltas.size())));
    assertThat(since.position()).isEqualTo(where.get(where.size() - 1).position());

    StoredChanges nothing = join(store.readSince("doc", since.position()));
    assertThat(nothing.delta().isEmpty()).isTrue();
    assertThat(nothing.position()).isEqualTo(since.position());
  }

  @Test
  void aLogWrittenBeforeTheTypeHashWithTwoTypesForAFieldKeepsTheTypeAppendedFirst()
      throws Exception {
    // Servers before the type hash each checked their own document, not the other's: both
    // appends reached the log. Written here by hand, as those servers did.
    RedisDocumentStore first = store();
    RedisDocumentStore second = store();
    RedisKeys keys = new RedisKeys(RedisKeys.DEFAULT_PREFIX);
    DocumentDelta counter = Document.create("doc").incrementGCounter(ALICE, "x", 5);
    Document bobs = Document.create("doc");
    DocumentDelta register = bobs.setRegister(BOB, "x", Value.of("text"), HlcTimestamp.of(10, 0));
    DocumentDelta other = bobs.incrementGCounter(BOB, "y", 2);
    Appended before =
        join(first.append("doc", Document.create("doc").incrementGCounter(ALICE, "z", 1)));
    join(first.append("doc", counter));
    Object id =
        redis.call(
            "XADD".getBytes(java.nio.charset.StandardCharsets.US_ASCII),
            RedisKeys.bytes(keys.log("doc")),
            "*".getBytes(),
            "d".getBytes(),
            dev.lattice.crdt.codec.CrdtCodecs.defaults()
                .documentDelta()
                .encode(register.join(other)));
    redis.call("SET", keys.head("doc"), (String) id);
    redis.call("DEL", keys.types("doc"));

    // Before 7e9d1f5, the log could no longer be read at all (StoreCorruptedException).
    Document loaded = second.load("doc").orElseThrow();
    assertThat(loaded.counterValue("x")).isEqualTo(5);
    assertThat(loaded.counterValue("y")).isEqualTo(2);
    assertThat(loaded.contains(new Dot(BOB, 1))).as("the dropped field's dot stays seen").isTrue();
    StoredChanges since = join(second.readSince("doc", before.position()));
    assertThat(since.delta().fields().get("x").type()).isEqualTo(counter.fields().get("x").type());
    assertThat(since.delta().fields()).containsKey("y");
    // The first append since fills the type hash from that reading: the first type stays.
    assertThat(failureOf(second.append("doc", register)))
        .isInstanceOf(FieldTypeConflictException.class);
    join(second.append("doc", Document.create("doc").incrementGCounter(BOB, "x", 1)));
    assertThat(redis.call("HGET", keys.types("doc"), "f:x")).isEqualTo("G_COUNTER");
  }

  @Test
  void anAppendGivingAFieldAnotherTypeThanTheStoreHoldsIsRefusedWhole() throws Exception {
    // Two servers, each checking its own document only: the second's append is refused.
    RedisDocumentStore first = store();
    RedisDocumentStore second = store();
    Appended counter =
        join(first.append("doc", Document.create("doc").incrementGCounter(ALICE, "x", 5)));
    Document bobs = Document.create("doc");
    DocumentDelta register = bobs.setRegister(BOB, "x", Value.of("text"), HlcTimestamp.of(10, 0));
    DocumentDelta other = bobs.incrementGCounter(BOB, "y", 2);

    Throwable refused = failureOf(second.append("doc", register.join(other)));

    // Before, the append was acknowledged and its "x" then dropped by every reader.
    assertThat(refused).isInstanceOf(FieldTypeConflictException.class);
    assertThat(((FieldTypeConflictException) refused).heldTypes())
        .containsExactly(java.util.Map.entry("x", dev.lattice.crdt.CrdtType.G_COUNTER));
    StoredDocument loaded = join(second.loadAsync("doc")).orElseThrow();
    assertThat(loaded.position()).as("nothing of it was stored").isEqualTo(counter.position());
    assertThat(loaded.document().contains(new Dot(BOB, 1))).isFalse();
    assertThat(loaded.document().fields()).containsOnlyKeys("x");
    // The rest of the delta, without the conflicting field, is taken.
    Appended rest =
        join(second.append("doc", Document.create("doc").incrementGCounter(BOB, "y", 2)));
    assertThat(rest.previous()).isEqualTo(counter.position());
    assertThat(second.load("doc").orElseThrow().counterValue("y")).isEqualTo(2);
  }

  @Test
  void aRefusedAppendLeavesTheOthersOfItsBatchChained() throws Exception {
    RedisDocumentStore store = store();
    join(store.append("doc", Document.create("doc").incrementGCounter(ALICE, "x", 1)));
    List<CompletableFuture<Appended>> sent = new ArrayList<>();
    List<DocumentDelta> bobs = increments("doc", BOB, 4);
    for (int i = 0; i < 4; i++) {
      sent.add(store.append("doc", bobs.get(i)));
      // Queued behind the others, maybe in their script: each delta is checked on its own.
      sent.add(
          store.append(
              "doc",
              Document.create("doc")
                  .setRegister(ReplicaId.of(100 + i), "x", Value.of(i), HlcTimestamp.of(10, i))));
    }
    Appended previous = null;
    for (int i = 0; i < sent.size(); i += 2) {
      Appended a = join(sent.get(i));
      if (previous != null) {
        assertThat(a.previous()).isEqualTo(previous.position());
      }
      previous = a;
      assertThat(failureOf(sent.get(i + 1))).isInstanceOf(FieldTypeConflictException.class);
    }
    Document loaded = store.load("doc").orElseThrow();
    assertThat(loaded.typeOf("x")).contains(dev.lattice.crdt.CrdtType.G_COUNTER);
  }

  @Test
  void theTypesOutliveCompactionAndStartAfreshWithTheDocumentsHistory() throws Exception {
    RedisDocumentStore store = store();
    RedisKeys keys = new RedisKeys(RedisKeys.DEFAULT_PREFIX);
    join(store.append("doc", Document.create("doc").incrementGCounter(ALICE, "x", 1)));
    store.compact("doc");
    DocumentDelta register =
        Document.create("doc").setRegister(BOB, "x", Value.of("t"), HlcTimestamp.of(10, 0));
    assertThat(failureOf(store.append("doc", register)))
        .isInstanceOf(FieldTypeConflictException.class);
    // A Redis that lost the document (its head with it) takes any type again.
    redis.call("DEL", keys.head("doc"), keys.log("doc"), keys.snapshot("doc"), keys.folded("doc"));
    join(store.append("doc", register));
    assertThat(store.load("doc").orElseThrow().registerValue("x")).contains(Value.of("t"));
  }

  @Test
  void readSinceACursorCompactedAwayReturnsAtLeastWhatIsMissing() throws Exception {
    RedisDocumentStore store = store();
    List<DocumentDelta> deltas = increments("doc", ALICE, 12);
    List<Appended> where = new ArrayList<>();
    for (DocumentDelta d : deltas.subList(0, 10)) {
      where.add(join(store.append("doc", d)));
    }
    store.compact("doc");
    assertThat(logLength(RedisKeys.DEFAULT_PREFIX, "doc")).isZero();
    for (DocumentDelta d : deltas.subList(10, 12)) {
      where.add(join(store.append("doc", d)));
    }

    // A server that held the first four: the store folded what it lacks into the snapshot.
    Document holder = merged("doc", deltas.subList(0, 4));
    StoredChanges since = join(store.readSince("doc", where.get(3).position()));
    holder.merge(since.delta());
    assertThat(holder).isEqualTo(merged("doc", deltas));
    assertThat(since.position()).isEqualTo(where.get(11).position());

    // A cursor after the fold point is answered from the log alone.
    StoredChanges tail = join(store.readSince("doc", where.get(10).position()));
    assertThat(tail.delta()).isEqualTo(deltas.get(11));
  }

  @Test
  void aCursorAheadOfTheStoreGetsTheWholeDocument() throws Exception {
    RedisDocumentStore store = store();
    List<DocumentDelta> deltas = increments("doc", ALICE, 3);
    Appended last = null;
    for (DocumentDelta d : deltas) {
      last = join(store.append("doc", d));
    }
    // A position this Redis never gave out (it was restored from an older backup, say).
    StoreCursor future = new StoreCursor(last.position().major() + 1_000_000, 0);
    StoredChanges since = join(store.readSince("doc", future));
    Document doc = Document.create("doc");
    doc.merge(since.delta());
    assertThat(doc).isEqualTo(merged("doc", deltas));
    assertThat(since.position()).isEqualTo(last.position());
  }

  @Test
  void aRedisThatLostEverythingAnswersOriginAndChainsAnew() throws Exception {
    RedisDocumentStore store = store();
    Appended first = join(store.append("doc", increments("doc", ALICE, 1).get(0)));
    redis.restartEmpty();
    await("the store to reconnect", () -> tryAppend(store, "probe") && tryRead(store));
    StoredChanges since = join(store.readSince("doc", first.position()));
    assertThat(since.position()).isEqualTo(StoreCursor.ORIGIN);
    assertThat(since.delta().isEmpty()).isTrue();
    assertThat(store.exists("doc")).isFalse();
    assertThat(join(store.append("doc", increments("doc", ALICE, 1).get(0))).previous())
        .isEqualTo(StoreCursor.ORIGIN);
  }

  @Test
  void aCursorOfAHistoryRedisLostReadsTheWholeNewHistoryAtOrigin() throws Exception {
    RedisDocumentStore store = store();
    List<DocumentDelta> before = increments("doc", ALICE, 3);
    Appended last = null;
    for (DocumentDelta d : before) {
      last = join(store.append("doc", d));
    }
    redis.restartEmpty();
    await("the store to reconnect", () -> tryAppend(store, "probe") && tryRead(store));
    // Another server writes first after the loss: the document exists again, with a new history.
    List<DocumentDelta> after = increments("doc", BOB, 2);
    Appended reborn = join(store.append("doc", after.get(0)));
    join(store.append("doc", after.get(1)));
    assertThat(reborn.previous()).isEqualTo(StoreCursor.ORIGIN);
    assertThat(reborn.position()).isGreaterThan(last.position());

    // A server that held the old history asks from its old head: not just "what came after", which
    // would look like any answer, but the whole document at ORIGIN, so it knows to write back.
    StoredChanges stale = join(store.readSince("doc", last.position()));
    assertThat(stale.position()).isEqualTo(StoreCursor.ORIGIN);
    Document view = Document.create("doc");
    view.merge(stale.delta());
    assertThat(view).isEqualTo(merged("doc", after));

    // Cursors of the current history read as always.
    StoredChanges current = join(store.readSince("doc", reborn.position()));
    assertThat(current.position()).isGreaterThan(reborn.position());
    assertThat(current.delta()).isEqualTo(after.get(1));
  }

  /**
   * Whether a read goes through: reads and writes use separate connections, and the read one may
   * still be reconnecting when a write already succeeds (a read then fails with "not connected").
   */
  private static boolean tryRead(RedisDocumentStore store) {
    try {
      store.readSince("probe", StoreCursor.ORIGIN).get(10, TimeUnit.SECONDS);
      return true;
    } catch (Exception e) {
      return false;
    }
  }

  private static boolean tryAppend(RedisDocumentStore store, String id) {
    try {
      store.append(id, increments(id, ALICE, 1).get(0)).get(10, TimeUnit.SECONDS);
      return true;
    } catch (Exception e) {
      return false;
    }
  }

  // ---------------------------------------------------------------- compaction

  @Test
  void twoServersAppendingAndCompactingOneDocumentLoseNothing() throws Exception {
    long seed = 0x5EEDL;
    int perWriter = 150;
    RedisStoreConfig.Builder config = RedisStoreConfig.builder(redis.uri()).compactionThreshold(16);
    List<RedisDocumentStore> servers = List.of(store(config), store(config));
    int writers = 4;
    ExecutorService pool = Executors.newFixedThreadPool(writers + servers.size());
    AtomicBoolean writing = new AtomicBoolean(true);
    try {
      List<Future<?>> work = new ArrayList<>();
      for (int w = 0; w < writers; w++) {
        RedisDocumentStore server = servers.get(w % servers.size());
        ReplicaId writer = ReplicaId.of(100 + w);
        Random random = new Random(seed + w);
        work.add(
            pool.submit(
                () -> {
                  List<DocumentDelta> mine = increments("shared", writer, perWriter);
                  int i = 0;
                  while (i < mine.size()) {
                    // Windows of 1..8 appends in flight, so batches of every size race.
                    int window = Math.min(mine.size() - i, 1 + random.nextInt(8));
                    List<CompletableFuture<Appended>> acks = new ArrayList<>();
                    for (int k = 0; k < window; k++) {
                      acks.add(server.append("shared", mine.get(i++)));
                    }
                    CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).join();
                  }
                  return null;
                }));
      }
      List<Future<?>> compactors = new ArrayList<>();
      for (RedisDocumentStore server : servers) {
        compactors.add(
            pool.submit(
                () -> {
                  while (writing.get()) {
                    server.compact("shared");
                  }
                  return null;
                }));
      }
      for (Future<?> f : work) {
        f.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
      }
      writing.set(false);
      for (Future<?> f : compactors) {
        f.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
      }
    } finally {
      writing.set(false);
      pool.shutdownNow();
    }
    for (RedisDocumentStore server : servers) {
      Document loaded = server.load("shared").orElseThrow();
      assertThat(loaded.counterValue("n")).as("seed %x", seed).isEqualTo(writers * perWriter);
      for (int w = 0; w < writers; w++) {
        for (int seq = 1; seq <= perWriter; seq++) {
          assertThat(loaded.contains(new Dot(ReplicaId.of(100 + w), seq))).isTrue();
        }
      }
    }
    assertThat(servers.get(0).stats().compactions() + servers.get(1).stats().compactions())
        .isPositive();
  }

  @Test
  void backgroundCompactionKeepsTheLogShort() throws Exception {
    int threshold = 20;
    RedisDocumentStore store =
        store(RedisStoreConfig.builder(redis.uri()).compactionThreshold(threshold));
    List<DocumentDelta> deltas = increments("long", ALICE, 400);
    for (int i = 0; i < deltas.size(); i += 8) {
      List<CompletableFuture<Appended>> acks = new ArrayList<>();
      for (DocumentDelta d : deltas.subList(i, Math.min(deltas.size(), i + 8))) {
        acks.add(store.append("long", d));
      }
      for (CompletableFuture<Appended> a : acks) {
        join(a);
      }
    }
    await(
        "the log to shrink below the threshold",
        () -> logLength(RedisKeys.DEFAULT_PREFIX, "long") < threshold);
    assertThat(store.stats().compactions()).isPositive();
    assertThat(store.failedCompactions()).isZero();
    assertThat(store.load("long")).contains(merged("long", deltas));
  }

  // ---------------------------------------------------------------- Redis failing

  /** An append the store acknowledged: the dot of ALICE it carried into a document. */
  private record Acked(String documentId, long sequence) {}

  @Test
  void everyAcknowledgedAppendSurvivesAKill9() throws Exception {
    RedisDocumentStore store =
        store(
            RedisStoreConfig.builder(redis.uri())
                .commandTimeout(Duration.ofSeconds(1))
                .compactionThreshold(50));
    List<String> docs = List.of("k0", "k1", "k2");
    Set<Acked> acked = ConcurrentHashMap.newKeySet();
    CountDownLatch enough = new CountDownLatch(300);
    AtomicBoolean stop = new AtomicBoolean();
    Thread writer =
        new Thread(
            () -> {
              List<Document> replicas = docs.stream().map(Document::create).toList();
              int i = 0;
              // Windows of appends over three documents until the crash fails one; bounded.
              while (!stop.get() && i < 100_000) {
                List<CompletableFuture<Appended>> window = new ArrayList<>();
                List<Acked> carried = new ArrayList<>();
                for (int k = 0; k < 12; k++, i++) {
                  Document doc = replicas.get(i % docs.size());
                  carried.add(new Acked(doc.id(), doc.nextSequence(ALICE)));
                  window.add(store.append(doc.id(), doc.incrementGCounter(ALICE, "n", 1)));
                }
                for (int k = 0; k < window.size(); k++) {
                  try {
                    window.get(k).get(10, TimeUnit.SECONDS);
                    acked.add(carried.get(k));
                    enough.countDown();
                  } catch (Exception e) {
                    stop.set(true);
                  }
                }
              }
            },
            "kill9-writer");
    writer.start();
    try {
      assertThat(enough.await(DEADLINE.toSeconds(), TimeUnit.SECONDS)).isTrue();
      redis.kill9();
      writer.join(DEADLINE.toMillis());
      assertThat(writer.isAlive()).as("the writer saw the crash and stopped").isFalse();
    } finally {
      stop.set(true);
      writer.join(DEADLINE.toMillis());
    }
    redis.restart(); // same port and files: Redis replays its append-only file
    await("the store to reconnect", () -> store.available() && tryRead(store));
    for (String id : docs) {
      Document loaded = store.load(id).orElseThrow();
      for (Acked a : acked) {
        if (a.documentId().equals(id)) {
          assertThat(loaded.contains(new Dot(ALICE, a.sequence())))
              .as("acknowledged %s of %s", a.sequence(), id)
              .isTrue();
        }
      }
    }
    assertThat(acked).hasSizeGreaterThanOrEqualTo(300);
  }

  @Test
  void appendsFailWhileRedisIsDownAndSucceedOnceItIsBack() throws Exception {
    RedisDocumentStore store =
        store(
            RedisStoreConfig.builder(redis.uri())
                .commandTimeout(Duration.ofMillis(500))
                .compactionThreshold(0));
    List<DocumentDelta> deltas = increments("doc", ALICE, 3);
    join(store.append("doc", deltas.get(0)));
    assertThat(store.available()).isTrue();

    redis.kill9();
    await("the store to notice", () -> !store.available());
    assertThat(failureOf(store.append("doc", deltas.get(1)))).isInstanceOf(StoreException.class);
    assertThatThrownBy(() -> store.load("doc")).isInstanceOf(StoreException.class);
    assertThat(failureOf(store.readSince("doc", StoreCursor.ORIGIN)))
        .isInstanceOf(StoreException.class);

    redis.restart();
    // The store's two connections reconnect each on its own: a read answering says nothing of the
    // connection appends go on, so wait until an append to another document succeeds.
    await(
        "the store to reconnect",
        () -> store.available() && tryAppend(store, "probe") && tryRead(store));
    join(store.append("doc", deltas.get(2)));
    Document loaded = store.load("doc").orElseThrow();
    assertThat(loaded.contains(new Dot(ALICE, 1))).isTrue();
    assertThat(loaded.contains(new Dot(ALICE, 3))).isTrue();
  }

  @Test
  void aFrozenRedisTimesAppendsOutInsteadOfHanging() throws Exception {
    RedisDocumentStore store =
        store(
            RedisStoreConfig.builder(redis.uri())
                .commandTimeout(Duration.ofMillis(300))
                .compactionThreshold(0));
    List<DocumentDelta> deltas = increments("doc", ALICE, 4);
    join(store.append("doc", deltas.get(0)));
    redis.pause();
    try {
      CompletableFuture<Appended> first = store.append("doc", deltas.get(1));
      CompletableFuture<Appended> queued = store.append("doc", deltas.get(2));
      assertThat(failureOf(first)).isInstanceOf(StoreException.class).hasMessageContaining("300");
      assertThat(failureOf(queued)).isInstanceOf(StoreException.class);
      assertThat(failureOf(store.loadAsync("doc"))).isInstanceOf(StoreException.class);
      await("the store to notice", () -> !store.available());
    } finally {
      redis.resume();
    }
    await("the store to see Redis answer again", store::available);
    join(store.append("doc", deltas.get(3)));
    Document loaded = store.load("doc").orElseThrow();
    assertThat(loaded.contains(new Dot(ALICE, 4))).isTrue();
  }

  @Test
  void openFailsFastWhenNothingListens() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    String uri = "redis://127.0.0.1:" + port;
    assertThatThrownBy(
            () ->
                RedisDocumentStore.open(
                    RedisStoreConfig.builder(uri).commandTimeout(Duration.ofMillis(500)).build()))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining(uri);
  }

  @Test
  void closeCompletesEveryAppendAlreadyMade() throws Exception {
    RedisDocumentStore store = store();
    List<CompletableFuture<Appended>> acks = new ArrayList<>();
    for (int d = 0; d < 5; d++) {
      for (DocumentDelta delta : increments("c" + d, ALICE, 40)) {
        acks.add(store.append("c" + d, delta));
      }
    }
    store.close();
    for (CompletableFuture<Appended> a : acks) {
      assertThat(a).isCompleted();
      join(a);
    }
    assertThat(failureOf(store.append("c0", increments("c0", ALICE, 1).get(0))))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> store.load("c0")).isInstanceOf(IllegalStateException.class);
    assertThat(store.available()).isFalse();
  }

  // ---------------------------------------------------------------- bad data and odd ids

  @Test
  void corruptedBytesAreReportedNeverSkipped() throws Exception {
    RedisDocumentStore store = store();
    RedisKeys keys = new RedisKeys(RedisKeys.DEFAULT_PREFIX);
    for (DocumentDelta d : increments("snap", ALICE, 3)) {
      join(store.append("snap", d));
    }
    store.compact("snap");
    redis.call("SET", keys.snapshot("snap"), "not a document");
    assertThatThrownBy(() -> store.load("snap")).isInstanceOf(StoreCorruptedException.class);
    assertThat(failureOf(store.loadAsync("snap"))).isInstanceOf(StoreCorruptedException.class);
    assertThat(failureOf(store.readSince("snap", StoreCursor.ORIGIN)))
        .isInstanceOf(StoreCorruptedException.class);
    // A compaction with something to fold must not write over what it cannot read.
    join(store.append("snap", increments("snap", ReplicaId.of(7), 1).get(0)));
    assertThatThrownBy(() -> store.compact("snap")).isInstanceOf(StoreCorruptedException.class);
    assertThat(redis.call("GET", keys.snapshot("snap"))).isEqualTo("not a document");

    Appended ok = join(store.append("log", increments("log", ALICE, 1).get(0)));
    redis.call("XADD", keys.log("log"), "*", "d", "garbage");
    assertThatThrownBy(() -> store.load("log")).isInstanceOf(StoreCorruptedException.class);
    assertThat(failureOf(store.readSince("log", ok.position())))
        .isInstanceOf(StoreCorruptedException.class);
    redis.call("XADD", keys.log("nofield"), "*", "x", "y");
    redis.call("SET", keys.head("nofield"), "1-1");
    assertThatThrownBy(() -> store.load("nofield")).isInstanceOf(StoreCorruptedException.class);
  }

  @Test
  void idsWithBracesPercentAndUnicodeRoundTrip() throws Exception {
    RedisDocumentStore store =
        store(RedisStoreConfig.builder(redis.uri()).keyPrefix("odd").compactionThreshold(0));
    List<String> ids = List.of("{a}", "50%", "a}:h", "%7B", "ü/€/😀", "x:{y}:l", "*?[", "a b");
    for (String id : ids) {
      List<DocumentDelta> deltas = increments(id, ALICE, 3);
      for (DocumentDelta d : deltas) {
        join(store.append(id, d));
      }
      store.compact(id);
      assertThat(store.load(id)).as(id).contains(merged(id, deltas));
      assertThat(store.exists(id)).isTrue();
    }
    assertThat(store.documentIds()).containsExactlyInAnyOrderElementsOf(ids);
    assertThat(store.exists("a")).isFalse();

    assertThatThrownBy(() -> store.append("", increments("x", ALICE, 1).get(0)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> store.append("bad\uD800", increments("x", ALICE, 1).get(0)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> store.load("")).isInstanceOf(IllegalArgumentException.class);
  }

  // ---------------------------------------------------------------- replicas

  @Test
  void waitReplicasAcknowledgesOnlyWhatTheReplicasHave() throws Exception {
    RedisServerProcess replica =
        open(RedisServerProcess.builder().appendOnly(false).replicaOf(redis).start());
    await(
        "the replica to sync",
        () -> "up".equals(replica.info("replication", "master_link_status")));
    // Generous where the replica must answer (a loaded machine can take more than a few hundred
    // ms), short where it cannot: one bound serving both made the test fail under load.
    RedisDocumentStore store =
        store(
            RedisStoreConfig.builder(redis.uri())
                .waitReplicas(1, Duration.ofSeconds(10))
                .compactionThreshold(0));
    RedisDocumentStore impatient =
        store(
            RedisStoreConfig.builder(redis.uri())
                .waitReplicas(1, Duration.ofMillis(300))
                .compactionThreshold(0));
    List<DocumentDelta> deltas = increments("doc", ALICE, 3);
    join(store.append("doc", deltas.get(0)));

    replica.pause();
    try {
      Throwable failure = failureOf(impatient.append("doc", deltas.get(1)));
      assertThat(failure).isInstanceOf(StoreException.class).hasMessageContaining("replicas");
      // Not acknowledged, yet on the primary: a retry is harmless, the merge idempotent.
      assertThat(store.load("doc").orElseThrow().contains(new Dot(ALICE, 2))).isTrue();
    } finally {
      replica.resume();
    }
    join(store.append("doc", deltas.get(2)));

    RedisServerProcess lonely = open(RedisServerProcess.builder().appendOnly(false).start());
    RedisDocumentStore unreplicated =
        store(
            RedisStoreConfig.builder(lonely.uri())
                .waitReplicas(1, Duration.ofMillis(100))
                .compactionThreshold(0));
    assertThat(failureOf(unreplicated.append("doc", deltas.get(0))))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("0 of 1 replicas");
  }
}

package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.protocol.Ack;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.Sync;
import dev.lattice.protocol.Update;
import dev.lattice.server.spi.SessionConfig;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Convergence over real sockets: clients writing concurrently, late joiners, duplicate and
 * reordered updates. Raw protocol frames, a durable (embedded) server on 127.0.0.1.
 */
class ConvergenceIT {

  private static final String DOC = "board";
  private static final int UPDATES_PER_CLIENT = 40;

  /** The workload's seed: random, printed, and reusable with {@code -Dlattice.seed=<n>}. */
  private static final long SEED = Long.getLong("lattice.seed", new Random().nextLong());

  @TempDir Path data;
  private final Closer closer = new Closer();
  private final HttpClient http = HttpClient.newHttpClient();

  @AfterEach
  void closeAll() throws Exception {
    closer.closeAll();
  }

  private LatticeServer server() {
    // The rate limit is not under test here: writers must never be refused for speed.
    SessionConfig unlimited =
        SessionConfig.builder().updatesPerSecond(1_000_000).updateBurst(1_000_000).build();
    return closer.add(
        LatticeServer.builder()
            .bindAddress("127.0.0.1")
            .port(0)
            .dataDirectory(data)
            .sessionConfig(unlimited)
            .build()
            .start());
  }

  private RawClient client(LatticeServer server, long replica) throws Exception {
    return closer.add(RawClient.hello(server.uri(), replica, DOC));
  }

  private String httpDocument(LatticeServer server) throws Exception {
    URI uri = URI.create("http://127.0.0.1:" + server.port() + "/v1/docs/" + DOC);
    HttpResponse<String> response =
        http.send(HttpRequest.newBuilder(uri).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).isEqualTo(200);
    return response.body();
  }

  /** One register write, to tell which one must win. */
  private record Write(HlcTimestamp timestamp, ReplicaId writer, Value value) {}

  @ParameterizedTest(name = "{0} clients")
  @ValueSource(ints = {2, 10})
  void clientsWritingConcurrentlyConvergeOnCountersAndRegisters(int clients) throws Exception {
    System.out.println("ConvergenceIT seed " + SEED + " (rerun with -Dlattice.seed=" + SEED + ")");
    LatticeServer server = server();
    List<RawClient> all = new ArrayList<>();
    for (int i = 0; i < clients; i++) {
      RawClient c = client(server, 0x100 + i);
      c.subscribe();
      all.add(c);
    }
    AtomicLong likes = new AtomicLong();
    AtomicLong balance = new AtomicLong();
    Queue<Write> titles = new ConcurrentLinkedQueue<>();
    CountDownLatch start = new CountDownLatch(1);

    ExecutorService threads = Executors.newFixedThreadPool(clients);
    try {
      List<CompletableFuture<Void>> writers = new ArrayList<>();
      for (int i = 0; i < clients; i++) {
        RawClient c = all.get(i);
        Random random = new Random(SEED + i);
        writers.add(
            CompletableFuture.runAsync(
                () -> {
                  try {
                    start.await();
                    for (int n = 0; n < UPDATES_PER_CLIENT; n++) {
                      c.update(randomWrite(c, random, n, likes, balance, titles));
                    }
                  } catch (Exception e) {
                    throw new IllegalStateException(c.replica + " failed", e);
                  }
                },
                threads));
      }
      start.countDown();
      CompletableFuture.allOf(writers.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
    } finally {
      threads.shutdownNow();
    }

    // Every update was acknowledged, so the store holds all of them.
    Document stored = server.document(DOC).orElseThrow();
    assertThat(stored.counterValue("likes")).as("seed %d", SEED).isEqualTo(likes.get());
    assertThat(stored.counterValue("balance")).as("seed %d", SEED).isEqualTo(balance.get());
    Write winner =
        titles.stream()
            .max(Comparator.comparing(Write::timestamp).thenComparing(Write::writer))
            .orElseThrow();
    assertThat(stored.registerValue("title")).contains(winner.value());
    for (RawClient c : all) {
      assertThat(stored.versionVector().get(c.replica)).isEqualTo(UPDATES_PER_CLIENT);
    }

    String json = httpDocument(server);
    assertThat(json).isEqualTo(DocumentJson.render(stored));
    for (RawClient c : all) {
      c.catchUpTo(stored.versionVector());
      assertThat(c.doc).as("replica of %s, seed %d", c.replica, SEED).isEqualTo(stored);
      assertThat(DocumentJson.render(c.doc)).isEqualTo(json);
    }
  }

  /** A G-Counter increment, a PN-Counter change, or a write to a shared or a private register. */
  private static DocumentDelta randomWrite(
      RawClient c,
      Random random,
      int n,
      AtomicLong likes,
      AtomicLong balance,
      Queue<Write> titles) {
    switch (random.nextInt(4)) {
      case 0 -> {
        long amount = 1 + random.nextInt(5);
        likes.addAndGet(amount);
        return c.doc.incrementGCounter(c.replica, "likes", amount);
      }
      case 1 -> {
        long amount = random.nextInt(11) - 5;
        balance.addAndGet(amount);
        return c.doc.addPNCounter(c.replica, "balance", amount);
      }
      case 2 -> {
        Value value = Value.of("title " + n + " by " + c.replica);
        HlcTimestamp ts = c.clock.now();
        titles.add(new Write(ts, c.replica, value));
        return c.doc.setRegister(c.replica, "title", value, ts);
      }
      default -> {
        return c.doc.setRegister(c.replica, "name-" + c.replica, Value.of(n), c.clock.now());
      }
    }
  }

  @Test
  void aLateJoinerWithAnEmptyVectorGetsTheWholeDocument() throws Exception {
    LatticeServer server = server();
    RawClient alice = client(server, 0xa);
    RawClient bob = client(server, 0xb);
    alice.subscribe();
    bob.subscribe();
    alice.increment("likes", 2);
    bob.add("balance", -3);
    alice.set("title", Value.of("Roadmap"));
    bob.set("owner", Value.of("bob"));

    RawClient carol = client(server, 0xc);
    Sync sync = carol.subscribe();

    Document stored = server.document(DOC).orElseThrow();
    assertThat(sync.vector()).isEqualTo(stored.versionVector());
    assertThat(sync.delta().context()).isEqualTo(stored.context());
    assertThat(carol.doc).isEqualTo(stored);
    assertThat(carol.doc.counterValue("likes")).isEqualTo(2);
    assertThat(carol.doc.counterValue("balance")).isEqualTo(-3);
    assertThat(carol.doc.registerValue("title")).contains(Value.of("Roadmap"));
    assertThat(carol.doc.registerValue("owner")).contains(Value.of("bob"));
  }

  @Test
  void aLateJoinerWithAStaleVectorGetsExactlyWhatItLacksAndSendsWhatTheServerLacks()
      throws Exception {
    LatticeServer server = server();
    RawClient alice = client(server, 0xa);
    alice.subscribe();
    alice.set("old", Value.of("before carol left"));
    alice.increment("likes", 1);

    ReplicaId carolId = ReplicaId.of(0xc);
    RawClient first = RawClient.hello(server.uri(), carolId, Document.create(DOC));
    first.subscribe();
    first.close();
    Document kept = first.doc;
    assertThat(kept.counterValue("likes")).isEqualTo(1);

    // While carol is away: alice and bob write, and carol writes offline.
    alice.increment("likes", 2);
    alice.set("title", Value.of("Roadmap"));
    RawClient bob = client(server, 0xb);
    bob.subscribe();
    bob.add("balance", -3);
    kept.incrementGCounter(carolId, "likes", 10);
    VersionVector stale = kept.versionVector();
    Document before = server.document(DOC).orElseThrow();

    RawClient carol = closer.add(RawClient.hello(server.uri(), carolId, kept));
    Sync sync = carol.subscribe();

    assertThat(sync.vector()).isEqualTo(before.versionVector());
    assertThat(sync.delta().context())
        .as("exactly the dots carol lacks")
        .isEqualTo(before.context().notIn(stale));
    assertThat(sync.delta().fields().keySet())
        .as("only the fields changed since carol left")
        .containsExactlyInAnyOrder("likes", "title", "balance");
    assertThat(carol.doc.counterValue("likes")).isEqualTo(13);

    // The second half of the round trip: what the server lacks, as one UPDATE.
    DocumentDelta serverLacks = carol.doc.deltaSince(sync.vector());
    assertThat(serverLacks.context()).isEqualTo(DotSet.of(new Dot(carolId, 1)));
    assertThat(carol.update(serverLacks)).isInstanceOf(Ack.class);

    Document after = server.document(DOC).orElseThrow();
    assertThat(after).isEqualTo(carol.doc);
    assertThat(after.counterValue("likes")).isEqualTo(13);
    alice.catchUpTo(after.versionVector());
    bob.catchUpTo(after.versionVector());
    assertThat(alice.doc).isEqualTo(after);
    assertThat(bob.doc).isEqualTo(after);
  }

  @Test
  void duplicatesChangeNothingAndAReplicaGapIsRefused() throws Exception {
    LatticeServer server = server();
    RawClient alice = client(server, 0xa);
    RawClient bob = client(server, 0xb);
    alice.subscribe();
    bob.subscribe();
    ReplicaId a = alice.replica;

    // Three local mutations, seq 1 to 3; seq 2 goes out before seq 1.
    DocumentDelta first = alice.doc.setRegister(a, "title", Value.of("first"), alice.clock.now());
    DocumentDelta second = alice.doc.setRegister(a, "title", Value.of("second"), alice.clock.now());
    DocumentDelta third = alice.doc.incrementGCounter(a, "likes", 5);

    // A replica's new dots must continue what the server holds: seq 2 before seq 1 is a gap.
    assertThat(errorCode(alice, alice.sendUpdate(second))).isEqualTo(ErrorCode.STALE_REPLICA);
    assertThat(server.document(DOC).map(Document::context).orElse(DotSet.empty()).isEmpty())
        .isTrue();

    alice.update(first);
    alice.update(second);
    Document afterBoth = server.document(DOC).orElseThrow();
    assertThat(afterBoth.registerValue("title")).contains(Value.of("second"));
    assertThat(afterBoth.versionVector().get(a)).isEqualTo(2);
    assertThat(bob.receive().delta()).isEqualTo(first);
    assertThat(bob.receive().delta()).isEqualTo(second);

    // Resends, one at a time and joined: all acked, nothing changes, nothing fans out.
    assertThat(alice.update(first)).isInstanceOf(Ack.class);
    assertThat(alice.update(second)).isInstanceOf(Ack.class);
    assertThat(alice.update(first.join(second))).isInstanceOf(Ack.class);
    assertThat(server.document(DOC).orElseThrow()).isEqualTo(afterBoth);

    alice.update(third);
    Update next = bob.receive();
    assertThat(next.delta()).as("bob's next fan-out is seq 3, not a duplicate").isEqualTo(third);
    assertThat(bob.inbox).isEmpty();

    Document stored = server.document(DOC).orElseThrow();
    assertThat(stored.counterValue("likes")).isEqualTo(5);
    assertThat(stored.registerValue("title")).contains(Value.of("second"));
    assertThat(stored).isEqualTo(alice.doc).isEqualTo(bob.doc);
    assertThat(stored.fields().keySet()).isEqualTo(Set.of("likes", "title"));
  }

  /**
   * Issue 10: a connection that forges another replica's dots. Before replica binding the forged
   * delta was accepted and the genuine replica's later edits were acknowledged as duplicates of it:
   * silent loss.
   */
  @Test
  void aForgedDeltaOfAnotherReplicaIsRefusedAndTheGenuineEditsCount() throws Exception {
    LatticeServer server = server();
    RawClient alice = client(server, 0xa);
    RawClient mallory = client(server, 0xbad);
    alice.subscribe();
    mallory.subscribe();

    // Mallory writes alice's next dots (seq 1 and 2) with her own content.
    Document forger = Document.create(DOC);
    forger.incrementGCounter(alice.replica, "likes", 1);
    DocumentDelta forged = forger.incrementGCounter(alice.replica, "likes", 1000);
    DocumentDelta forgedBoth = forger.deltaSince(VersionVector.empty());
    assertThat(errorCode(mallory, mallory.sendUpdate(forgedBoth)))
        .isEqualTo(ErrorCode.REPLICA_MISMATCH);
    assertThat(errorCode(mallory, mallory.sendUpdate(forged)))
        .isEqualTo(ErrorCode.REPLICA_MISMATCH);
    // Nor may it slip another replica's contribution in under its own dot.
    Document mixed = Document.create(DOC);
    DocumentDelta own = mixed.incrementGCounter(mallory.replica, "likes", 1);
    DocumentDelta smuggled =
        DocumentDelta.of(
            own.context(),
            Map.of(
                "likes",
                new FieldState(
                    GCounter.of(Map.of(alice.replica, 1000L, mallory.replica, 1L)),
                    own.fields().get("likes").touched())));
    assertThat(errorCode(mallory, mallory.sendUpdate(smuggled)))
        .isEqualTo(ErrorCode.REPLICA_MISMATCH);
    assertThat(server.document(DOC).map(Document::context).orElse(DotSet.empty()).isEmpty())
        .isTrue();

    // The genuine replica's edits all count.
    alice.increment("likes", 2);
    alice.increment("likes", 3);
    assertThat(server.document(DOC).orElseThrow().counterValue("likes")).isEqualTo(5);
    // The connection that tried stays usable for its own replica: nothing else was closed.
    mallory.increment("likes", 1);
    assertThat(server.document(DOC).orElseThrow().counterValue("likes")).isEqualTo(6);
  }

  /**
   * Issue 11 bug 1 at the server: a replica that reuses a sequence number the server holds, with
   * other content (a client whose state directory was restored from a backup), is refused instead
   * of being acknowledged as a duplicate, and nothing changes.
   */
  @Test
  void aReusedSequenceWithOtherContentIsRefusedNotAcknowledgedAsADuplicate() throws Exception {
    LatticeServer server = server();
    RawClient alice = client(server, 0xa);
    alice.subscribe();
    Document backup = alice.doc.copy();
    alice.increment("likes", 1);
    alice.increment("likes", 1);
    Document held = server.document(DOC).orElseThrow();

    // The restored replica makes seq 1 and 2 again, as other increments.
    DocumentDelta again = backup.incrementGCounter(alice.replica, "likes", 5);
    assertThat(errorCode(alice, alice.sendUpdate(again))).isEqualTo(ErrorCode.STALE_REPLICA);
    DocumentDelta both = again.join(backup.incrementGCounter(alice.replica, "likes", 5));
    assertThat(errorCode(alice, alice.sendUpdate(both))).isEqualTo(ErrorCode.STALE_REPLICA);
    // Held and new dots in one update: refused too, so no held dot is ever acked unchecked.
    DocumentDelta beyond = both.join(backup.incrementGCounter(alice.replica, "likes", 5));
    assertThat(errorCode(alice, alice.sendUpdate(beyond))).isEqualTo(ErrorCode.STALE_REPLICA);
    // A register write reusing a held dot, on a field that dot never touched.
    DocumentDelta elsewhere =
        Document.create(DOC).setRegister(alice.replica, "title", Value.of("x"), alice.clock.now());
    assertThat(errorCode(alice, alice.sendUpdate(elsewhere))).isEqualTo(ErrorCode.STALE_REPLICA);
    assertThat(server.document(DOC).orElseThrow()).isEqualTo(held);
    assertThat(held.counterValue("likes")).isEqualTo(2);
  }

  private static ErrorCode errorCode(RawClient client, long requestId) throws Exception {
    Message reply = client.awaitReply(requestId);
    assertThat(reply).isInstanceOf(ErrorMessage.class);
    return ((ErrorMessage) reply).errorCode().orElseThrow();
  }
}

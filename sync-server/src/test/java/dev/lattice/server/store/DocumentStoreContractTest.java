package dev.lattice.server.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.ORMap;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.DocumentStore;
import dev.lattice.server.spi.StoreCursor;
import dev.lattice.server.spi.StoredChanges;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@link DocumentStore} contract, run against every implementation. Public, with a protected
 * {@link #open}, so that stores in other packages (Redis) join it.
 */
public abstract class DocumentStoreContractTest {

  static final ReplicaId ALICE = ReplicaId.of(0x1111L);
  static final ReplicaId BOB = ReplicaId.of(0x2222L);

  @TempDir Path dir;
  protected DocumentStore store;

  /** Opens the store under test; {@code dir} is a fresh directory it may use. */
  protected abstract DocumentStore open(Path dir);

  @BeforeEach
  void openStore() {
    store = open(dir);
  }

  @AfterEach
  void closeStore() {
    store.close();
  }

  static void await(CompletableFuture<?> f) throws Exception {
    f.get(10, TimeUnit.SECONDS);
  }

  /** Deltas of two writers over three field types, and the document they merge into. */
  static List<DocumentDelta> someDeltas(String id, int n) {
    Document alice = Document.create(id);
    Document bob = Document.create(id);
    List<DocumentDelta> deltas = new ArrayList<>();
    for (int i = 1; i <= n; i++) {
      deltas.add(alice.incrementGCounter(ALICE, "clicks", i));
      deltas.add(bob.addPNCounter(BOB, "balance", i % 2 == 0 ? i : -i));
      deltas.add(bob.setRegister(BOB, "title", Value.of("v" + i), HlcTimestamp.of(1_000L + i, 0)));
    }
    return deltas;
  }

  /**
   * Deltas of two writers over the causal types: set adds and a remove of the other's element, MV
   * writes that both keep, and both writing one key of one map (a nested set) and a nested map.
   */
  static List<DocumentDelta> causalDeltas(String id) {
    Document alice = Document.create(id);
    Document bob = Document.create(id);
    List<DocumentDelta> deltas = new ArrayList<>();
    deltas.add(alice.addToSet(ALICE, "tags", Value.of("red")));
    deltas.add(alice.addToSet(ALICE, "tags", Value.of("blue")));
    deltas.add(bob.writeMVRegister(BOB, "status", Value.of("open")));
    deltas.add(alice.writeMVRegister(ALICE, "status", Value.of("draft")));
    deltas.add(
        alice.updateMap(
            ALICE,
            "card",
            "labels",
            CrdtKind.of(ORSet.class),
            (set, dot) -> set.add(dot, Value.of("a"))));
    deltas.forEach(bob::merge);
    deltas.add(bob.removeFromSet(BOB, "tags", Value.of("red")));
    deltas.add(
        bob.updateMap(
            BOB,
            "card",
            "labels",
            CrdtKind.of(ORSet.class),
            (set, dot) -> set.remove(dot, Value.of("a"))));
    deltas.add(
        bob.updateMap(
            BOB,
            "card",
            "meta",
            CrdtKind.of(ORMap.class),
            (map, dot) ->
                map.update(
                    dot,
                    "votes",
                    CrdtKind.of(GCounter.class),
                    counter -> counter.increment(BOB, 3))));
    deltas.add(bob.removeFromMap(BOB, "card", "nothing"));
    return deltas;
  }

  static Document merged(String id, List<DocumentDelta> deltas) {
    Document doc = Document.create(id);
    deltas.forEach(doc::merge);
    return doc;
  }

  @Test
  void maxTimestampIsTheGreatestTimestampEverAppended() throws Exception {
    assertThat(store.maxTimestamp()).isEmpty();
    Document writer = Document.create("a");
    HlcTimestamp high = HlcTimestamp.of(1_700_000_000_000L, 5);
    await(store.append("a", writer.setRegister(ALICE, "t", Value.of("high"), high)));
    await(store.append("a", writer.setRegister(BOB, "u", Value.of("low"), HlcTimestamp.of(9, 0))));
    await(store.append("b", Document.create("b").incrementGCounter(ALICE, "n", 1)));

    assertThat(store.maxTimestamp()).contains(high);
  }

  @Test
  void loadAfterAppendEqualsTheMergedDeltas() throws Exception {
    List<DocumentDelta> deltas = someDeltas("doc-1", 20);
    for (DocumentDelta d : deltas) {
      await(store.append("doc-1", d));
    }
    assertThat(store.load("doc-1")).contains(merged("doc-1", deltas));
  }

  @Test
  void unknownDocumentLoadsEmpty() {
    assertThat(store.load("never-written")).isEmpty();
    assertThat(store.exists("never-written")).isFalse();
  }

  @Test
  void listsStoredDocuments() throws Exception {
    await(store.append("a", someDeltas("a", 1).get(0)));
    await(store.append("b/ü", someDeltas("b/ü", 1).get(0)));
    assertThat(store.documentIds()).containsExactlyInAnyOrder("a", "b/ü");
    assertThat(store.exists("a")).isTrue();
  }

  @Test
  void documentsAreKeptApart() throws Exception {
    List<DocumentDelta> a = someDeltas("a", 3);
    List<DocumentDelta> ab = someDeltas("ab", 5);
    for (DocumentDelta d : a) {
      await(store.append("a", d));
    }
    for (DocumentDelta d : ab) {
      await(store.append("ab", d));
    }
    assertThat(store.load("a")).contains(merged("a", a));
    assertThat(store.load("ab")).contains(merged("ab", ab));
  }

  @Test
  void compactionLeavesLoadUnchanged() throws Exception {
    List<DocumentDelta> deltas = someDeltas("doc", 10);
    for (DocumentDelta d : deltas.subList(0, 15)) {
      await(store.append("doc", d));
    }
    store.compact("doc");
    for (DocumentDelta d : deltas.subList(15, deltas.size())) {
      await(store.append("doc", d));
    }
    assertThat(store.load("doc")).contains(merged("doc", deltas));
    store.compact("doc");
    store.compact("unknown");
    assertThat(store.load("doc")).contains(merged("doc", deltas));
    assertThat(store.load("unknown")).isEmpty();
  }

  @Test
  void concurrentAppendersAreAllStored() throws Exception {
    int writers = 8;
    int perWriter = 50;
    ExecutorService pool = Executors.newFixedThreadPool(writers);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int w = 0; w < writers; w++) {
        ReplicaId replica = ReplicaId.of(100 + w);
        done.add(
            pool.submit(
                () -> {
                  Document mine = Document.create("shared");
                  List<CompletableFuture<Appended>> acks = new ArrayList<>();
                  for (int i = 0; i < perWriter; i++) {
                    acks.add(store.append("shared", mine.incrementGCounter(replica, "n", 1)));
                  }
                  CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).join();
                  return null;
                }));
      }
      for (Future<?> f : done) {
        f.get(20, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    Document loaded = store.load("shared").orElseThrow();
    assertThat(loaded.counterValue("n")).isEqualTo(writers * perWriter);
    for (int w = 0; w < writers; w++) {
      assertThat(loaded.contains(new Dot(ReplicaId.of(100 + w), perWriter))).isTrue();
    }
  }

  @Test
  void readSinceOfAMissingDocumentIsEmptyAtOrigin() throws Exception {
    await(store.append("other", someDeltas("other", 1).get(0)));
    StoredChanges changes =
        store.readSince("never-written", new StoreCursor(7, 3)).get(10, TimeUnit.SECONDS);
    assertThat(changes.delta().isEmpty()).isTrue();
    assertThat(changes.position()).isEqualTo(StoreCursor.ORIGIN);
  }

  @Test
  void readSinceOriginHoldsEverything() throws Exception {
    List<DocumentDelta> deltas = someDeltas("doc", 5);
    for (DocumentDelta d : deltas) {
      await(store.append("doc", d));
    }
    StoredChanges changes = store.readSince("doc", StoreCursor.ORIGIN).get(10, TimeUnit.SECONDS);
    Document doc = Document.create("doc");
    doc.merge(changes.delta());
    assertThat(doc).isEqualTo(merged("doc", deltas));
  }

  @Test
  void causalTypesRoundTripThroughAppendCompactionAndReadSince() throws Exception {
    List<DocumentDelta> deltas = causalDeltas("doc");
    for (DocumentDelta d : deltas.subList(0, 5)) {
      await(store.append("doc", d));
    }
    store.compact("doc");
    for (DocumentDelta d : deltas.subList(5, deltas.size())) {
      await(store.append("doc", d));
    }
    Document expected = merged("doc", deltas);
    assertThat(store.load("doc")).contains(expected);
    Document fromChanges = Document.create("doc");
    fromChanges.merge(store.readSince("doc", StoreCursor.ORIGIN).get(10, TimeUnit.SECONDS).delta());
    assertThat(fromChanges).isEqualTo(expected);
    ORSet tags = (ORSet) expected.field("tags").orElseThrow().state();
    assertThat(tags.elements()).containsExactly(Value.of("blue"));
    store.compact("doc");
    assertThat(store.load("doc")).contains(expected);
  }

  @Test
  void appendAfterCloseFails() {
    store.close();
    CompletableFuture<Appended> f = store.append("doc", someDeltas("doc", 1).get(0));
    assertThatThrownBy(() -> f.get(10, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .hasCauseInstanceOf(IllegalStateException.class);
    store.close(); // idempotent
  }

  @Test
  void theFirstSubjectToClaimAReplicaOwnsItForGood() throws Exception {
    assertThat(store.claimReplica(ALICE, "alice").get(10, TimeUnit.SECONDS)).isEqualTo("alice");
    assertThat(store.claimReplica(ALICE, "mallory").get(10, TimeUnit.SECONDS)).isEqualTo("alice");
    assertThat(store.claimReplica(ALICE, "alice").get(10, TimeUnit.SECONDS)).isEqualTo("alice");
    assertThat(store.claimReplica(BOB, "mallory").get(10, TimeUnit.SECONDS)).isEqualTo("mallory");
    // Subjects are kept as given, whatever their characters.
    ReplicaId third = ReplicaId.of(-7);
    assertThat(store.claimReplica(third, "ü:{x}").get(10, TimeUnit.SECONDS)).isEqualTo("ü:{x}");
  }

  @Test
  void concurrentClaimsOfOneReplicaAgreeOnOneOwner() throws Exception {
    ReplicaId contested = ReplicaId.of(0x3333L);
    List<CompletableFuture<String>> claims = new ArrayList<>();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      CompletableFuture<String> claim = new CompletableFuture<>();
      claims.add(claim);
      String subject = "user-" + i;
      threads.add(
          new Thread(
              () ->
                  store
                      .claimReplica(contested, subject)
                      .whenComplete(
                          (o, e) -> {
                            if (e != null) {
                              claim.completeExceptionally(e);
                            } else {
                              claim.complete(o);
                            }
                          })));
    }
    threads.forEach(Thread::start);
    java.util.Set<String> owners = new java.util.HashSet<>();
    for (CompletableFuture<String> claim : claims) {
      owners.add(claim.get(10, TimeUnit.SECONDS));
    }
    for (Thread t : threads) {
      t.join(10_000);
    }
    assertThat(owners).hasSize(1);
    assertThat(store.claimReplica(contested, "late").get(10, TimeUnit.SECONDS))
        .isEqualTo(owners.iterator().next());
  }
}

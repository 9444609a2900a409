package dev.lattice.server.hub;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.ORMap;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.protocol.Update;
import dev.lattice.server.store.InMemoryDocumentStore;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The hub merges, persists, fans out and catches up OR-Set fields like any other: a remove made by
 * one client reaches a late subscriber through the catch-up, and an add the remover had not seen
 * survives it.
 */
class DefaultHubCausalTypesTest {

  private static final String DOC = "doc";
  private static final long TIMEOUT_SECONDS = 10;

  private final TestConnection alice = new TestConnection("alice", 0xA);
  private final TestConnection bob = new TestConnection("bob", 0xB);
  private final TestConnection carol = new TestConnection("carol", 0xC);

  private static <T> T join(CompletableFuture<T> f) {
    return f.orTimeout(TIMEOUT_SECONDS, TimeUnit.SECONDS).join();
  }

  private static DefaultHub hub(InMemoryDocumentStore store) {
    return new DefaultHub(
        HubConfig.builder(store, ReplicaId.of(1))
            .executor(Runnable::run)
            .scheduler(new ManualScheduler())
            .clock(new HybridLogicalClock(() -> 1_700_000_000_000L, Duration.ofSeconds(60)))
            .build());
  }

  @Test
  void removesTravelThroughFanOutStoreAndCatchUp() {
    InMemoryDocumentStore store = new InMemoryDocumentStore();
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));
    Document aliceLocal = Document.create(DOC);
    Document bobLocal = Document.create(DOC);

    DocumentDelta addX = aliceLocal.addToSet(alice.replicaId(), "tags", Value.of("x"));
    join(hub.update(alice, DOC, addX));
    assertThat(bob.updates()).containsExactly(Update.fanOut(DOC, addX));
    bobLocal.merge(addX);

    // Bob removes x; concurrently Alice adds x again, which Bob has not seen.
    DocumentDelta removeX = bobLocal.removeFromSet(bob.replicaId(), "tags", Value.of("x"));
    DocumentDelta addAgain = aliceLocal.addToSet(alice.replicaId(), "tags", Value.of("x"));
    DocumentDelta addY = aliceLocal.addToSet(alice.replicaId(), "tags", Value.of("y"));
    DocumentDelta removeY = aliceLocal.removeFromSet(alice.replicaId(), "tags", Value.of("y"));
    join(hub.update(bob, DOC, removeX));
    join(hub.update(alice, DOC, addAgain));
    join(hub.update(alice, DOC, addY));
    join(hub.update(alice, DOC, removeY));

    Hub.SyncResult catchUp = join(hub.subscribe(carol, DOC, VersionVector.empty()));
    Document carolLocal = Document.create(DOC);
    carolLocal.merge(catchUp.missing());
    ORSet tags = (ORSet) carolLocal.field("tags").orElseThrow().state();
    assertThat(tags.elements()).containsExactly(Value.of("x"));

    Document stored = store.load(DOC).orElseThrow();
    assertThat(stored.field("tags").orElseThrow().state()).isEqualTo(tags);
    aliceLocal.merge(removeX);
    assertThat(aliceLocal.field("tags").orElseThrow().state()).isEqualTo(tags);
  }

  /**
   * Two replicas write one key of one map, each after seeing the other's write: each delta carries
   * only its writer's part of the nested set, so the identity check accepts both (a map entry that
   * held the whole nested state was refused with REPLICA_MISMATCH), and all converge.
   */
  @Test
  void twoWritersOfOneMapKeyAreBothAcceptedAndConverge() {
    InMemoryDocumentStore store = new InMemoryDocumentStore();
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));
    Document aliceLocal = Document.create(DOC);
    Document bobLocal = Document.create(DOC);

    DocumentDelta aliceAddsX =
        aliceLocal.updateMap(
            alice.replicaId(),
            "card",
            "tags",
            CrdtKind.of(ORSet.class),
            (set, dot) -> set.add(dot, Value.of("x")));
    join(hub.update(alice, DOC, aliceAddsX));
    bobLocal.merge(aliceAddsX);
    DocumentDelta bobAddsY =
        bobLocal.updateMap(
            bob.replicaId(),
            "card",
            "tags",
            CrdtKind.of(ORSet.class),
            (set, dot) -> set.add(dot, Value.of("y")));
    join(hub.update(bob, DOC, bobAddsY));
    aliceLocal.merge(bobAddsY);
    // Alice removes Bob's y while Bob, not having seen it, adds z: both after seeing the other.
    DocumentDelta aliceRemovesY =
        aliceLocal.updateMap(
            alice.replicaId(),
            "card",
            "tags",
            CrdtKind.of(ORSet.class),
            (set, dot) -> set.remove(dot, Value.of("y")));
    DocumentDelta bobAddsZ =
        bobLocal.updateMap(
            bob.replicaId(),
            "card",
            "tags",
            CrdtKind.of(ORSet.class),
            (set, dot) -> set.add(dot, Value.of("z")));
    join(hub.update(alice, DOC, aliceRemovesY));
    join(hub.update(bob, DOC, bobAddsZ));
    aliceLocal.merge(bobAddsZ);
    bobLocal.merge(aliceRemovesY);

    Document carolLocal = Document.create(DOC);
    carolLocal.merge(join(hub.subscribe(carol, DOC, VersionVector.empty())).missing());
    for (Document replica : new Document[] {aliceLocal, bobLocal, carolLocal}) {
      ORMap card = (ORMap) replica.field("card").orElseThrow().state();
      assertThat(((ORSet) card.get("tags").orElseThrow()).elements())
          .containsExactly(Value.of("x"), Value.of("z"));
    }
    assertThat(store.load(DOC).orElseThrow().field("card").orElseThrow().state())
        .isEqualTo(aliceLocal.field("card").orElseThrow().state());
  }

  /**
   * Two replicas create one key of one map with different types: the first the server holds wins,
   * the other's update is refused with FIELD_TYPE_MISMATCH and changes nothing. (Before, both were
   * merged and every reader showed the lower type of the two, whichever came first.)
   */
  @Test
  void aMapKeyKeepsTheFirstTypeTheServerHolds() {
    InMemoryDocumentStore store = new InMemoryDocumentStore();
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));
    DocumentDelta aliceSet =
        Document.create(DOC)
            .updateMap(
                alice.replicaId(),
                "card",
                "k",
                CrdtKind.of(ORSet.class),
                (set, dot) -> set.add(dot, Value.of("x")));
    DocumentDelta bobCounter =
        Document.create(DOC)
            .updateMap(
                bob.replicaId(),
                "card",
                "k",
                CrdtKind.of(GCounter.class),
                (counter, dot) -> counter.increment(bob.replicaId(), 1));
    join(hub.update(alice, DOC, aliceSet));
    assertThat(hub.update(bob, DOC, bobCounter))
        .failsWithin(Duration.ofSeconds(TIMEOUT_SECONDS))
        .withThrowableOfType(java.util.concurrent.ExecutionException.class)
        .havingCause()
        .isInstanceOfSatisfying(
            HubException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.FIELD_TYPE_MISMATCH));
    ORMap card = (ORMap) store.load(DOC).orElseThrow().field("card").orElseThrow().state();
    assertThat(card.get("k").orElseThrow()).isInstanceOf(ORSet.class);
    assertThat(card.entries()).hasSize(1);
  }
}

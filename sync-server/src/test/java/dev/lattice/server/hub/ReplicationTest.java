package dev.lattice.server.hub;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.Presence;
import dev.lattice.protocol.Update;
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.DocumentStore;
import dev.lattice.server.spi.Replicator;
import dev.lattice.server.spi.StoreCursor;
import dev.lattice.server.spi.StoreStats;
import dev.lattice.server.spi.StoredChanges;
import dev.lattice.server.spi.StoredDocument;
import dev.lattice.server.store.InMemoryDocumentStore;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Several hubs sharing one store and joined by a {@link LoopbackBus}, as server processes share
 * Redis: what one hub makes durable reaches the others' subscribers, lost or reordered
 * announcements are repaired from the store, presence crosses hubs. Every hub runs its documents
 * inline on the calling thread and its timers on one {@link ManualScheduler}, so each step is
 * deterministic.
 */
class ReplicationTest {

  private static final String DOC = "doc";
  private static final long NOW_MILLIS = 1_700_000_000_000L;
  private static final Duration REPAIR_DELAY = Duration.ofMillis(100);

  private final ManualScheduler scheduler = new ManualScheduler();
  private final InMemoryDocumentStore store = new InMemoryDocumentStore();
  private final LoopbackBus bus = new LoopbackBus();
  private final LoopbackBus.Node nodeA = bus.replicator();
  private final LoopbackBus.Node nodeB = bus.replicator();

  private final TestConnection alice = new TestConnection("alice", 0xA);
  private final TestConnection bob = new TestConnection("bob", 0xB);
  private final TestConnection carol = new TestConnection("carol", 0xC);

  private final DefaultHub hubA = hub(nodeA, DocumentCache.none(), 1);
  private final DefaultHub hubB = hub(nodeB, DocumentCache.none(), 2);

  private DefaultHub hub(Replicator replicator, DocumentCache cache, long replica) {
    return new DefaultHub(
        HubConfig.builder(store, ReplicaId.of(replica))
            .executor(Runnable::run)
            .scheduler(scheduler)
            .clock(new HybridLogicalClock(() -> NOW_MILLIS, Duration.ofSeconds(60)))
            .replicator(replicator)
            .repairDelay(REPAIR_DELAY)
            .cache(cache)
            .build());
  }

  private static Hub.SyncResult join(CompletableFuture<Hub.SyncResult> f) {
    return f.orTimeout(10, TimeUnit.SECONDS).join();
  }

  /** What a subscriber holds: its catch-up merged with every update it was sent. */
  private static Document view(Hub.SyncResult sync, TestConnection c) {
    Document d = Document.create(DOC);
    d.merge(sync.missing());
    for (Update u : c.updates()) {
      d.merge(u.delta());
    }
    return d;
  }

  /** Alice, on hub A, increments her counter {@code times} times, one update each. */
  private void aliceIncrements(Document aliceLocal, int times) {
    for (int i = 0; i < times; i++) {
      DocumentDelta d = aliceLocal.incrementGCounter(alice.replicaId(), "likes", 1);
      hubA.update(alice, DOC, d).orTimeout(10, TimeUnit.SECONDS).join();
    }
  }

  @Test
  void anUpdateMadeDurableOnOneHubReachesTheSubscribersOfAnother() {
    join(hubA.subscribe(alice, DOC, VersionVector.empty()));
    Hub.SyncResult bobSync = join(hubB.subscribe(bob, DOC, VersionVector.empty()));

    aliceIncrements(Document.create(DOC), 3);

    assertThat(view(bobSync, bob).counterValue("likes")).isEqualTo(3);
    assertThat(bob.updates()).hasSize(3);
    assertThat(hubB.stats().remoteDeltas()).isEqualTo(3);
    // What B received it never announces again, and it appended nothing of its own.
    assertThat(nodeB.announced).isEmpty();
    assertThat(nodeA.announced).hasSize(3);
    assertThat(hubB.stats().repairs()).isZero();
    // A newcomer on B catches up from B's live document.
    Hub.SyncResult carolSync = join(hubB.subscribe(carol, DOC, VersionVector.empty()));
    assertThat(view(carolSync, carol).counterValue("likes")).isEqualTo(3);
  }

  @Test
  void aLostAnnouncementIsReadFromTheStoreOnceTheNextOneShowsTheGap() {
    join(hubA.subscribe(alice, DOC, VersionVector.empty()));
    Hub.SyncResult bobSync = join(hubB.subscribe(bob, DOC, VersionVector.empty()));
    bus.dropDeltas(m -> m.appended().position().equals(StoreCursor.of(1)));

    Document aliceLocal = Document.create(DOC);
    hubA.update(alice, DOC, aliceLocal.incrementGCounter(alice.replicaId(), "a", 1)).join();
    hubA.update(alice, DOC, aliceLocal.incrementGCounter(alice.replicaId(), "b", 1)).join();

    // The second announcement arrived; its chain shows the first is missing.
    assertThat(view(bobSync, bob).counterValue("b")).isEqualTo(1);
    assertThat(view(bobSync, bob).counterValue("a")).isZero();
    assertThat(hubB.stats().repairs()).isZero();

    scheduler.advance(REPAIR_DELAY);

    assertThat(hubB.stats().repairs()).isEqualTo(1);
    assertThat(hubB.stats().gaps()).isEqualTo(1);
    assertThat(view(bobSync, bob).counterValue("a")).isEqualTo(1);
    // Healed: nothing more to read.
    scheduler.advance(REPAIR_DELAY.multipliedBy(10));
    assertThat(hubB.stats().repairs()).isEqualTo(1);
    assertThat(hubB.stats().gaps()).isEqualTo(1);
  }

  @Test
  void aLostLastAnnouncementIsReadFromTheStoreWhenTheReplicatorReportsANewerHead() {
    join(hubA.subscribe(alice, DOC, VersionVector.empty()));
    Hub.SyncResult bobSync = join(hubB.subscribe(bob, DOC, VersionVector.empty()));
    bus.dropDeltas(m -> true);

    aliceIncrements(Document.create(DOC), 1);
    assertThat(view(bobSync, bob).counterValue("likes")).isZero();

    nodeB.sink().head(DOC, StoreCursor.of(1));
    scheduler.advance(REPAIR_DELAY);

    assertThat(view(bobSync, bob).counterValue("likes")).isEqualTo(1);
    assertThat(hubB.stats().repairs()).isEqualTo(1);
    // A head it already holds changes nothing.
    nodeB.sink().head(DOC, StoreCursor.of(1));
    scheduler.advance(REPAIR_DELAY);
    assertThat(hubB.stats().repairs()).isEqualTo(1);
  }

  @Test
  void aReplicatorThatMayHaveMissedMessagesMakesTheHubRepairAtOnce() {
    join(hubA.subscribe(alice, DOC, VersionVector.empty()));
    Hub.SyncResult bobSync = join(hubB.subscribe(bob, DOC, VersionVector.empty()));
    bus.dropDeltas(m -> true);
    aliceIncrements(Document.create(DOC), 2);

    nodeB.sink().mayHaveMissed(DOC);

    assertThat(view(bobSync, bob).counterValue("likes")).isEqualTo(2);
    // Only what bob lacked went out: one update holding both increments.
    assertThat(bob.updates()).hasSize(1);
    // A repair on the replicator's word, not a break the hub saw.
    assertThat(hubB.stats().gaps()).isZero();
  }

  @Test
  void reorderedAnnouncementsHealWithoutReadingTheStore() {
    join(hubA.subscribe(alice, DOC, VersionVector.empty()));
    Hub.SyncResult bobSync = join(hubB.subscribe(bob, DOC, VersionVector.empty()));
    bus.holdDeltas();
    aliceIncrements(Document.create(DOC), 3);

    bus.releaseHeldNewestFirst();
    scheduler.advance(REPAIR_DELAY.multipliedBy(3));

    assertThat(view(bobSync, bob).counterValue("likes")).isEqualTo(3);
    assertThat(hubB.stats().repairs()).isZero();
    assertThat(hubB.stats().gaps()).as("late, not lost").isZero();
  }

  @Test
  void aDuplicatedAnnouncementIsMergedOnce() {
    join(hubA.subscribe(alice, DOC, VersionVector.empty()));
    join(hubB.subscribe(bob, DOC, VersionVector.empty()));
    aliceIncrements(Document.create(DOC), 1);
    LoopbackBus.Message m = nodeA.announced.get(0);

    nodeB.sink().deliver(DOC, m.delta(), m.appended());

    assertThat(bob.updates()).hasSize(1);
    assertThat(hubB.stats().remoteDeltas()).isEqualTo(1);
  }

  @Test
  void aRemoteDeltaThatGivesAFieldAnotherTypeStillBringsItsOtherFields() {
    // Hub C stores apart, so that both creations of "x" become durable, as two servers' appends
    // to Redis do when they race.
    LoopbackBus.Node nodeC = bus.replicator();
    DefaultHub hubC = hubOn(new InMemoryDocumentStore(), nodeC, 3);
    join(hubA.subscribe(alice, DOC, VersionVector.empty()));
    Hub.SyncResult carolSync = join(hubC.subscribe(carol, DOC, VersionVector.empty()));
    bus.holdDeltas();
    Document aliceLocal = Document.create(DOC);
    hubA.update(
            alice,
            DOC,
            aliceLocal
                .incrementGCounter(alice.replicaId(), "x", 1)
                .join(aliceLocal.incrementGCounter(alice.replicaId(), "y", 4)))
        .join();
    hubC.update(
            carol,
            DOC,
            Document.create(DOC)
                .setRegister(carol.replicaId(), "x", Value.of("t"), HlcTimestamp.of(NOW_MILLIS, 0)))
        .join();
    LoopbackBus.Message fromA = nodeA.announced.get(nodeA.announced.size() - 1);

    // As Redis would number it: the entry after hub C's own.
    nodeC.sink().deliver(DOC, fromA.delta(), new Appended(StoreCursor.of(1), StoreCursor.of(2)));

    // Before, the whole delta was dropped: "y" never reached hub C or Carol.
    assertThat(view(carolSync, carol).counterValue("y")).isEqualTo(4);
    // Hub C keeps its own type for "x": the fan-out does not hand Carol a counter "x".
    assertThat(carol.updates())
        .allSatisfy(u -> assertThat(u.delta().fields()).doesNotContainKey("x"));
  }

  @Test
  void aRoundTheStoreRefusesForAFieldTypedFirstElsewhereFailsOnlyTheUpdatesCarryingIt() {
    // Hub C shares the store but has not heard of hub A's "x" (its announcement is held), as a
    // server racing another over Redis; its rounds gather what arrives within a second.
    LoopbackBus.Node nodeC = bus.replicator();
    DefaultHub hubC =
        new DefaultHub(
            HubConfig.builder(store, ReplicaId.of(3))
                .executor(Runnable::run)
                .scheduler(scheduler)
                .clock(new HybridLogicalClock(() -> NOW_MILLIS, Duration.ofSeconds(60)))
                .replicator(nodeC)
                .repairDelay(REPAIR_DELAY)
                .minRoundInterval(Duration.ofSeconds(1))
                .build());
    TestConnection dave = new TestConnection("dave", 0xD);
    join(hubA.subscribe(alice, DOC, VersionVector.empty()));
    Hub.SyncResult carolSync = join(hubC.subscribe(carol, DOC, VersionVector.empty()));
    join(hubC.subscribe(dave, DOC, VersionVector.empty()));
    Document daveLocal = Document.create(DOC);
    hubC.update(dave, DOC, daveLocal.incrementGCounter(dave.replicaId(), "w", 1)).join();
    bus.holdDeltas();
    hubA.update(alice, DOC, Document.create(DOC).incrementGCounter(alice.replicaId(), "x", 5))
        .join();

    CompletableFuture<Void> carols =
        hubC.update(
            carol,
            DOC,
            Document.create(DOC)
                .setRegister(carol.replicaId(), "x", Value.of("t"), HlcTimestamp.of(NOW_MILLIS, 0))
                .join(Document.create(DOC).incrementGCounter(carol.replicaId(), "y", 1)));
    CompletableFuture<Void> daves =
        hubC.update(dave, DOC, daveLocal.incrementGCounter(dave.replicaId(), "z", 2));
    scheduler.advance(Duration.ofSeconds(1));

    // Before, the store's refusal was taken for a failed append: both got INTERNAL, and the
    // round was tried again for ever.
    assertThat(carols)
        .failsWithin(Duration.ofSeconds(10))
        .withThrowableOfType(java.util.concurrent.ExecutionException.class)
        .havingCause()
        .isInstanceOfSatisfying(
            HubException.class,
            e ->
                assertThat(e.code()).isEqualTo(dev.lattice.protocol.ErrorCode.FIELD_TYPE_MISMATCH));
    scheduler.advance(Duration.ofSeconds(1));
    daves.orTimeout(10, TimeUnit.SECONDS).join();
    assertThat(hubC.stats().typeConflicts()).isEqualTo(1);
    Document stored = store.load(DOC).orElseThrow();
    assertThat(stored.counterValue("x")).isEqualTo(5);
    assertThat(stored.counterValue("z")).isEqualTo(2);
    assertThat(stored.field("y")).as("a refused update is refused whole").isEmpty();
    assertThat(stored.contains(new dev.lattice.crdt.Dot(carol.replicaId(), 1))).isFalse();
    // Carol's view holds the winning counter: hub C sent what it had kept out.
    assertThat(view(carolSync, carol).counterValue("x")).isEqualTo(5);
    // Her next update, as a counter, goes through.
    CompletableFuture<Void> again =
        hubC.update(carol, DOC, Document.create(DOC).incrementGCounter(carol.replicaId(), "x", 1));
    scheduler.advance(Duration.ofSeconds(1));
    again.orTimeout(10, TimeUnit.SECONDS).join();
    assertThat(store.load(DOC).orElseThrow().counterValue("x")).isEqualTo(6);
  }

  @Test
  void aFailedAppendRetriedIntoAFieldTypedFirstElsewhereDropsThatFieldInsteadOfLooping() {
    FlakyStore flaky = new FlakyStore(store);
    LoopbackBus.Node nodeC = bus.replicator();
    DefaultHub hubC = hubOn(flaky, nodeC, 3);
    join(hubA.subscribe(alice, DOC, VersionVector.empty()));
    Hub.SyncResult carolSync = join(hubC.subscribe(carol, DOC, VersionVector.empty()));
    bus.holdDeltas();
    flaky.failNextAppends(1, false);
    Document carolLocal = Document.create(DOC);
    CompletableFuture<Void> carols =
        hubC.update(
            carol,
            DOC,
            carolLocal
                .setRegister(carol.replicaId(), "x", Value.of("t"), HlcTimestamp.of(NOW_MILLIS, 0))
                .join(carolLocal.incrementGCounter(carol.replicaId(), "y", 1)));
    assertThat(carols).isCompletedExceptionally();
    hubA.update(alice, DOC, Document.create(DOC).incrementGCounter(alice.replicaId(), "x", 5))
        .join();

    // The retry of the failed round meets alice's durable counter.
    scheduler.advance(Duration.ofSeconds(10));

    // Before, the store's refusal was one more failed append: retried with "x" for ever.
    assertThat(hubC.stats().typeConflicts()).isEqualTo(1);
    assertThat(hubC.stats().appendFailures()).isEqualTo(1);
    Document stored = store.load(DOC).orElseThrow();
    assertThat(stored.counterValue("x")).isEqualTo(5);
    assertThat(stored.counterValue("y")).isEqualTo(1);
    assertThat(view(carolSync, carol).counterValue("x")).isEqualTo(5);
    scheduler.advance(Duration.ofSeconds(60));
    assertThat(hubC.stats().typeConflicts()).isEqualTo(1);
    assertThat(hubC.stats().appendFailures()).isEqualTo(1);
  }

  @Test
  void writesOnBothHubsConvergeEverywhere() {
    Hub.SyncResult aliceSync = join(hubA.subscribe(alice, DOC, VersionVector.empty()));
    Hub.SyncResult bobSync = join(hubB.subscribe(bob, DOC, VersionVector.empty()));
    Document aliceLocal = Document.create(DOC);
    Document bobLocal = Document.create(DOC);

    for (int i = 0; i < 5; i++) {
      hubA.update(alice, DOC, aliceLocal.incrementGCounter(alice.replicaId(), "a", 1)).join();
      hubB.update(bob, DOC, bobLocal.incrementGCounter(bob.replicaId(), "b", 1)).join();
    }

    Document seenByAlice = view(aliceSync, alice);
    seenByAlice.merge(aliceLocal.deltaSince(VersionVector.empty()));
    Document seenByBob = view(bobSync, bob);
    seenByBob.merge(bobLocal.deltaSince(VersionVector.empty()));
    assertThat(seenByAlice.counterValue("b")).isEqualTo(5);
    assertThat(seenByBob.counterValue("a")).isEqualTo(5);
    assertThat(store.load(DOC).orElseThrow().counterValue("a")).isEqualTo(5);
    assertThat(store.load(DOC).orElseThrow().counterValue("b")).isEqualTo(5);
    // Interleaved appends of two hubs chain without gaps: no store read was needed.
    scheduler.advance(REPAIR_DELAY.multipliedBy(3));
    assertThat(hubA.stats().repairs() + hubB.stats().repairs()).isZero();
  }

  /**
   * Two servers each accept an increment that alone keeps the counter in range, before either sees
   * the other's: together they pass 2^63-1. The decision (docs/ENCODING.md, "Counter range"): a
   * delta from another server is merged unchecked, since it is durable and acknowledged already and
   * refusing it here would only make this server disagree with the store and every other server;
   * readers stay total, and the next local increment of that counter is refused.
   */
  @Test
  void incrementsAcceptedOnTwoHubsThatTogetherOverflowAreMergedAndReadersStayTotal() {
    Hub.SyncResult aliceSync = join(hubA.subscribe(alice, DOC, VersionVector.empty()));
    Hub.SyncResult bobSync = join(hubB.subscribe(bob, DOC, VersionVector.empty()));
    long big = Long.MAX_VALUE - 10;
    bus.holdDeltas();
    hubA.update(alice, DOC, Document.create(DOC).incrementGCounter(alice.replicaId(), "n", big))
        .orTimeout(10, TimeUnit.SECONDS)
        .join();
    hubB.update(bob, DOC, Document.create(DOC).incrementGCounter(bob.replicaId(), "n", big))
        .orTimeout(10, TimeUnit.SECONDS)
        .join();

    bus.releaseHeldNewestFirst();

    java.math.BigInteger exact = java.math.BigInteger.valueOf(big).shiftLeft(1);
    // What each hub holds, as a newcomer's catch-up shows it, and what the store holds.
    TestConnection dave = new TestConnection("dave", 0xD);
    Document onA = Document.create(DOC);
    onA.merge(join(hubA.subscribe(carol, DOC, VersionVector.empty())).missing());
    Document onB = Document.create(DOC);
    onB.merge(join(hubB.subscribe(dave, DOC, VersionVector.empty())).missing());
    for (Document held : new Document[] {onA, onB, store.load(DOC).orElseThrow()}) {
      assertThat(((dev.lattice.crdt.GCounter) held.field("n").orElseThrow().state()).exactValue())
          .isEqualTo(exact);
      assertThat(held.counterValue("n")).as("saturates").isEqualTo(Long.MAX_VALUE);
    }
    assertThat(view(aliceSync, alice).counterValue("n"))
        .as("bob's part reached alice")
        .isEqualTo(big);
    assertThat(view(bobSync, bob).counterValue("n")).as("alice's part reached bob").isEqualTo(big);
    // Past the range, a further increment is refused on either hub.
    Document carolLocal = Document.create(DOC);
    CompletableFuture<Void> more =
        hubA.update(carol, DOC, carolLocal.incrementGCounter(carol.replicaId(), "n", 1));
    assertThat(more).isCompletedExceptionally();
    assertThat(org.assertj.core.api.Assertions.catchThrowable(more::join).getCause())
        .isInstanceOfSatisfying(
            HubException.class,
            e -> assertThat(e.code()).isEqualTo(dev.lattice.protocol.ErrorCode.COUNTER_OVERFLOW));
  }

  @Test
  void presenceCrossesHubsAndExpiresThere() {
    join(hubA.subscribe(alice, DOC, VersionVector.empty()));
    join(hubB.subscribe(bob, DOC, VersionVector.empty()));

    hubA.presence(alice, DOC, Optional.of(Value.of("typing")), Duration.ofSeconds(5));

    assertThat(bob.presences())
        .containsExactly(
            new Presence(DOC, alice.replicaId(), 5_000, Optional.of(Value.of("typing"))));
    // A newcomer on B is shown the live remote presence with the TTL it has left.
    scheduler.advance(Duration.ofSeconds(2));
    join(hubB.subscribe(carol, DOC, VersionVector.empty()));
    assertThat(carol.presences())
        .containsExactly(
            new Presence(DOC, alice.replicaId(), 3_000, Optional.of(Value.of("typing"))));

    scheduler.advance(Duration.ofSeconds(3));

    assertThat(bob.presences()).last().isEqualTo(Presence.leave(DOC, alice.replicaId()));
    assertThat(carol.presences()).last().isEqualTo(Presence.leave(DOC, alice.replicaId()));
  }

  @Test
  void aSubscriberLeavingOneHubIsAnnouncedGoneOnTheOther() {
    join(hubA.subscribe(alice, DOC, VersionVector.empty()));
    join(hubB.subscribe(bob, DOC, VersionVector.empty()));
    hubA.presence(alice, DOC, Optional.of(Value.of("here")), Duration.ofSeconds(30));

    hubA.disconnect(alice);

    assertThat(bob.presences()).last().isEqualTo(Presence.leave(DOC, alice.replicaId()));
  }

  @Test
  void aCachedDocumentCatchesUpOnWhatOtherHubsWroteWhileItWasIdle() {
    MapCache cache = new MapCache();
    LoopbackBus.Node nodeC = bus.replicator();
    DefaultHub hubC = hub(nodeC, cache, 3);
    join(hubA.subscribe(alice, DOC, VersionVector.empty()));
    Document aliceLocal = Document.create(DOC);
    aliceIncrements(aliceLocal, 1);
    join(hubC.subscribe(bob, DOC, VersionVector.empty()));
    hubC.unsubscribe(bob, DOC);
    assertThat(cache.documents).containsKey(DOC);
    assertThat(nodeC.following).doesNotContain(DOC);

    aliceIncrements(aliceLocal, 2); // C follows nothing: it hears none of it

    Hub.SyncResult carolSync = join(hubC.subscribe(carol, DOC, VersionVector.empty()));

    assertThat(hubC.stats().cacheHits()).isEqualTo(1);
    assertThat(view(carolSync, carol).counterValue("likes")).isEqualTo(3);
  }

  @Test
  void aDeltaDeliveredWhileTheDocumentLoadsIsKept() {
    CompletableFuture<Void> followed = new CompletableFuture<>();
    nodeB.holdNextFollow(followed);
    CompletableFuture<Hub.SyncResult> bobSubscribed =
        hubB.subscribe(bob, DOC, VersionVector.empty());
    assertThat(bobSubscribed).isNotDone();
    // Announced by a server whose append this hub's load will not see (it is not in the store).
    Document elsewhere = Document.create(DOC);
    DocumentDelta d = elsewhere.incrementGCounter(ReplicaId.of(0xE), "likes", 7);
    nodeB.sink().deliver(DOC, d, new Appended(StoreCursor.of(5), StoreCursor.of(6)));

    followed.complete(null);

    assertThat(view(join(bobSubscribed), bob).counterValue("likes")).isEqualTo(7);
  }

  @Test
  void deliveriesForADocumentNotLiveHereAreIgnored() {
    Document elsewhere = Document.create("other");
    DocumentDelta d = elsewhere.incrementGCounter(ReplicaId.of(0xE), "likes", 1);

    nodeB.sink().deliver("other", d, new Appended(StoreCursor.ORIGIN, StoreCursor.of(1)));
    nodeB.sink().mayHaveMissed("other");
    nodeB.sink().presence(new Presence("other", ReplicaId.of(0xE), 1000, Optional.of(Value.of(1))));

    assertThat(hubB.stats().documentsLive()).isZero();
    assertThat(hubB.stats().loads()).isZero();
  }

  @Test
  void aDocumentTheStoreLostIsWrittenBackWhole() {
    ForgetfulStore forgetful = new ForgetfulStore();
    LoopbackBus.Node nodeC = bus.replicator();
    DefaultHub hubC =
        new DefaultHub(
            HubConfig.builder(forgetful, ReplicaId.of(3))
                .executor(Runnable::run)
                .scheduler(scheduler)
                .replicator(nodeC)
                .build());
    join(hubC.subscribe(alice, DOC, VersionVector.empty()));
    join(hubC.subscribe(bob, "never-written", VersionVector.empty()));
    Document aliceLocal = Document.create(DOC);
    hubC.update(alice, DOC, aliceLocal.incrementGCounter(alice.replicaId(), "a", 2)).join();
    hubC.update(alice, DOC, aliceLocal.incrementGCounter(alice.replicaId(), "b", 3)).join();

    forgetful.forget(); // Redis restarted empty
    nodeC.sink().head(DOC, StoreCursor.ORIGIN);
    nodeC.sink().head("never-written", StoreCursor.ORIGIN);

    Document back = forgetful.load(DOC).orElseThrow();
    assertThat(back.counterValue("a")).isEqualTo(2);
    assertThat(back.counterValue("b")).isEqualTo(3);
    assertThat(forgetful.exists("never-written")).isFalse();
    assertThat(hubC.stats().reseeds()).isEqualTo(1);
    // Written back once: the store's head is known again.
    nodeC.sink().head(DOC, StoreCursor.of(1));
    scheduler.advance(REPAIR_DELAY);
    assertThat(hubC.stats().reseeds()).isEqualTo(1);
  }

  /** A third hub, C, whose appends the test can fail. */
  private DefaultHub flakyHub(FlakyStore flaky, LoopbackBus.Node node) {
    return new DefaultHub(
        HubConfig.builder(flaky, ReplicaId.of(3))
            .executor(Runnable::run)
            .scheduler(scheduler)
            .clock(new HybridLogicalClock(() -> NOW_MILLIS, Duration.ofSeconds(60)))
            .replicator(node)
            .repairDelay(REPAIR_DELAY)
            .build());
  }

  /**
   * Found by the multi-server simulation: a server edit whose append timed out although the store
   * took it was never fanned out; the repair that later read it from the store found nothing new
   * (the hub had merged it) and sent nothing either, so the hub's own subscriber never got it.
   */
  @Test
  void aFailedAppendThatLandedReachesTheSubscribersWhenARepairReadsIt() {
    FlakyStore flaky = new FlakyStore(store);
    LoopbackBus.Node nodeC = bus.replicator();
    DefaultHub hubC = flakyHub(flaky, nodeC);
    Hub.SyncResult aliceSync = join(hubC.subscribe(alice, DOC, VersionVector.empty()));
    flaky.failNextAppends(1, true);
    CompletableFuture<DocumentDelta> edit = hubC.edit(DOC, e -> e.increment("n", 3));
    assertThat(edit).isCompletedExceptionally();

    nodeC.sink().mayHaveMissed(DOC);

    assertThat(view(aliceSync, alice)).isEqualTo(store.load(DOC).orElseThrow());
    assertThat(view(aliceSync, alice).counterValue("n")).isEqualTo(3);
  }

  /**
   * A client's update failed on hub C (nothing fanned out), and the client sent it again through
   * hub A: when A's announcement reaches C, C already holds the delta, yet its other subscribers
   * never saw it; they must get it now.
   */
  @Test
  void aDeltaThatFailedHereAndArrivesFromAnotherHubReachesTheSubscribersHere() {
    FlakyStore flaky = new FlakyStore(store);
    LoopbackBus.Node nodeC = bus.replicator();
    DefaultHub hubC = flakyHub(flaky, nodeC);
    join(hubC.subscribe(alice, DOC, VersionVector.empty()));
    Hub.SyncResult carolSync = join(hubC.subscribe(carol, DOC, VersionVector.empty()));
    DocumentDelta d = Document.create(DOC).incrementGCounter(alice.replicaId(), "likes", 2);
    flaky.failNextAppends(1, false);
    assertThat(hubC.update(alice, DOC, d)).isCompletedExceptionally();
    assertThat(carol.updates()).isEmpty();

    // Alice moves to hub A and sends it again there.
    hubC.disconnect(alice);
    join(hubA.subscribe(alice, DOC, VersionVector.empty()));
    hubA.update(alice, DOC, d).join();

    assertThat(view(carolSync, carol).counterValue("likes")).isEqualTo(2);
  }

  private DefaultHub hubOn(DocumentStore on, LoopbackBus.Node node, long replica) {
    return new DefaultHub(
        HubConfig.builder(on, ReplicaId.of(replica))
            .executor(Runnable::run)
            .scheduler(scheduler)
            .clock(new HybridLogicalClock(() -> NOW_MILLIS, Duration.ofSeconds(60)))
            .replicator(node)
            .repairDelay(REPAIR_DELAY)
            .build());
  }

  /**
   * Found by the multi-server simulation: after Redis restarted empty, the first append (here the
   * hub's own) re-created the document before any head check could see it missing; from then on the
   * store had a head again and nobody wrote back what it had lost. The append's previous position,
   * the origin, says the store had nothing before it.
   */
  @Test
  void anAppendThatRecreatesALostDocumentMakesTheHubWriteItBack() {
    FlakyStore redis = new FlakyStore();
    LoopbackBus.Node nodeC = bus.replicator();
    DefaultHub hubC = hubOn(redis, nodeC, 3);
    join(hubC.subscribe(alice, DOC, VersionVector.empty()));
    Document aliceLocal = Document.create(DOC);
    hubC.update(alice, DOC, aliceLocal.incrementGCounter(alice.replicaId(), "a", 2)).join();

    redis.forget();
    hubC.update(alice, DOC, aliceLocal.incrementGCounter(alice.replicaId(), "b", 3)).join();

    Document back = redis.load(DOC).orElseThrow();
    assertThat(back.counterValue("a")).isEqualTo(2);
    assertThat(back.counterValue("b")).isEqualTo(3);
    assertThat(hubC.stats().reseeds()).isEqualTo(1);
    // Settled: the head check finds nothing more to do.
    nodeC.sink().head(DOC, StoreCursor.of(3));
    scheduler.advance(REPAIR_DELAY.multipliedBy(3));
    assertThat(hubC.stats().reseeds()).isEqualTo(1);
    assertThat(hubC.stats().repairs()).isEqualTo(1);
  }

  /** The same seen on another hub: the announcement of the re-creating append. */
  @Test
  void anAnnouncedAppendThatRecreatesALostDocumentMakesEveryHubHoldingItWriteItBack() {
    FlakyStore redis = new FlakyStore();
    LoopbackBus.Node nodeC = bus.replicator();
    LoopbackBus.Node nodeD = bus.replicator();
    DefaultHub hubC = hubOn(redis, nodeC, 3);
    DefaultHub hubD = hubOn(redis, nodeD, 4);
    join(hubC.subscribe(alice, DOC, VersionVector.empty()));
    join(hubD.subscribe(bob, DOC, VersionVector.empty()));
    // Only D holds bob's update: C never hears of it.
    bus.dropDeltas(m -> m.from() == nodeD);
    hubD.update(bob, DOC, Document.create(DOC).incrementGCounter(bob.replicaId(), "b", 5)).join();
    bus.dropDeltas(m -> false);

    redis.forget();
    hubC.update(alice, DOC, Document.create(DOC).incrementGCounter(alice.replicaId(), "a", 1))
        .join();

    Document back = redis.load(DOC).orElseThrow();
    assertThat(back.counterValue("a")).isEqualTo(1);
    assertThat(back.counterValue("b")).isEqualTo(5);
    assertThat(hubD.stats().reseeds()).isEqualTo(1);
  }

  /** A repair that finds the document missing (the store answers the origin) writes it back. */
  @Test
  void aRepairThatFindsTheDocumentMissingWritesItBack() {
    FlakyStore redis = new FlakyStore();
    LoopbackBus.Node nodeC = bus.replicator();
    DefaultHub hubC = hubOn(redis, nodeC, 3);
    join(hubC.subscribe(alice, DOC, VersionVector.empty()));
    hubC.update(alice, DOC, Document.create(DOC).incrementGCounter(alice.replicaId(), "a", 2))
        .join();

    redis.forget();
    nodeC.sink().mayHaveMissed(DOC); // the replicator reconnected to the restarted Redis

    assertThat(redis.load(DOC).orElseThrow().counterValue("a")).isEqualTo(2);
    assertThat(hubC.stats().reseeds()).isEqualTo(1);
    // The write-back is not fanned out: the subscribers here have it all.
    assertThat(alice.updates()).isEmpty();
  }

  /**
   * Found by the multi-server simulation: a hub whose chain was broken (its position still the
   * origin) but which had appended took a read answering "nothing stored" for a new document.
   */
  @Test
  void aHubThatAppendedButWhosePositionIsStillTheOriginWritesBackWhatTheStoreLost() {
    FlakyStore redis = new FlakyStore();
    LoopbackBus.Node nodeC = bus.replicator();
    LoopbackBus.Node nodeD = bus.replicator();
    DefaultHub hubC = hubOn(redis, nodeC, 3);
    DefaultHub hubD = hubOn(redis, nodeD, 4);
    join(hubC.subscribe(alice, DOC, VersionVector.empty()));
    join(hubD.subscribe(bob, DOC, VersionVector.empty()));
    bus.dropDeltas(m -> true);
    hubD.update(bob, DOC, Document.create(DOC).incrementGCounter(bob.replicaId(), "b", 1)).join();
    // C's append links to D's, which C never heard of: C's chain is broken at the origin.
    hubC.update(alice, DOC, Document.create(DOC).incrementGCounter(alice.replicaId(), "a", 2))
        .join();

    redis.forget();
    nodeC.sink().mayHaveMissed(DOC);

    assertThat(redis.load(DOC).orElseThrow().counterValue("a")).isEqualTo(2);
    assertThat(hubC.stats().reseeds()).isEqualTo(1);
  }

  /**
   * Found by the multi-server simulation: Redis lost the document again right after a hub wrote it
   * back, and another server re-created it before the hub's read from the origin ran; that read
   * (the store's whole document) lacked what the hub had written back.
   */
  @Test
  void aReadFromTheOriginThatLacksWhatTheHubWroteBackMakesItWriteAgain() {
    FlakyStore redis = new FlakyStore();
    LoopbackBus.Node nodeC = bus.replicator();
    LoopbackBus.Node nodeD = bus.replicator();
    DefaultHub hubC = hubOn(redis, nodeC, 3);
    DefaultHub hubD = hubOn(redis, nodeD, 4);
    join(hubC.subscribe(alice, DOC, VersionVector.empty()));
    join(hubD.subscribe(bob, DOC, VersionVector.empty()));
    bus.dropDeltas(m -> true);
    hubC.update(alice, DOC, Document.create(DOC).incrementGCounter(alice.replicaId(), "a", 2))
        .join();

    redis.forget();
    redis.holdReads();
    nodeC.sink().head(DOC, StoreCursor.ORIGIN); // C writes it back; its read waits
    assertThat(redis.load(DOC).orElseThrow().counterValue("a")).isEqualTo(2);
    redis.forget();
    hubD.update(bob, DOC, Document.create(DOC).incrementGCounter(bob.replicaId(), "b", 1)).join();
    redis.releaseReads();

    Document back = redis.load(DOC).orElseThrow();
    assertThat(back.counterValue("a")).isEqualTo(2);
    assertThat(back.counterValue("b")).isEqualTo(1);
  }

  /**
   * Found by the multi-server simulation: a hub's write-back landed, Redis lost the document again,
   * another server re-created it and the hub heard of that before the reply to its own write-back
   * arrived: an append to a history the store has since lost, which the hub must make again.
   */
  @Test
  void anAppendThatLandedInAHistoryTheStoreLostSinceIsWrittenAgain() {
    FlakyStore redis = new FlakyStore();
    LoopbackBus.Node nodeC = bus.replicator();
    LoopbackBus.Node nodeD = bus.replicator();
    DefaultHub hubC = hubOn(redis, nodeC, 3);
    DefaultHub hubD = hubOn(redis, nodeD, 4);
    join(hubC.subscribe(alice, DOC, VersionVector.empty()));
    join(hubD.subscribe(bob, DOC, VersionVector.empty()));
    bus.dropDeltas(m -> m.from() == nodeC); // D never holds alice's update
    hubC.update(alice, DOC, Document.create(DOC).incrementGCounter(alice.replicaId(), "a", 2))
        .join();

    redis.forget();
    redis.holdNextReply();
    nodeC.sink().head(DOC, StoreCursor.ORIGIN); // C's write-back lands; its reply waits
    redis.forget();
    bus.dropDeltas(m -> false);
    hubD.update(bob, DOC, Document.create(DOC).incrementGCounter(bob.replicaId(), "b", 1)).join();
    redis.releaseHeldReply();

    Document back = redis.load(DOC).orElseThrow();
    assertThat(back.counterValue("a")).isEqualTo(2);
    assertThat(back.counterValue("b")).isEqualTo(1);
  }

  /**
   * Found by the multi-server simulation: a hub's write-back landed just before Redis lost the
   * document again; another server re-created it, and reads showed the hub the new history before
   * the announcement of the re-creation reached it. That announcement, old news by then, starts
   * over after the write-back's position. With a store that tells a cursor from before the history
   * it holds, a read would show the loss too; with one that cannot, the announcement is the only
   * sign.
   */
  @Test
  void aReCreationAnnouncedAfterARepairOvertookItStillShowsTheLoss() {
    FlakyStore redis = new FlakyStore();
    redis.tellStaleCursors(false);
    LoopbackBus.Node nodeC = bus.replicator();
    LoopbackBus.Node nodeD = bus.replicator();
    DefaultHub hubC = hubOn(redis, nodeC, 3);
    DefaultHub hubD = hubOn(redis, nodeD, 4);
    join(hubC.subscribe(alice, DOC, VersionVector.empty()));
    join(hubD.subscribe(bob, DOC, VersionVector.empty()));
    bus.dropDeltas(m -> true);
    hubC.update(alice, DOC, Document.create(DOC).incrementGCounter(alice.replicaId(), "a", 2))
        .join();
    redis.forget();
    redis.holdNextReply();
    nodeC.sink().head(DOC, StoreCursor.ORIGIN); // C writes back; the reply waits
    redis.holdReads();
    nodeC.sink().mayHaveMissed(DOC); // a read from the origin, waiting
    redis.releaseHeldReply();
    redis.forget();
    bus.dropDeltas(m -> false);
    bus.holdDeltas();
    hubD.update(bob, DOC, Document.create(DOC).incrementGCounter(bob.replicaId(), "b", 1)).join();
    redis.releaseReads();
    assertThat(redis.load(DOC).orElseThrow().counterValue("a")).isZero();

    bus.releaseHeldNewestFirst();

    Document back = redis.load(DOC).orElseThrow();
    assertThat(back.counterValue("a")).isEqualTo(2);
    assertThat(back.counterValue("b")).isEqualTo(1);
  }

  /**
   * Found by the multi-server simulation (with publishes failing): a read from the origin started
   * while the hub's write-back was on its way; the write-back landed, Redis lost it, another server
   * re-created the document, and then the read ran. Its answer lacks the write-back, which no
   * longer counts as on its way: the read may have run before it landed, so it is made again, from
   * the hub's position now, where the store can tell that history is gone.
   */
  @Test
  void aReadFromTheOriginThatMayHaveRunBeforeTheWriteBackLandedIsMadeAgain() {
    FlakyStore redis = new FlakyStore();
    LoopbackBus.Node nodeC = bus.replicator();
    LoopbackBus.Node nodeD = bus.replicator();
    DefaultHub hubC = hubOn(redis, nodeC, 3);
    DefaultHub hubD = hubOn(redis, nodeD, 4);
    join(hubC.subscribe(alice, DOC, VersionVector.empty()));
    join(hubD.subscribe(bob, DOC, VersionVector.empty()));
    bus.dropDeltas(m -> true);
    hubC.update(alice, DOC, Document.create(DOC).incrementGCounter(alice.replicaId(), "a", 2))
        .join();
    redis.forget();
    redis.holdNextReply();
    nodeC.sink().head(DOC, StoreCursor.ORIGIN); // C writes back; the reply waits
    redis.holdReads();
    nodeC.sink().mayHaveMissed(DOC); // a read from the origin, waiting
    redis.releaseHeldReply();
    redis.forget();
    hubD.update(bob, DOC, Document.create(DOC).incrementGCounter(bob.replicaId(), "b", 1)).join();

    redis.releaseReads();

    Document back = redis.load(DOC).orElseThrow();
    assertThat(back.counterValue("a")).isEqualTo(2);
    assertThat(back.counterValue("b")).isEqualTo(1);
  }

  /**
   * Found by the multi-server simulation: a hub that knew of no position read the document from the
   * origin; before the answer came, its own append landed, and then the store lost it and another
   * server re-created the document. The answer (the new history, without the append) could not show
   * the loss; a read from the hub's new position does.
   */
  @Test
  void aReadFromTheOriginOverlappingTheHubsFirstAppendIsMadeAgainFromItsPosition() {
    FlakyStore redis = new FlakyStore();
    LoopbackBus.Node nodeC = bus.replicator();
    LoopbackBus.Node nodeD = bus.replicator();
    DefaultHub hubC = hubOn(redis, nodeC, 3);
    DefaultHub hubD = hubOn(redis, nodeD, 4);
    join(hubC.subscribe(alice, DOC, VersionVector.empty()));
    join(hubD.subscribe(bob, DOC, VersionVector.empty()));
    bus.dropDeltas(m -> true);
    redis.holdNextReply();
    CompletableFuture<Void> ack =
        hubC.update(alice, DOC, Document.create(DOC).incrementGCounter(alice.replicaId(), "a", 2));
    redis.holdReads();
    nodeC.sink().mayHaveMissed(DOC); // a read from the origin, waiting
    redis.forget();
    hubD.update(bob, DOC, Document.create(DOC).incrementGCounter(bob.replicaId(), "b", 1)).join();
    redis.releaseHeldReply();
    assertThat(ack).isCompletedWithValue(null);

    redis.releaseReads();

    Document back = redis.load(DOC).orElseThrow();
    assertThat(back.counterValue("a")).isEqualTo(2);
    assertThat(back.counterValue("b")).isEqualTo(1);
    assertThat(hubC.stats().reseeds()).isEqualTo(1);
  }

  /**
   * Found by the multi-server simulation (in runs where Redis never lost anything): a read that
   * found no document because nothing was appended yet, answered after the hub heard of the first
   * append, is no sign of a loss and writes nothing back.
   */
  @Test
  void aReadThatRanBeforeTheFirstAppendIsNoSignOfALoss() {
    FlakyStore redis = new FlakyStore();
    LoopbackBus.Node nodeC = bus.replicator();
    LoopbackBus.Node nodeD = bus.replicator();
    DefaultHub hubC = hubOn(redis, nodeC, 3);
    DefaultHub hubD = hubOn(redis, nodeD, 4);
    join(hubC.subscribe(alice, DOC, VersionVector.empty()));
    join(hubD.subscribe(bob, DOC, VersionVector.empty()));
    redis.holdReadReplies();
    nodeC.sink().mayHaveMissed(DOC); // runs now: nothing stored yet
    hubD.update(bob, DOC, Document.create(DOC).incrementGCounter(bob.replicaId(), "b", 1)).join();

    redis.releaseReadReplies();

    assertThat(hubC.stats().reseeds()).isZero();
    assertThat(redis.stats().appendedDeltas()).isEqualTo(1);
  }

  /** A write-back that fails is tried again, like any failed append, until the store takes it. */
  @Test
  void aFailedWriteBackIsTriedAgain() {
    FlakyStore redis = new FlakyStore();
    LoopbackBus.Node nodeC = bus.replicator();
    DefaultHub hubC = hubOn(redis, nodeC, 3);
    join(hubC.subscribe(alice, DOC, VersionVector.empty()));
    hubC.update(alice, DOC, Document.create(DOC).incrementGCounter(alice.replicaId(), "a", 2))
        .join();

    redis.forget();
    redis.failNextAppends(1, false);
    nodeC.sink().head(DOC, StoreCursor.ORIGIN);
    assertThat(redis.exists(DOC)).isFalse();
    // Meanwhile another server re-creates the document: no head check would show it missing now.
    redis.append(DOC, Document.create(DOC).incrementGCounter(bob.replicaId(), "b", 1)).join();
    scheduler.advance(Duration.ofSeconds(1));

    Document back = redis.load(DOC).orElseThrow();
    assertThat(back.counterValue("a")).isEqualTo(2);
    assertThat(back.counterValue("b")).isEqualTo(1);
  }

  /**
   * A write-back that failed and then succeeded leaves no trace: the document's own deltas are
   * durable, so a resend is a duplicate again, not appended once more.
   */
  @Test
  void aWriteBackThatFailedOnceLeavesTheDocumentAsBeforeOnceItSucceeds() {
    FlakyStore redis = new FlakyStore();
    LoopbackBus.Node nodeC = bus.replicator();
    DefaultHub hubC = hubOn(redis, nodeC, 3);
    join(hubC.subscribe(alice, DOC, VersionVector.empty()));
    DocumentDelta a = Document.create(DOC).incrementGCounter(alice.replicaId(), "a", 2);
    hubC.update(alice, DOC, a).join();
    redis.forget();
    redis.failNextAppends(1, false);
    nodeC.sink().head(DOC, StoreCursor.ORIGIN);
    scheduler.advance(Duration.ofSeconds(1));
    assertThat(redis.load(DOC).orElseThrow().counterValue("a")).isEqualTo(2);
    long appended = redis.stats().appendedDeltas();

    hubC.update(alice, DOC, a).join(); // a resend after a lost ack

    assertThat(redis.stats().appendedDeltas()).isEqualTo(appended);
    assertThat(hubC.stats().duplicateUpdates()).isEqualTo(1);
  }

  /** An in-memory store that can lose everything at once, as a Redis without persistence does. */
  private static final class ForgetfulStore implements DocumentStore {
    private volatile InMemoryDocumentStore inner = new InMemoryDocumentStore();

    void forget() {
      inner = new InMemoryDocumentStore();
    }

    @Override
    public CompletableFuture<Appended> append(String documentId, DocumentDelta delta) {
      return inner.append(documentId, delta);
    }

    @Override
    public Optional<Document> load(String documentId) {
      return inner.load(documentId);
    }

    @Override
    public CompletableFuture<Optional<StoredDocument>> loadAsync(String documentId) {
      return inner.loadAsync(documentId);
    }

    @Override
    public CompletableFuture<StoredChanges> readSince(String documentId, StoreCursor after) {
      return inner.readSince(documentId, after);
    }

    @Override
    public boolean exists(String documentId) {
      return inner.exists(documentId);
    }

    @Override
    public Set<String> documentIds() {
      return inner.documentIds();
    }

    @Override
    public void compact(String documentId) {}

    @Override
    public StoreStats stats() {
      return inner.stats();
    }

    @Override
    public void close() {}
  }

  /** A cache that keeps everything. */
  private static final class MapCache implements DocumentCache {
    final Map<String, StoredDocument> documents = new HashMap<>();

    @Override
    public synchronized Optional<StoredDocument> take(String documentId) {
      return Optional.ofNullable(documents.remove(documentId));
    }

    @Override
    public synchronized void put(StoredDocument document) {
      documents.put(document.document().id(), document);
    }
  }
}

package dev.lattice.server.hub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.LWWRegister;
import dev.lattice.crdt.MVRegister;
import dev.lattice.crdt.ORMap;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.protocol.Update;
import dev.lattice.server.spi.DocumentStore;
import dev.lattice.server.spi.StoreCursor;
import dev.lattice.server.spi.StoredDocument;
import dev.lattice.server.store.InMemoryDocumentStore;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Server-side edits ({@link Hub#edit}), the idle-document cache seam and the timing observer. */
class DefaultHubEditAndCacheTest {

  private static final String DOC = "doc";
  private static final ReplicaId SERVER = ReplicaId.of(0x5E);
  private static final long NOW_MILLIS = 1_700_000_000_000L;

  private final HybridLogicalClock clock =
      new HybridLogicalClock(() -> NOW_MILLIS, Duration.ofSeconds(60));
  private final TestConnection alice = new TestConnection("alice", 0xA);
  private final TestConnection bob = new TestConnection("bob", 0xB);
  private final ManualScheduler scheduler = new ManualScheduler();

  private DefaultHub hub(DocumentStore store, DocumentCache cache, HubObserver observer) {
    return new DefaultHub(
        HubConfig.builder(store, SERVER)
            .executor(Runnable::run)
            .scheduler(scheduler)
            .clock(clock)
            .maxFieldsPerDocument(3)
            .cache(cache)
            .observer(observer)
            .build());
  }

  private DefaultHub hub(DocumentStore store) {
    return hub(store, DocumentCache.none(), HubObserver.NONE);
  }

  private static <T> T join(CompletableFuture<T> f) {
    return f.orTimeout(10, TimeUnit.SECONDS).join();
  }

  private static ErrorCode codeOf(CompletableFuture<?> f) {
    assertThat(f).isCompletedExceptionally();
    try {
      f.join();
      throw new AssertionError("expected failure");
    } catch (CompletionException e) {
      assertThat(e.getCause()).isInstanceOf(HubException.class);
      return ((HubException) e.getCause()).code();
    }
  }

  @Test
  void editIsMergedMadeDurableAndFannedOutToEverySubscriberAsTheServerReplica() {
    ControllableStore store = new ControllableStore();
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));

    CompletableFuture<DocumentDelta> done =
        hub.edit(DOC, e -> e.increment("views", 2).add("score", -3).set("title", Value.of("Q3")));

    assertThat(store.appends()).hasSize(1);
    assertThat(done).isNotDone();
    assertThat(alice.updates()).isEmpty();
    store.completeAppend(0);

    DocumentDelta delta = join(done);
    assertThat(delta.context().ranges()).allSatisfy(r -> assertThat(r.replica()).isEqualTo(SERVER));
    assertThat(alice.updates()).containsExactly(Update.fanOut(DOC, delta));
    assertThat(bob.updates()).containsExactly(Update.fanOut(DOC, delta));
    Document replica = Document.create(DOC);
    replica.merge(delta);
    assertThat(replica.counterValue("views")).isEqualTo(2);
    assertThat(replica.counterValue("score")).isEqualTo(-3);
    assertThat(replica.registerValue("title")).contains(Value.of("Q3"));
    assertThat(store.appends().get(0).delta()).isEqualTo(delta);
  }

  @Test
  void editOfAnUnsubscribedDocumentLoadsItAndKeepsItUntilDurable() {
    InMemoryDocumentStore store = new InMemoryDocumentStore();
    join(store.append(DOC, Document.create(DOC).incrementGCounter(ReplicaId.of(7), "views", 5)));
    DefaultHub hub = hub(store);

    join(hub.edit(DOC, e -> e.increment("views", 1)));

    assertThat(hub.stats().documentsLive()).isZero();
    assertThat(store.load(DOC).orElseThrow().counterValue("views")).isEqualTo(6);
    Hub.SyncResult sync = join(hub.subscribe(alice, DOC, VersionVector.empty()));
    Document replica = Document.create(DOC);
    replica.merge(sync.missing());
    assertThat(replica.counterValue("views")).isEqualTo(6);
  }

  @Test
  void anEditOfAColdDocumentWaitsForItsAppendBeforeRelease() {
    ControllableStore store = new ControllableStore();
    DefaultHub hub = hub(store);

    CompletableFuture<DocumentDelta> done = hub.edit(DOC, e -> e.increment("views", 1));

    assertThat(hub.stats().documentsLive()).isEqualTo(1);
    store.completeAppend(0);
    join(done);
    assertThat(hub.stats().documentsLive()).isZero();
  }

  @Test
  void successiveEditsTakeSuccessiveDotsOfTheServerReplica() {
    ControllableStore store = new ControllableStore();
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    CompletableFuture<DocumentDelta> first = hub.edit(DOC, e -> e.increment("n", 1));
    CompletableFuture<DocumentDelta> second = hub.edit(DOC, e -> e.increment("n", 1));
    store.completeAppend(0);
    store.completeAppend(1);

    assertThat(join(first).context().contains(new dev.lattice.crdt.Dot(SERVER, 1))).isTrue();
    assertThat(join(second).context().contains(new dev.lattice.crdt.Dot(SERVER, 2))).isTrue();
  }

  @Test
  void refusedEditsChangeNothing() {
    ControllableStore store = new ControllableStore();
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    hub.edit(DOC, e -> e.increment("n", 1));
    store.completeAppend(0);

    assertThat(codeOf(hub.edit(DOC, e -> e.set("n", Value.of(1L)))))
        .isEqualTo(ErrorCode.FIELD_TYPE_MISMATCH);
    assertThat(codeOf(hub.edit(DOC, e -> e.increment("a", 1).increment("b", 1).add("c", 1))))
        .isEqualTo(ErrorCode.TOO_MANY_FIELDS);
    // The second increment overflows the server's own entry: nothing of the edit may stay.
    CompletableFuture<DocumentDelta> overflow =
        hub.edit(DOC, e -> e.increment("n", 1).increment("n", Long.MAX_VALUE));
    assertThat(codeOf(overflow)).isEqualTo(ErrorCode.COUNTER_OVERFLOW);

    assertThat(store.appends()).hasSize(1);
    assertThat(alice.updates()).hasSize(1);
    Document replica = Document.create(DOC);
    replica.merge(join(hub.subscribe(bob, DOC, VersionVector.empty())).missing());
    assertThat(replica.fields()).containsOnlyKeys("n");
    assertThat(replica.counterValue("n")).isEqualTo(1);
  }

  @Test
  void editsTheCausalTypesAndNestedMapValues() {
    DefaultHub hub = hub(new InMemoryDocumentStore());
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    Document aliceLocal = Document.create(DOC);
    // Alice adds "mine" to the set; the server, which has not seen it, removes only what it holds.
    DocumentDelta aliceAdds = aliceLocal.addToSet(alice.replicaId(), "tags", Value.of("mine"));
    join(hub.update(alice, DOC, aliceAdds));

    join(
        hub.edit(
            DOC,
            e ->
                e.addToSet("tags", Value.of("x"))
                    .addToSet("tags", Value.of("y"))
                    .writeMVRegister("title", Value.of("T"))
                    .inMap(
                        "card",
                        card ->
                            card.set("title", Value.of("Fix"))
                                .increment("votes", 2)
                                .addToSet("labels", Value.of("bug"))
                                .inMap("meta", meta -> meta.set("owner", Value.of("ann"))))));
    join(
        hub.edit(
            DOC,
            e ->
                e.removeFromSet("tags", Value.of("x"))
                    .removeFromSet("tags", Value.of("mine"))
                    .writeMVRegister("title", Value.of("U"))
                    .inMap(
                        "card",
                        card ->
                            card.removeFromSet("labels", Value.of("bug"))
                                .removeFromMap("meta", "owner"))));

    Document replica = Document.create(DOC);
    replica.merge(join(hub.subscribe(bob, DOC, VersionVector.empty())).missing());
    assertThat(((ORSet) replica.field("tags").orElseThrow().state()).elements())
        .containsExactly(Value.of("y"));
    assertThat(((MVRegister) replica.field("title").orElseThrow().state()).values())
        .containsExactly(Value.of("U"));
    ORMap card = (ORMap) replica.field("card").orElseThrow().state();
    assertThat(((LWWRegister) card.get("title").orElseThrow()).value()).contains(Value.of("Fix"));
    assertThat(((GCounter) card.get("votes").orElseThrow()).value()).isEqualTo(2);
    // Each nested element or key is one map entry: removing the last one retracts the key.
    assertThat(card.containsKey("labels")).isFalse();
    assertThat(card.containsKey("meta")).isFalse();
    // Every dot of the edits is the server's.
    assertThat(card.liveOnlyFrom(SERVER)).isTrue();
  }

  @Test
  void anEditOfANestedKeyOfAnotherTypeIsRefusedAndChangesNothing() {
    ControllableStore store = new ControllableStore();
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    hub.edit(DOC, e -> e.inMap("card", card -> card.increment("votes", 1)));
    store.completeAppend(0);
    assertThat(codeOf(hub.edit(DOC, e -> e.inMap("card", card -> card.set("votes", Value.of(1L))))))
        .isEqualTo(ErrorCode.FIELD_TYPE_MISMATCH);
    assertThat(codeOf(hub.edit(DOC, e -> e.addToSet("card", Value.of(1L)))))
        .isEqualTo(ErrorCode.FIELD_TYPE_MISMATCH);
    assertThat(store.appends()).hasSize(1);
  }

  @Test
  void editCannotGiveOneFieldTwoTypes() {
    DefaultHub hub = hub(new ControllableStore());
    assertThatThrownBy(() -> hub.edit(DOC, e -> e.increment("n", 1).set("n", Value.of(2L))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'n'");
    assertThatThrownBy(() -> hub.edit(DOC, e -> e.increment("n", -1)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void anIdleDocumentGoesToTheCacheAndComesBackWithoutALoad() {
    ControllableStore store = new ControllableStore();
    MapCache cache = new MapCache();
    DefaultHub hub = hub(store, cache, HubObserver.NONE);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    Document local = Document.create(DOC);
    CompletableFuture<Void> ack =
        hub.update(alice, DOC, local.incrementGCounter(alice.replicaId(), "n", 4));
    store.completeAppend(0);
    join(ack);

    hub.disconnect(alice);
    assertThat(cache.documents).containsKey(DOC);
    assertThat(hub.stats().documentsLive()).isZero();

    Hub.SyncResult sync = join(hub.subscribe(bob, DOC, VersionVector.empty()));
    assertThat(store.loadCalls()).isEqualTo(1);
    assertThat(hub.stats().cacheHits()).isEqualTo(1);
    assertThat(cache.documents).isEmpty(); // taken: the hub owns it again
    Document replica = Document.create(DOC);
    replica.merge(sync.missing());
    assertThat(replica.counterValue("n")).isEqualTo(4);
  }

  @Test
  void aDocumentWhoseAppendFailedStaysLiveUntilItIsAppendedAgainAndIsCachedOnlyThen() {
    FlakyStore store = new FlakyStore(new InMemoryDocumentStore());
    MapCache cache = new MapCache();
    DefaultHub hub = hub(store, cache, HubObserver.NONE);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    store.failNextAppends(1, false);
    CompletableFuture<Void> ack =
        hub.update(alice, DOC, Document.create(DOC).incrementGCounter(alice.replicaId(), "n", 1));
    assertThat(codeOf(ack)).isEqualTo(ErrorCode.INTERNAL);

    hub.disconnect(alice);
    // Live memory is ahead of the store: neither cached nor dropped.
    assertThat(cache.documents).isEmpty();
    assertThat(hub.stats().documentsLive()).isEqualTo(1);

    scheduler.advance(HubConfig.DEFAULT_REPAIR_DELAY);

    assertThat(store.load(DOC).orElseThrow().counterValue("n")).isEqualTo(1);
    assertThat(hub.stats().documentsLive()).isZero();
    assertThat(cache.documents.get(DOC).counterValue("n")).isEqualTo(1);
  }

  /**
   * Found by the multi-server simulation: a server edit whose append failed stayed merged in the
   * live document and was never appended again (no client holds it to resend), so the store, and
   * every server that loads from it, lacked what this server's subscribers were shown.
   */
  @Test
  void aServerEditWhoseAppendFailedIsAppendedAgainAndThenFannedOut() {
    FlakyStore store = new FlakyStore(new InMemoryDocumentStore());
    DefaultHub hub = hub(store);
    join(hub.subscribe(bob, DOC, VersionVector.empty()));
    store.failNextAppends(2, false);
    CompletableFuture<DocumentDelta> edit = hub.edit(DOC, e -> e.increment("views", 2));
    assertThat(codeOf(edit)).isEqualTo(ErrorCode.INTERNAL);
    assertThat(bob.updates()).isEmpty();

    scheduler.advance(HubConfig.DEFAULT_REPAIR_DELAY); // the first retry fails too
    assertThat(store.exists(DOC)).isFalse();
    scheduler.advance(Duration.ofSeconds(1));

    assertThat(store.load(DOC).orElseThrow().counterValue("views")).isEqualTo(2);
    assertThat(bob.updates()).hasSize(1);
    assertThat(bob.updates().get(0).delta().fields()).containsOnlyKeys("views");
    assertThat(hub.stats().appendFailures()).isEqualTo(2);
  }

  /** A failed round is appended again with the next one, whose updates it joins. */
  @Test
  void aFailedRoundRidesWithTheNextRoundAndReachesEverySubscriber() {
    FlakyStore store = new FlakyStore(new InMemoryDocumentStore());
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));
    store.failNextAppends(1, false);
    assertThat(codeOf(hub.edit(DOC, e -> e.increment("views", 2)))).isEqualTo(ErrorCode.INTERNAL);

    Document aliceLocal = Document.create(DOC);
    join(hub.update(alice, DOC, aliceLocal.incrementGCounter(alice.replicaId(), "likes", 1)));

    Document stored = store.load(DOC).orElseThrow();
    assertThat(stored.counterValue("views")).isEqualTo(2);
    assertThat(stored.counterValue("likes")).isEqualTo(1);
    // Alice sent the round's update but not the edit it carried: she gets the round too.
    assertThat(alice.updates()).hasSize(1);
    assertThat(bob.updates()).hasSize(1);
    // Nothing left to retry.
    scheduler.advance(Duration.ofSeconds(10));
    assertThat(store.stats().appendedDeltas()).isEqualTo(1);
  }

  @Test
  void observerIsToldMergeAppendAndFanOutTimings() {
    ControllableStore store = new ControllableStore();
    RecordingObserver observer = new RecordingObserver();
    DefaultHub hub = hub(store, DocumentCache.none(), observer);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));

    CompletableFuture<Void> ack =
        hub.update(alice, DOC, Document.create(DOC).incrementGCounter(alice.replicaId(), "n", 1));
    assertThat(observer.events).containsExactly("merged");
    store.completeAppend(0);
    join(ack);

    // Completion callbacks of one future run in no promised order.
    assertThat(observer.events).containsExactlyInAnyOrder("merged", "appended", "fannedOut:1");
    assertThat(observer.nanos).allSatisfy(n -> assertThat(n).isNotNegative());
  }

  /** A cache that keeps everything, so tests see exactly what the hub gives and takes. */
  private static final class MapCache implements DocumentCache {
    final Map<String, Document> documents = new HashMap<>();

    @Override
    public synchronized Optional<StoredDocument> take(String documentId) {
      return Optional.ofNullable(documents.remove(documentId))
          .map(d -> new StoredDocument(d, StoreCursor.ORIGIN));
    }

    @Override
    public synchronized void put(StoredDocument document) {
      documents.put(document.document().id(), document.document());
    }
  }

  private static final class RecordingObserver implements HubObserver {
    final CopyOnWriteArrayList<String> events = new CopyOnWriteArrayList<>();
    final CopyOnWriteArrayList<Long> nanos = new CopyOnWriteArrayList<>();

    @Override
    public void merged(long n) {
      events.add("merged");
      nanos.add(n);
    }

    @Override
    public void appended(long n) {
      events.add("appended");
      nanos.add(n);
    }

    @Override
    public void fannedOut(int recipients, long n) {
      events.add("fannedOut:" + recipients);
      nanos.add(n);
    }
  }
}

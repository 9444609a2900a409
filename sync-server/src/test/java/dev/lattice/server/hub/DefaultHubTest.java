package dev.lattice.server.hub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.protocol.Presence;
import dev.lattice.protocol.Update;
import dev.lattice.server.spi.DocumentStore;
import dev.lattice.server.store.InMemoryDocumentStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class DefaultHubTest {

  private static final String DOC = "doc";
  private static final long NOW_MILLIS = 1_700_000_000_000L;
  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  private final ManualScheduler scheduler = new ManualScheduler();
  private final HybridLogicalClock clock =
      new HybridLogicalClock(() -> NOW_MILLIS, Duration.ofSeconds(60));
  private final List<ExecutorService> pools = new ArrayList<>();

  private final TestConnection alice = new TestConnection("alice", 0xA);
  private final TestConnection bob = new TestConnection("bob", 0xB);
  private final TestConnection carol = new TestConnection("carol", 0xC);

  @AfterEach
  void shutDownPools() {
    pools.forEach(ExecutorService::shutdownNow);
  }

  /** A hub running document work inline on the calling thread: every step is deterministic. */
  private DefaultHub hub(DocumentStore store) {
    return hub(HubConfig.builder(store, ReplicaId.of(1)).executor(Runnable::run));
  }

  private DefaultHub hub(HubConfig.Builder builder) {
    return new DefaultHub(builder.scheduler(scheduler).clock(clock).build());
  }

  private static DocumentDelta increment(Document local, TestConnection c, String field) {
    return local.incrementGCounter(c.replicaId(), field, 1);
  }

  private static Hub.SyncResult join(CompletableFuture<Hub.SyncResult> f) {
    return f.orTimeout(TIMEOUT.toSeconds(), TimeUnit.SECONDS).join();
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

  private static Document replay(Document base, DocumentDelta delta) {
    Document copy = base.copy();
    copy.merge(delta);
    return copy;
  }

  @Test
  void updateCompletesAndFansOutOnlyOnceDurableAndNeverToTheSender() {
    ControllableStore store = new ControllableStore();
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));
    DocumentDelta delta = increment(Document.create(DOC), alice, "n");

    CompletableFuture<Void> ack = hub.update(alice, DOC, delta);

    assertThat(store.appends()).hasSize(1);
    assertThat(ack).isNotDone();
    assertThat(bob.updates()).isEmpty();

    store.completeAppend(0);

    assertThat(ack).isCompletedWithValue(null);
    assertThat(bob.updates()).containsExactly(Update.fanOut(DOC, delta));
    assertThat(alice.updates()).isEmpty();
    assertThat(hub.stats().fanOutMessages()).isEqualTo(1);
  }

  @Test
  void updatesArrivingWhileARoundIsInFlightGoOutAsOneAppendAndOneFanOut() {
    ControllableStore store = new ControllableStore();
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));
    join(hub.subscribe(carol, DOC, VersionVector.empty()));
    Document aliceLocal = Document.create(DOC);
    Document bobLocal = Document.create(DOC);
    DocumentDelta a1 = increment(aliceLocal, alice, "n");
    DocumentDelta a2 = increment(aliceLocal, alice, "n");
    DocumentDelta b1 = increment(bobLocal, bob, "n");
    DocumentDelta a3 = increment(aliceLocal, alice, "n");

    CompletableFuture<Void> ack1 = hub.update(alice, DOC, a1);
    CompletableFuture<Void> ack2 = hub.update(alice, DOC, a2);
    CompletableFuture<Void> ackB = hub.update(bob, DOC, b1);
    CompletableFuture<Void> ack3 = hub.update(alice, DOC, a3);

    // The first round went to the store alone; the rest wait for it, merged but not appended.
    assertThat(store.appends())
        .extracting(ControllableStore.PendingAppend::delta)
        .containsExactly(a1);
    assertThat(List.of(ack1, ack2, ackB, ack3)).noneMatch(CompletableFuture::isDone);

    store.completeAppend(0);
    assertThat(ack1).isCompletedWithValue(null);
    assertThat(List.of(ack2, ackB, ack3)).noneMatch(CompletableFuture::isDone);
    DocumentDelta round2 = a2.join(b1).join(a3);
    assertThat(store.appends())
        .extracting(ControllableStore.PendingAppend::delta)
        .containsExactly(a1, round2);
    // Alice alone sent the first round: the others get it, she does not.
    assertThat(bob.updates()).extracting(Update::delta).containsExactly(a1);
    assertThat(carol.updates()).extracting(Update::delta).containsExactly(a1);
    assertThat(alice.updates()).isEmpty();

    store.completeAppend(1);
    assertThat(List.of(ack2, ackB, ack3))
        .allMatch(f -> f.isDone() && !f.isCompletedExceptionally());
    // Two senders in the second round: everyone gets the one joined delta, its own part included.
    assertThat(alice.updates()).extracting(Update::delta).containsExactly(round2);
    assertThat(bob.updates()).extracting(Update::delta).containsExactly(a1, round2);
    assertThat(carol.updates()).extracting(Update::delta).containsExactly(a1, round2);
    assertThat(hub.stats().updatesMerged()).isEqualTo(4);
    assertThat(hub.stats().fanOutMessages()).isEqualTo(5);
    assertThat(store.appends()).hasSize(2);
  }

  @Test
  void aRoundStartingWithinTheIntervalOfTheLastWaitsAndGathersWhatArrivesMeanwhile() {
    ControllableStore store = new ControllableStore();
    DefaultHub hub =
        hub(
            HubConfig.builder(store, ReplicaId.of(1))
                .executor(Runnable::run)
                .minRoundInterval(Duration.ofMillis(1)));
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));
    Document local = Document.create(DOC);
    DocumentDelta d1 = increment(local, alice, "n");
    DocumentDelta d2 = increment(local, alice, "n");
    DocumentDelta d3 = increment(local, alice, "n");

    // A quiet document: the first round starts at once.
    hub.update(alice, DOC, d1);
    assertThat(store.appends()).hasSize(1);
    store.completeAppend(0);
    assertThat(bob.updates()).extracting(Update::delta).containsExactly(d1);

    // The next round is due 1 ms after the first started: it waits, and d3 rides along.
    CompletableFuture<Void> ack2 = hub.update(alice, DOC, d2);
    scheduler.advance(Duration.ofNanos(400_000));
    CompletableFuture<Void> ack3 = hub.update(alice, DOC, d3);
    assertThat(store.appends()).hasSize(1);
    scheduler.advance(Duration.ofNanos(600_000));
    assertThat(store.appends())
        .extracting(ControllableStore.PendingAppend::delta)
        .containsExactly(d1, d2.join(d3));
    store.completeAppend(1);
    assertThat(ack2).isCompletedWithValue(null);
    assertThat(ack3).isCompletedWithValue(null);
    assertThat(bob.updates()).extracting(Update::delta).containsExactly(d1, d2.join(d3));

    // Long after the last round, a new one starts at once again.
    scheduler.advance(Duration.ofMillis(5));
    hub.update(alice, DOC, increment(local, alice, "n"));
    assertThat(store.appends()).hasSize(3);
  }

  @Test
  void minRoundIntervalMustBeWithinZeroAndOneSecond() {
    HubConfig.Builder b = HubConfig.builder(new InMemoryDocumentStore(), ReplicaId.of(1));
    assertThatThrownBy(() -> b.minRoundInterval(Duration.ofNanos(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("minRoundInterval");
    assertThatThrownBy(() -> b.minRoundInterval(Duration.ofMillis(1001)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("PT1.001S");
    assertThat(b.minRoundInterval(Duration.ZERO).build().minRoundInterval()).isZero();
  }

  @Test
  void aFailedRoundFailsEveryUpdateInItAndFansOutNothing() {
    ControllableStore store = new ControllableStore();
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));
    Document local = Document.create(DOC);
    DocumentDelta d1 = increment(local, alice, "n");
    DocumentDelta d2 = increment(local, alice, "n");
    DocumentDelta d3 = increment(local, alice, "n");
    CompletableFuture<Void> ack1 = hub.update(alice, DOC, d1);
    CompletableFuture<Void> ack2 = hub.update(alice, DOC, d2);
    CompletableFuture<Void> ack3 = hub.update(alice, DOC, d3);
    store.completeAppend(0);

    store.failAppend(1);

    assertThat(ack1).isCompletedWithValue(null);
    assertThat(codeOf(ack2)).isEqualTo(ErrorCode.INTERNAL);
    assertThat(codeOf(ack3)).isEqualTo(ErrorCode.INTERNAL);
    assertThat(bob.updates()).extracting(Update::delta).containsExactly(d1);
    assertThat(hub.stats().appendFailures()).isEqualTo(1);
  }

  @Test
  void subscribeReturnsExactlyWhatTheClientLacks() {
    DefaultHub hub = hub(new InMemoryDocumentStore());
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    Document aliceDoc = Document.create(DOC);
    for (int i = 0; i < 3; i++) {
      hub.update(alice, DOC, increment(aliceDoc, alice, "n")).join();
    }

    Hub.SyncResult everything = join(hub.subscribe(bob, DOC, VersionVector.empty()));
    assertThat(replay(Document.create(DOC), everything.missing())).isEqualTo(aliceDoc);
    assertThat(everything.serverVector()).isEqualTo(aliceDoc.versionVector());

    Hub.SyncResult nothing = join(hub.subscribe(carol, DOC, aliceDoc.versionVector()));
    assertThat(nothing.missing().isEmpty()).isTrue();
    assertThat(nothing.serverVector()).isEqualTo(aliceDoc.versionVector());
  }

  @Test
  void lateJoinerCatchesUpOnWhatItMissedWhileOffline() {
    DefaultHub hub = hub(new InMemoryDocumentStore());
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    Document aliceDoc = Document.create(DOC);
    hub.update(alice, DOC, increment(aliceDoc, alice, "n")).join();
    Document carolDoc = aliceDoc.copy(); // carol saw the first update, then went offline
    hub.update(alice, DOC, increment(aliceDoc, alice, "n")).join();
    hub.update(alice, DOC, increment(aliceDoc, alice, "other")).join();

    Hub.SyncResult sync = join(hub.subscribe(carol, DOC, carolDoc.versionVector()));

    assertThat(sync.missing().context().ranges()).hasSize(1);
    carolDoc.merge(sync.missing());
    assertThat(carolDoc).isEqualTo(aliceDoc);
    assertThat(carolDoc.counterValue("n")).isEqualTo(2);
  }

  @Test
  void refusesUpdateFromAConnectionNotSubscribed() {
    ControllableStore store = new ControllableStore();
    DefaultHub hub = hub(store);
    DocumentDelta delta = increment(Document.create(DOC), alice, "n");

    assertThat(codeOf(hub.update(alice, DOC, delta))).isEqualTo(ErrorCode.NOT_SUBSCRIBED);
    join(hub.subscribe(bob, DOC, VersionVector.empty()));
    assertThat(codeOf(hub.update(alice, DOC, delta))).isEqualTo(ErrorCode.NOT_SUBSCRIBED);

    assertThat(store.appends()).isEmpty();
    assertThat(join(hub.subscribe(carol, DOC, VersionVector.empty())).serverVector().isEmpty())
        .isTrue();
    assertThat(hub.stats().refusedUpdates()).isEqualTo(2);
  }

  @Test
  void firstTypeOfAFieldWinsAndTheOtherIsRefusedChangingNothing() {
    InMemoryDocumentStore store = new InMemoryDocumentStore();
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));
    Document aliceDoc = Document.create(DOC);
    DocumentDelta counter = increment(aliceDoc, alice, "x");
    DocumentDelta register =
        Document.create(DOC)
            .setRegister(bob.replicaId(), "x", Value.of("hi"), HlcTimestamp.of(NOW_MILLIS, 0));

    hub.update(alice, DOC, counter).join();
    CompletableFuture<Void> refused = hub.update(bob, DOC, register);

    assertThat(codeOf(refused)).isEqualTo(ErrorCode.FIELD_TYPE_MISMATCH);
    Hub.SyncResult state = join(hub.subscribe(carol, DOC, VersionVector.empty()));
    assertThat(replay(Document.create(DOC), state.missing())).isEqualTo(aliceDoc);
    assertThat(store.load(DOC)).contains(aliceDoc);
    assertThat(alice.updates()).isEmpty();
  }

  @Test
  void counterUpdatesThatWouldPassALongAreRefusedAndMergedNowhere() {
    InMemoryDocumentStore store = new InMemoryDocumentStore();
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));
    Document aliceDoc = Document.create(DOC);
    aliceDoc.incrementGCounter(alice.replicaId(), "g", Long.MAX_VALUE);
    aliceDoc.addPNCounter(alice.replicaId(), "pn", Long.MAX_VALUE);
    hub.update(alice, DOC, aliceDoc.deltaSince(VersionVector.empty())).join();

    // Each write alone is legal on bob's replica; only together with alice's do they overflow.
    // Each from a fresh replica state: a refused update's dot is not held, so a later dot of the
    // same replica would meet a gap (STALE_REPLICA) before its counter range was looked at.
    DocumentDelta gOver = Document.create(DOC).incrementGCounter(bob.replicaId(), "g", 1);
    DocumentDelta pnOver = Document.create(DOC).addPNCounter(bob.replicaId(), "pn", 1);
    DocumentDelta pnDown =
        Document.create(DOC).addPNCounter(bob.replicaId(), "pn", -Long.MAX_VALUE);

    assertThat(codeOf(hub.update(bob, DOC, gOver))).isEqualTo(ErrorCode.COUNTER_OVERFLOW);
    assertThat(codeOf(hub.update(bob, DOC, pnOver))).isEqualTo(ErrorCode.COUNTER_OVERFLOW);
    Hub.SyncResult state = join(hub.subscribe(carol, DOC, VersionVector.empty()));
    Document seen = replay(Document.create(DOC), state.missing());
    assertThat(seen).isEqualTo(aliceDoc);
    assertThat(store.load(DOC)).contains(aliceDoc);
    assertThat(alice.updates()).isEmpty();
    // The decrements are a half of their own: they fit, whatever the increments hold.
    hub.update(bob, DOC, pnDown).join();
    assertThat(join(hub.subscribe(carol, DOC, VersionVector.empty())).missing().fields())
        .containsKey("pn");
  }

  @Test
  void refusesUpdateAddingFieldsBeyondTheLimit() {
    ControllableStore store = new ControllableStore();
    DefaultHub hub =
        hub(
            HubConfig.builder(store, ReplicaId.of(1))
                .executor(Runnable::run)
                .maxFieldsPerDocument(2));
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    Document local = Document.create(DOC);
    hub.update(alice, DOC, increment(local, alice, "a"));
    hub.update(alice, DOC, increment(local, alice, "b"));
    DocumentDelta third = increment(local, alice, "c");

    assertThat(codeOf(hub.update(alice, DOC, third))).isEqualTo(ErrorCode.TOO_MANY_FIELDS);
    // As the SDK does, the refused edit's dot follows as an empty change, so no gap is left.
    hub.update(alice, DOC, DocumentDelta.of(third.context(), Map.of()));
    assertThat(hub.update(alice, DOC, increment(local, alice, "a"))).isNotDone();
    CompletableFuture<Hub.SyncResult> subscribed = hub.subscribe(bob, DOC, VersionVector.empty());
    assertThat(subscribed).as("a catch-up waits until what it shows is durable").isNotDone();
    store.completeAppend(0);
    store.completeAppend(1);
    Hub.SyncResult state = join(subscribed);
    assertThat(state.missing().fields()).containsOnlyKeys("a", "b");
    // The refused delta is in neither the first round ("a") nor the second ("b", then "a" again).
    assertThat(store.appends()).hasSize(2);
    assertThat(store.appends())
        .allSatisfy(a -> assertThat(a.delta().fields()).doesNotContainKey("c"));
  }

  /**
   * Found by the client simulation once clients could send only their own dots: a catch-up showed a
   * server edit still on its way to the store; the server then crashed, and the client that saw it
   * held a change no one could send back. A catch-up now waits for what it shows to be durable.
   */
  @Test
  void aCatchUpShowsOnlyWhatIsDurable() {
    ControllableStore store = new ControllableStore();
    DefaultHub hub = hub(HubConfig.builder(store, ReplicaId.of(1)).executor(Runnable::run));
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    CompletableFuture<DocumentDelta> edit = hub.edit(DOC, e -> e.increment("views", 1));
    CompletableFuture<Hub.SyncResult> early = hub.subscribe(bob, DOC, VersionVector.empty());
    assertThat(early).isNotDone();
    store.failAppend(0);
    assertThat(codeOf(early)).as("retried by the client").isEqualTo(ErrorCode.INTERNAL);
    assertThat(edit).isCompletedExceptionally();

    CompletableFuture<Hub.SyncResult> later = hub.subscribe(bob, DOC, VersionVector.empty());
    assertThat(later).as("the failed edit is still not durable").isNotDone();
  }

  @Test
  void refusesTimestampTooFarAheadWithoutTouchingClockOrDocument() {
    ControllableStore store = new ControllableStore();
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    HlcTimestamp before = clock.peek();
    DocumentDelta future =
        Document.create(DOC)
            .setRegister(
                alice.replicaId(),
                "title",
                Value.of("t"),
                HlcTimestamp.of(NOW_MILLIS + 3_600_000, 0));

    assertThat(codeOf(hub.update(alice, DOC, future))).isEqualTo(ErrorCode.CLOCK_DRIFT);
    assertThat(clock.peek()).isEqualTo(before);
    assertThat(store.appends()).isEmpty();
    assertThat(join(hub.subscribe(bob, DOC, VersionVector.empty())).missing().isEmpty()).isTrue();
  }

  @Test
  void acceptedTimestampAdvancesTheServerClock() {
    DefaultHub hub = hub(new InMemoryDocumentStore());
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    HlcTimestamp ts = HlcTimestamp.of(NOW_MILLIS + 5_000, 7);
    DocumentDelta delta =
        Document.create(DOC).setRegister(alice.replicaId(), "title", Value.of("t"), ts);

    hub.update(alice, DOC, delta).join();

    assertThat(clock.peek().isAfter(ts)).isTrue();
  }

  @Test
  void duplicateUpdateIsNotAppendedAgainButAckedAfterTheOriginalIsDurable() {
    ControllableStore store = new ControllableStore();
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));
    DocumentDelta delta = increment(Document.create(DOC), alice, "n");

    CompletableFuture<Void> first = hub.update(alice, DOC, delta);
    CompletableFuture<Void> resend = hub.update(alice, DOC, delta);

    assertThat(store.appends()).hasSize(1);
    assertThat(resend).isNotDone();
    store.completeAppend(0);
    assertThat(first).isCompletedWithValue(null);
    assertThat(resend).isCompletedWithValue(null);
    assertThat(hub.update(alice, DOC, delta)).isCompletedWithValue(null);
    assertThat(store.appends()).hasSize(1);
    assertThat(bob.updates()).hasSize(1);
    assertThat(hub.stats().duplicateUpdates()).isEqualTo(2);
  }

  @Test
  void concurrentSubscribersOfAColdDocumentShareOneLoad() throws Exception {
    ControllableStore store = new ControllableStore();
    CountDownLatch gate = new CountDownLatch(1);
    store.holdLoads(gate);
    ExecutorService pool = Executors.newFixedThreadPool(4);
    pools.add(pool);
    DefaultHub hub = hub(HubConfig.builder(store, ReplicaId.of(1)).executor(pool));
    ExecutorService callers = Executors.newFixedThreadPool(8);
    pools.add(callers);
    CountDownLatch called = new CountDownLatch(8);
    List<CompletableFuture<CompletableFuture<Hub.SyncResult>>> calls = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      TestConnection c = new TestConnection("c" + i, 100 + i);
      calls.add(
          CompletableFuture.supplyAsync(
              () -> {
                CompletableFuture<Hub.SyncResult> f = hub.subscribe(c, DOC, VersionVector.empty());
                called.countDown();
                return f;
              },
              callers));
    }
    assertThat(called.await(10, TimeUnit.SECONDS)).isTrue();
    gate.countDown();

    for (var call : calls) {
      join(call.get(10, TimeUnit.SECONDS));
    }
    assertThat(store.loadCalls()).isEqualTo(1);
    assertThat(hub.stats().subscriptions()).isEqualTo(8);
    assertThat(hub.stats().documentsLive()).isEqualTo(1);
  }

  @Test
  void failedLoadFailsTheSubscribeWithInternalAndTheNextSubscribeLoadsAgain() {
    ControllableStore store = new ControllableStore();
    Document stored = Document.create(DOC);
    stored.incrementGCounter(ReplicaId.of(0x99), "n", 5);
    store.setStored(stored);
    store.failNextLoads(1);
    DefaultHub hub = hub(store);

    CompletableFuture<Hub.SyncResult> failed = hub.subscribe(alice, DOC, VersionVector.empty());

    assertThat(codeOf(failed)).isEqualTo(ErrorCode.INTERNAL);
    assertThat(hub.stats().documentsLive()).isZero();
    assertThat(codeOf(hub.update(alice, DOC, increment(Document.create(DOC), alice, "n"))))
        .isEqualTo(ErrorCode.NOT_SUBSCRIBED);
    assertThat(store.appends()).isEmpty();

    Hub.SyncResult retried = join(hub.subscribe(alice, DOC, VersionVector.empty()));
    assertThat(store.loadCalls()).isEqualTo(2);
    assertThat(replay(Document.create(DOC), retried.missing()).counterValue("n")).isEqualTo(5);
  }

  /**
   * Found by the multi-server simulation: when the first of the work queued behind a load released
   * the document (a subscribe of a connection that closed meanwhile, or an empty edit), the next
   * queued subscribe ran on the released document, threw, and never completed.
   */
  @Test
  void workQueuedBehindALoadRunsEvenIfTheFirstOfItWouldReleaseTheDocument() {
    ControllableStore store = new ControllableStore();
    store.holdAsyncLoads();
    DefaultHub hub = hub(store);
    CompletableFuture<Hub.SyncResult> closing = hub.subscribe(alice, DOC, VersionVector.empty());
    CompletableFuture<DocumentDelta> empty = hub.edit(DOC, e -> {});
    CompletableFuture<Hub.SyncResult> waiting = hub.subscribe(bob, DOC, VersionVector.empty());
    hub.disconnect(alice);

    store.releaseAsyncLoads();

    assertThat(codeOf(closing)).isEqualTo(ErrorCode.INTERNAL);
    assertThat(empty).isCompletedWithValue(DocumentDelta.empty());
    assertThat(waiting).isCompleted();
    join(waiting);
    assertThat(hub.stats().documentsLive()).isEqualTo(1);
    hub.disconnect(bob);
    assertThat(hub.stats().documentsLive()).isZero();
  }

  @Test
  void failedAppendFailsWithInternalAndIsAppendedAgainWithTheNextRound() {
    ControllableStore store = new ControllableStore();
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));
    DocumentDelta delta = increment(Document.create(DOC), alice, "n");

    CompletableFuture<Void> first = hub.update(alice, DOC, delta);
    CompletableFuture<Void> queuedResend = hub.update(alice, DOC, delta);
    store.failAppend(0);

    assertThat(codeOf(first)).isEqualTo(ErrorCode.INTERNAL);
    assertThat(bob.updates()).isEmpty();
    // The resend queued behind the failed append rides in the round that appends it again: it is
    // acknowledged only once that is durable.
    assertThat(store.appends()).hasSize(2);
    assertThat(store.appends().get(1).delta()).isEqualTo(delta);
    assertThat(queuedResend).isNotDone();
    store.completeAppend(1);
    assertThat(queuedResend).isCompletedWithValue(null);
    assertThat(bob.updates()).extracting(Update::delta).containsExactly(delta);

    // Durable again: a later resend is a plain duplicate.
    CompletableFuture<Void> late = hub.update(alice, DOC, delta);
    assertThat(late).isCompletedWithValue(null);
    assertThat(store.appends()).hasSize(2);
    assertThat(hub.stats().appendFailures()).isEqualTo(1);
  }

  @Test
  void releasesADocumentWhenTheLastSubscriberLeavesAndNoAppendIsPending() {
    ControllableStore store = new ControllableStore();
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    CompletableFuture<Void> ack =
        hub.update(alice, DOC, increment(Document.create(DOC), alice, "n"));

    hub.disconnect(alice);
    assertThat(hub.stats().documentsLive()).isEqualTo(1); // the append is still in flight
    store.completeAppend(0);

    assertThat(ack).isCompletedWithValue(null);
    assertThat(hub.stats().documentsLive()).isZero();
    assertThat(hub.stats().subscriptions()).isZero();
    join(hub.subscribe(bob, DOC, VersionVector.empty()));
    assertThat(store.loadCalls()).isEqualTo(2);
  }

  @Test
  void unsubscribedConnectionGetsNoMoreFanOut() {
    DefaultHub hub = hub(new InMemoryDocumentStore());
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));
    Document local = Document.create(DOC);
    hub.update(alice, DOC, increment(local, alice, "n")).join();

    hub.unsubscribe(bob, DOC);
    hub.update(alice, DOC, increment(local, alice, "n")).join();

    assertThat(bob.updates()).hasSize(1);
    assertThat(codeOf(hub.update(bob, DOC, increment(Document.create(DOC), bob, "n"))))
        .isEqualTo(ErrorCode.NOT_SUBSCRIBED);
  }

  @Test
  void connectionThatThrowsOnSendDoesNotStopFanOutToOthers() {
    DefaultHub hub = hub(new InMemoryDocumentStore());
    Connection broken =
        new Connection() {
          @Override
          public String id() {
            return "broken";
          }

          @Override
          public ReplicaId replicaId() {
            return ReplicaId.of(0xD);
          }

          @Override
          public void send(dev.lattice.protocol.Message message) {
            throw new IllegalStateException("socket gone");
          }
        };
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(broken, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));

    hub.update(alice, DOC, increment(Document.create(DOC), alice, "n")).join();

    assertThat(bob.updates()).hasSize(1);
  }

  @Test
  void presenceIsAnnouncedRenewedAndExpires() {
    DefaultHub hub = hub(new InMemoryDocumentStore());
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));
    Optional<Value> cursor = Optional.of(Value.of(5));

    hub.presence(alice, DOC, cursor, Duration.ofSeconds(30));
    assertThat(bob.presences())
        .containsExactly(new Presence(DOC, alice.replicaId(), 30_000, cursor));
    assertThat(alice.presences()).isEmpty();

    scheduler.advance(Duration.ofSeconds(20));
    hub.presence(alice, DOC, cursor, Duration.ofSeconds(30)); // renewed: expires at 50 s
    scheduler.advance(Duration.ofSeconds(15)); // 35 s: the first TTL has passed
    assertThat(bob.presences()).hasSize(2).noneMatch(Presence::isLeave);

    scheduler.advance(Duration.ofSeconds(15)); // 50 s
    assertThat(bob.presences()).hasSize(3);
    assertThat(bob.presences().get(2)).isEqualTo(Presence.leave(DOC, alice.replicaId()));
    scheduler.advance(Duration.ofMinutes(5));
    assertThat(bob.presences()).hasSize(3);
  }

  @Test
  void emptyPresenceValueAnnouncesLeaveAndCancelsExpiry() {
    DefaultHub hub = hub(new InMemoryDocumentStore());
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));

    hub.presence(alice, DOC, Optional.of(Value.of("typing")), Duration.ofSeconds(10));
    hub.presence(alice, DOC, Optional.empty(), Duration.ZERO);
    scheduler.advance(Duration.ofMinutes(1));

    assertThat(bob.presences()).hasSize(2);
    assertThat(bob.presences().get(1)).isEqualTo(Presence.leave(DOC, alice.replicaId()));
  }

  @Test
  void disconnectAndUnsubscribeAnnounceLeave() {
    DefaultHub hub = hub(new InMemoryDocumentStore());
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));
    join(hub.subscribe(carol, DOC, VersionVector.empty()));
    hub.presence(alice, DOC, Optional.of(Value.of(1)), Duration.ofSeconds(30));
    hub.presence(bob, DOC, Optional.of(Value.of(2)), Duration.ofSeconds(30));

    hub.disconnect(alice);
    hub.unsubscribe(bob, DOC);
    scheduler.advance(Duration.ofMinutes(1)); // timers of departed presences are inert

    assertThat(carol.presences())
        .extracting(Presence::replicaId, Presence::isLeave)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(alice.replicaId(), false),
            org.assertj.core.groups.Tuple.tuple(bob.replicaId(), false),
            org.assertj.core.groups.Tuple.tuple(alice.replicaId(), true),
            org.assertj.core.groups.Tuple.tuple(bob.replicaId(), true));
  }

  @Test
  void aReplicaReconnectedOnANewConnectionKeepsItsPresenceWhenTheOldOneGoes() {
    DefaultHub hub = hub(new InMemoryDocumentStore());
    TestConnection aliceOld = new TestConnection("alice-old", 0xA);
    TestConnection aliceNew = new TestConnection("alice-new", 0xA);
    join(hub.subscribe(aliceOld, DOC, VersionVector.empty()));
    join(hub.subscribe(carol, DOC, VersionVector.empty()));
    hub.presence(aliceOld, DOC, Optional.of(Value.of("old")), Duration.ofSeconds(30));
    join(hub.subscribe(aliceNew, DOC, VersionVector.empty()));
    hub.presence(aliceNew, DOC, Optional.of(Value.of("new")), Duration.ofSeconds(30));

    hub.disconnect(aliceOld); // the server notices the dead socket late

    Presence last = carol.presences().get(carol.presences().size() - 1);
    assertThat(last.isLeave()).isFalse();
    assertThat(last.replicaId()).isEqualTo(aliceNew.replicaId());
    assertThat(last.value()).contains(Value.of("new"));

    hub.disconnect(aliceNew);
    assertThat(carol.presences().get(carol.presences().size() - 1).isLeave()).isTrue();
  }

  @Test
  void lateSubscriberReceivesLivePresencesWithRemainingTtl() {
    DefaultHub hub = hub(new InMemoryDocumentStore());
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));
    Optional<Value> name = Optional.of(Value.of("Alice"));
    hub.presence(alice, DOC, name, Duration.ofSeconds(30));
    hub.presence(bob, DOC, Optional.of(Value.of("Bob")), Duration.ofSeconds(5));
    scheduler.advance(Duration.ofSeconds(10)); // bob's expired

    join(hub.subscribe(carol, DOC, VersionVector.empty()));

    assertThat(carol.presences())
        .containsExactly(new Presence(DOC, alice.replicaId(), 20_000, name));
  }

  @Test
  void presenceRequiresSubscriptionAndTtlIsCapped() {
    DefaultHub hub =
        hub(
            HubConfig.builder(new InMemoryDocumentStore(), ReplicaId.of(1))
                .executor(Runnable::run)
                .maxPresenceTtl(Duration.ofSeconds(10)));
    Optional<Value> v = Optional.of(Value.of(1));

    assertThatThrownBy(() -> hub.presence(alice, DOC, v, Duration.ofSeconds(1)))
        .isInstanceOfSatisfying(
            HubException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_SUBSCRIBED));

    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    join(hub.subscribe(bob, DOC, VersionVector.empty()));
    hub.presence(alice, DOC, v, Duration.ofHours(1));
    assertThat(bob.presences()).extracting(Presence::ttlMillis).containsExactly(10_000L);
    scheduler.advance(Duration.ofSeconds(10));
    assertThat(bob.presences()).last().matches(Presence::isLeave);
  }

  @Test
  void builderRejectsBadLimitsNamingTheValue() {
    HubConfig.Builder b = HubConfig.builder(new InMemoryDocumentStore(), ReplicaId.of(1));
    assertThatThrownBy(() -> b.maxFieldsPerDocument(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("was 0");
    assertThatThrownBy(() -> b.maxPresenceTtl(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("PT-1S");
    assertThat(b.build().maxFieldsPerDocument()).isEqualTo(10_000);
  }
}

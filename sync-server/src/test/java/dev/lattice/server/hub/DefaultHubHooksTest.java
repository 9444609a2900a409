package dev.lattice.server.hub;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.server.spi.DocumentEdit;
import dev.lattice.server.spi.LatticeExtension;
import dev.lattice.server.spi.LatticeExtension.Change;
import dev.lattice.server.spi.Principal;
import dev.lattice.server.spi.Replicator;
import dev.lattice.server.store.InMemoryDocumentStore;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * What the hub tells its {@link DocumentHooks}: loads and seeds, durable changes, appends, unloads.
 */
class DefaultHubHooksTest {

  private static final String DOC = "doc";
  private static final ReplicaId SERVER = ReplicaId.of(0x5E);

  private final HybridLogicalClock clock =
      new HybridLogicalClock(() -> 1_700_000_000_000L, Duration.ofSeconds(60));
  private final TestConnection alice = new TestConnection("alice", 0xA, Principal.of("alice"));
  private final ManualScheduler scheduler = new ManualScheduler();
  private final Recording hooks = new Recording();

  /** Records every call; {@link #loading} answers with {@link #loadAnswer}. */
  static final class Recording implements DocumentHooks {
    final List<String> loads = new CopyOnWriteArrayList<>();
    final List<Change> changes = new CopyOnWriteArrayList<>();
    final List<String> stores = new CopyOnWriteArrayList<>();
    final List<String> unloads = new CopyOnWriteArrayList<>();
    volatile CompletionStage<List<Consumer<DocumentEdit>>> loadAnswer =
        CompletableFuture.completedFuture(List.of());

    @Override
    public CompletionStage<List<Consumer<DocumentEdit>>> loading(String documentId, boolean isNew) {
      loads.add(documentId + (isNew ? " new" : " stored"));
      return loadAnswer;
    }

    @Override
    public void changed(Change change) {
      changes.add(change);
    }

    @Override
    public void stored(String documentId, DocumentDelta delta, int updates) {
      stores.add(documentId + " x" + updates);
    }

    @Override
    public void unloaded(String documentId) {
      unloads.add(documentId);
    }
  }

  private DefaultHub hub(ControllableStore store) {
    return new DefaultHub(
        HubConfig.builder(store, SERVER)
            .executor(Runnable::run)
            .scheduler(scheduler)
            .clock(clock)
            .hooks(hooks)
            .build());
  }

  private static <T> T join(CompletableFuture<T> f) {
    return f.orTimeout(10, TimeUnit.SECONDS).join();
  }

  @Test
  void aChangeIsReportedOnceDurableWithItsReplicaAndPrincipalAndADuplicateIsNot() {
    ControllableStore store = new ControllableStore();
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    DocumentDelta delta = Document.create(DOC).incrementGCounter(alice.replicaId(), "n", 1);

    CompletableFuture<Void> acked = hub.update(alice, DOC, delta);
    assertThat(hooks.changes).isEmpty(); // not durable yet
    store.completeAppend(0);
    join(acked);

    assertThat(hooks.changes)
        .containsExactly(
            new LatticeExtension.Change(
                DOC,
                delta,
                alice.replicaId(),
                Optional.of(Principal.of("alice")),
                LatticeExtension.Source.CLIENT));
    assertThat(hooks.stores).containsExactly(DOC + " x1");

    join(hub.update(alice, DOC, delta)); // a resend: nothing new is durable
    assertThat(hooks.changes).hasSize(1);
    assertThat(hooks.stores).hasSize(1);
  }

  @Test
  void aChangeIsHandedToTheHooksBeforeItsUpdateOrEditCompletes() {
    // A caller that closes the server as soon as its edit completes must not race the hooks: the
    // extensions drain what was handed to them at close, and nothing handed later.
    ControllableStore store = new ControllableStore();
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    DocumentDelta delta = Document.create(DOC).incrementGCounter(alice.replicaId(), "n", 1);
    List<Integer> seenAtAck = new CopyOnWriteArrayList<>();
    List<Integer> seenAtEdit = new CopyOnWriteArrayList<>();

    CompletableFuture<Void> acked = hub.update(alice, DOC, delta);
    acked.thenRun(() -> seenAtAck.add(hooks.changes.size()));
    store.completeAppend(0);
    CompletableFuture<DocumentDelta> edit = hub.edit(DOC, e -> e.set("title", Value.of("Q3")));
    edit.thenRun(() -> seenAtEdit.add(hooks.changes.size()));
    store.completeAppend(1);
    join(acked);
    join(edit);

    assertThat(seenAtAck).containsExactly(1);
    assertThat(seenAtEdit).containsExactly(2);
  }

  @Test
  void aServerEditIsReportedAsTheServerReplicaWithoutPrincipal() {
    ControllableStore store = new ControllableStore();
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    CompletableFuture<DocumentDelta> edit = hub.edit(DOC, e -> e.set("title", Value.of("Q3")));
    store.completeAppend(0);

    LatticeExtension.Change change = hooks.changes.get(0);
    assertThat(change.delta()).isEqualTo(join(edit));
    assertThat(change.replicaId()).isEqualTo(SERVER);
    assertThat(change.principal()).isEmpty();
    assertThat(change.source()).isEqualTo(LatticeExtension.Source.EDIT);
  }

  @Test
  void aChangeWhoseAppendFailedIsReportedOnceItsRetryIsDurable() {
    ControllableStore store = new ControllableStore();
    DefaultHub hub = hub(store);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    DocumentDelta delta = Document.create(DOC).incrementGCounter(alice.replicaId(), "n", 1);
    CompletableFuture<Void> refused = hub.update(alice, DOC, delta);
    store.failAppend(0);
    assertThat(refused).isCompletedExceptionally();
    assertThat(hooks.changes).isEmpty();

    scheduler.advance(Duration.ofSeconds(1)); // the hub's retry of the failed round
    assertThat(store.appends()).hasSize(2);
    store.completeAppend(1);

    assertThat(hooks.changes).hasSize(1);
    assertThat(hooks.changes.get(0).delta()).isEqualTo(delta);
  }

  @Test
  void aNewDocumentIsSeededBeforeItsFirstSyncAndAStoredOneIsNot() {
    ControllableStore store = new ControllableStore();
    hooks.loadAnswer =
        CompletableFuture.completedFuture(List.of(e -> e.set("title", Value.of("Untitled"))));
    DefaultHub hub = hub(store);

    CompletableFuture<Hub.SyncResult> sync = hub.subscribe(alice, DOC, VersionVector.empty());
    assertThat(sync).isNotDone(); // the SYNC shows only what is durable: it waits for the seed
    assertThat(store.appends()).hasSize(1);
    store.completeAppend(0);
    Document replica = Document.create(DOC);
    replica.merge(join(sync).missing());
    assertThat(replica.registerValue("title")).contains(Value.of("Untitled"));
    assertThat(hooks.loads).containsExactly(DOC + " new");
    assertThat(hooks.changes)
        .singleElement()
        .extracting(LatticeExtension.Change::source)
        .isEqualTo(LatticeExtension.Source.SEED);

    hub.unsubscribe(alice, DOC);
    assertThat(hooks.unloads).containsExactly(DOC);
    store.setStored(replica);
    join(hub.subscribe(alice, DOC, VersionVector.empty()));

    assertThat(hooks.loads).containsExactly(DOC + " new", DOC + " stored");
    assertThat(store.appends()).hasSize(1); // no second seed
  }

  @Test
  void aFailedLoadHookFailsTheSubscribeCachesNothingAndIsAskedAgainNextTime() {
    ControllableStore store = new ControllableStore();
    hooks.loadAnswer =
        CompletableFuture.failedFuture(new IllegalStateException("seed service down"));
    DefaultHub hub = hub(store);

    CompletableFuture<Hub.SyncResult> failed = hub.subscribe(alice, DOC, VersionVector.empty());
    assertThat(failed).isCompletedExceptionally();
    try {
      failed.join();
    } catch (CompletionException e) {
      HubException cause = (HubException) e.getCause();
      assertThat(cause.code()).isEqualTo(ErrorCode.INTERNAL);
      assertThat(cause.getMessage()).contains("seed service down");
    }
    assertThat(hub.stats().documentsLive()).isZero();
    assertThat(hooks.unloads).isEmpty(); // never loaded, so never unloaded

    hooks.loadAnswer = CompletableFuture.completedFuture(List.of());
    join(hub.subscribe(alice, DOC, VersionVector.empty()));
    assertThat(hooks.loads).containsExactly(DOC + " new", DOC + " new");
  }

  @Test
  void aSeedThatThrowsFailsTheLoad() {
    ControllableStore store = new ControllableStore();
    hooks.loadAnswer =
        CompletableFuture.completedFuture(
            List.of(
                e -> {
                  throw new IllegalArgumentException("bad seed");
                }));
    DefaultHub hub = hub(store);

    assertThat(hub.subscribe(alice, DOC, VersionVector.empty())).isCompletedExceptionally();
    assertThat(store.appends()).isEmpty();
    assertThat(hub.stats().documentsLive()).isZero();
  }

  @Test
  void withReplicationOnlyTheHubThatAcceptedAChangeReportsIt() {
    InMemoryDocumentStore shared = new InMemoryDocumentStore();
    LoopbackBus bus = new LoopbackBus();
    Recording hooksB = new Recording();
    DefaultHub hubA = replicatingHub(shared, bus.replicator(), hooks, 1);
    DefaultHub hubB = replicatingHub(shared, bus.replicator(), hooksB, 2);
    TestConnection bob = new TestConnection("bob", 0xB);
    join(hubA.subscribe(alice, DOC, VersionVector.empty()));
    join(hubB.subscribe(bob, DOC, VersionVector.empty()));

    join(
        hubA.update(alice, DOC, Document.create(DOC).incrementGCounter(alice.replicaId(), "n", 1)));

    assertThat(bob.updates()).hasSize(1); // B merged and fanned it out...
    assertThat(hooks.changes).hasSize(1);
    assertThat(hooksB.changes).isEmpty(); // ...but only A, which accepted it, reports it
    assertThat(hooksB.stores).isEmpty();
  }

  private DefaultHub replicatingHub(
      InMemoryDocumentStore store, Replicator replicator, DocumentHooks hooks, long replica) {
    return new DefaultHub(
        HubConfig.builder(store, ReplicaId.of(replica))
            .executor(Runnable::run)
            .scheduler(scheduler)
            .clock(new HybridLogicalClock(() -> 1_700_000_000_000L, Duration.ofSeconds(60)))
            .replicator(replicator)
            .hooks(hooks)
            .build());
  }
}

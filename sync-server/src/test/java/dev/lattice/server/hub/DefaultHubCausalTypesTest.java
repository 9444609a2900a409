package dev.lattice.server.hub;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HybridLogicalClock;
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

  @Test
  void removesTravelThroughFanOutStoreAndCatchUp() {
    InMemoryDocumentStore store = new InMemoryDocumentStore();
    DefaultHub hub =
        new DefaultHub(
            HubConfig.builder(store, ReplicaId.of(1))
                .executor(Runnable::run)
                .scheduler(new ManualScheduler())
                .clock(new HybridLogicalClock(() -> 1_700_000_000_000L, Duration.ofSeconds(60)))
                .build());
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
}

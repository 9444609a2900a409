package dev.lattice.server.hub;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.VersionVector;
import dev.lattice.protocol.Update;
import dev.lattice.server.store.DocumentStore;
import dev.lattice.server.store.InMemoryDocumentStore;
import dev.lattice.server.store.StoreStats;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class DefaultHubConcurrencyTest {

  private static final String DOC = "shared";
  private static final int CONNECTIONS = 6;
  private static final int UPDATES_EACH = 300;

  /** An in-memory store whose appends become durable later, in call order, on its own thread. */
  private static final class AsyncStore implements DocumentStore {
    final InMemoryDocumentStore inner = new InMemoryDocumentStore();
    final ExecutorService committer = Executors.newSingleThreadExecutor();

    @Override
    public CompletableFuture<Void> append(String documentId, DocumentDelta delta) {
      return CompletableFuture.supplyAsync(() -> inner.append(documentId, delta), committer)
          .thenCompose(f -> f);
    }

    @Override
    public Optional<Document> load(String documentId) {
      return inner.load(documentId);
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
    public void close() {
      committer.shutdown();
      inner.close();
    }
  }

  @Test
  void manyWritersOnOneDocumentConvergeAndEachSeesEveryOtherUpdateOnce() throws Exception {
    AsyncStore store = new AsyncStore();
    ExecutorService hubPool = Executors.newFixedThreadPool(4);
    ExecutorService writers = Executors.newFixedThreadPool(CONNECTIONS);
    try (DefaultHub hub =
        new DefaultHub(
            HubConfig.builder(store, ReplicaId.of(1))
                .executor(hubPool)
                .scheduler(new ManualScheduler())
                .build())) {
      List<TestConnection> conns = new ArrayList<>();
      for (int i = 0; i < CONNECTIONS; i++) {
        TestConnection c = new TestConnection("c" + i, 1000 + i);
        c.expectUpdates((CONNECTIONS - 1) * UPDATES_EACH);
        conns.add(c);
        hub.subscribe(c, DOC, VersionVector.empty()).get(10, TimeUnit.SECONDS);
      }

      CountDownLatch start = new CountDownLatch(1);
      List<CompletableFuture<List<CompletableFuture<Void>>>> sent = new ArrayList<>();
      for (TestConnection c : conns) {
        sent.add(
            CompletableFuture.supplyAsync(
                () -> {
                  awaitQuietly(start);
                  Document local = Document.create(DOC);
                  List<CompletableFuture<Void>> acks = new ArrayList<>();
                  for (int u = 0; u < UPDATES_EACH; u++) {
                    acks.add(
                        hub.update(c, DOC, local.incrementGCounter(c.replicaId(), "count", 1)));
                  }
                  return acks;
                },
                writers));
      }
      start.countDown();
      for (var s : sent) {
        CompletableFuture.allOf(s.get(10, TimeUnit.SECONDS).toArray(CompletableFuture[]::new))
            .get(10, TimeUnit.SECONDS);
      }
      for (TestConnection c : conns) {
        assertThat(c.updateLatch().await(10, TimeUnit.SECONDS)).as("fan-out to " + c).isTrue();
      }

      for (TestConnection c : conns) {
        Map<ReplicaId, Long> lastSeq = new HashMap<>();
        Set<Dot> dots = new HashSet<>();
        for (Update u : c.updates()) {
          Dot dot = u.delta().context().singleDot().orElseThrow();
          assertThat(dot.replica()).as("no echo to the sender").isNotEqualTo(c.replicaId());
          assertThat(dots.add(dot)).as("each update once: " + dot).isTrue();
          // One writer's updates reach every other subscriber in the order it sent them.
          assertThat(dot.sequence()).isEqualTo(lastSeq.getOrDefault(dot.replica(), 0L) + 1);
          lastSeq.put(dot.replica(), dot.sequence());
        }
        assertThat(dots).hasSize((CONNECTIONS - 1) * UPDATES_EACH);
      }

      TestConnection observer = new TestConnection("observer", 1);
      Hub.SyncResult all =
          hub.subscribe(observer, DOC, VersionVector.empty()).get(10, TimeUnit.SECONDS);
      Document merged = Document.create(DOC);
      merged.merge(all.missing());
      assertThat(merged.counterValue("count")).isEqualTo((long) CONNECTIONS * UPDATES_EACH);
      assertThat(store.load(DOC).orElseThrow().counterValue("count"))
          .isEqualTo((long) CONNECTIONS * UPDATES_EACH);
      assertThat(hub.stats().updatesMerged()).isEqualTo((long) CONNECTIONS * UPDATES_EACH);
      assertThat(hub.stats().fanOutMessages())
          .isEqualTo((long) CONNECTIONS * (CONNECTIONS - 1) * UPDATES_EACH);
    } finally {
      writers.shutdownNow();
      hubPool.shutdownNow();
      store.close();
    }
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      if (!latch.await(10, TimeUnit.SECONDS)) {
        throw new IllegalStateException("start latch never opened");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}

package dev.lattice.server.hub;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.DotRange;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.VersionVector;
import dev.lattice.protocol.Update;
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.DocumentStore;
import dev.lattice.server.spi.StoreStats;
import dev.lattice.server.store.InMemoryDocumentStore;
import java.util.ArrayList;
import java.util.HashMap;
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
    public CompletableFuture<Appended> append(String documentId, DocumentDelta delta) {
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
  void manyWritersOnOneDocumentConvergeAndEachSeesEveryOtherUpdateInOrder() throws Exception {
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
        conns.add(c);
        hub.subscribe(c, DOC, VersionVector.empty()).get(10, TimeUnit.SECONDS);
      }

      CountDownLatch start = new CountDownLatch(1);
      Map<TestConnection, Document> locals = new java.util.concurrent.ConcurrentHashMap<>();
      List<CompletableFuture<List<CompletableFuture<Void>>>> sent = new ArrayList<>();
      for (TestConnection c : conns) {
        sent.add(
            CompletableFuture.supplyAsync(
                () -> {
                  awaitQuietly(start);
                  Document local = Document.create(DOC);
                  locals.put(c, local);
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
      // A subscribe runs on the document's executor after every task queued before it, so once it
      // answers, the fan-out of the last round has been handed to every connection.
      TestConnection observer = new TestConnection("observer", 1);
      Hub.SyncResult all =
          hub.subscribe(observer, DOC, VersionVector.empty()).get(10, TimeUnit.SECONDS);

      long frames = 0;
      for (TestConnection c : conns) {
        Map<ReplicaId, Long> lastSeq = new HashMap<>();
        // What the subscriber's replica holds: its own writes and every fan-out it received.
        Document seen = locals.get(c);
        for (Update u : c.updates()) {
          frames++;
          boolean fromOthers = false;
          for (DotRange range : u.delta().context().ranges()) {
            if (range.replica().equals(c.replicaId())) {
              continue; // its own updates may ride in a round others contributed to
            }
            fromOthers = true;
            // Every other writer's updates reach this subscriber once each, in the order sent.
            assertThat(range.first())
                .as("next update of %s seen by %s", range.replica(), c)
                .isEqualTo(lastSeq.getOrDefault(range.replica(), 0L) + 1);
            lastSeq.put(range.replica(), range.last());
          }
          assertThat(fromOthers).as("a fan-out of only %s's own updates", c).isTrue();
          seen.merge(u.delta());
        }
        for (TestConnection other : conns) {
          if (other != c) {
            assertThat(lastSeq).containsEntry(other.replicaId(), (long) UPDATES_EACH);
          }
        }
        assertThat(seen.counterValue("count")).isEqualTo((long) CONNECTIONS * UPDATES_EACH);
      }

      Document merged = Document.create(DOC);
      merged.merge(all.missing());
      assertThat(merged.counterValue("count")).isEqualTo((long) CONNECTIONS * UPDATES_EACH);
      assertThat(store.load(DOC).orElseThrow().counterValue("count"))
          .isEqualTo((long) CONNECTIONS * UPDATES_EACH);
      assertThat(hub.stats().updatesMerged()).isEqualTo((long) CONNECTIONS * UPDATES_EACH);
      assertThat(hub.stats().fanOutMessages()).isEqualTo(frames);
      // Rounds joined what arrived together: never more frames than one per update per other.
      assertThat(frames).isLessThanOrEqualTo((long) CONNECTIONS * (CONNECTIONS - 1) * UPDATES_EACH);
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

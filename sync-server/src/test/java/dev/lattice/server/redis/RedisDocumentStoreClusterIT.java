package dev.lattice.server.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.StoreCursor;
import dev.lattice.server.spi.StoreException;
import dev.lattice.server.spi.StoredChanges;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link RedisDocumentStore} on a three-master Redis Cluster: every document's keys on one slot,
 * the documents spread over the masters, listing walks all of them, and WAIT goes to the primary
 * that took the write. One cluster for the class; each test has its own key prefix.
 */
class RedisDocumentStoreClusterIT {

  private static final ReplicaId ALICE = ReplicaId.of(0xA11CEL);
  private static final AtomicInteger TESTS = new AtomicInteger();
  private static RedisClusterProcesses cluster;

  private final List<RedisDocumentStore> stores = new ArrayList<>();

  @BeforeAll
  static void startCluster() {
    cluster = RedisClusterProcesses.start(3);
  }

  @AfterAll
  static void stopCluster() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @AfterEach
  void closeStores() {
    stores.forEach(RedisDocumentStore::close);
  }

  private RedisDocumentStore store(RedisStoreConfig.Builder config) {
    RedisDocumentStore s = RedisDocumentStore.open(config.build());
    stores.add(s);
    return s;
  }

  private static String prefix() {
    return "cluster" + TESTS.incrementAndGet();
  }

  private static <T> T join(CompletableFuture<T> f) throws Exception {
    return f.get(15, TimeUnit.SECONDS);
  }

  private static List<DocumentDelta> increments(String id, int n) {
    Document w = Document.create(id);
    List<DocumentDelta> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(w.incrementGCounter(ALICE, "n", 1));
    }
    return out;
  }

  @Test
  void documentsSpreadOverTheMastersAndEveryOperationWorks() throws Exception {
    String prefix = prefix();
    RedisKeys keys = new RedisKeys(prefix);
    // One seed is enough: the client learns the other masters from it.
    RedisDocumentStore store =
        store(
            RedisStoreConfig.cluster(List.of(cluster.uris().get(0)))
                .keyPrefix(prefix)
                .compactionThreshold(0));
    Set<String> ids = new HashSet<>();
    Map<Integer, Integer> perMaster = new HashMap<>();
    for (int d = 0; d < 30; d++) {
      String id = "doc-" + d + (d % 3 == 0 ? "{x}" : "");
      ids.add(id);
      perMaster.merge(cluster.masterOf(keys.head(id)).port(), 1, Integer::sum);
      List<DocumentDelta> deltas = increments(id, 5);
      List<Appended> where = new ArrayList<>();
      for (DocumentDelta delta : deltas) {
        where.add(join(store.append(id, delta)));
      }
      assertThat(where.get(0).previous()).isEqualTo(StoreCursor.ORIGIN);

      StoredChanges since = join(store.readSince(id, where.get(1).position()));
      assertThat(since.delta()).isEqualTo(deltas.get(2).join(deltas.get(3)).join(deltas.get(4)));
      assertThat(since.position()).isEqualTo(where.get(4).position());

      store.compact(id);
      assertThat(cluster.masterOf(keys.log(id)).call("XLEN", keys.log(id))).isEqualTo(0L);
      Document loaded = store.load(id).orElseThrow();
      assertThat(loaded.counterValue("n")).isEqualTo(5);
      assertThat(join(store.loadAsync(id)).orElseThrow().position())
          .isEqualTo(where.get(4).position());
      assertThat(store.exists(id)).isTrue();
    }
    assertThat(perMaster).as("documents on every master").hasSize(3);
    assertThat(store.documentIds()).isEqualTo(ids);
    assertThat(join(store.readSince("never", new StoreCursor(5, 5))).position())
        .isEqualTo(StoreCursor.ORIGIN);
    assertThat(store.available()).isTrue();
  }

  @Test
  void waitReplicasCountsTheReplicasOfThePrimaryThatTookTheWrite() throws Exception {
    RedisServerProcess primary = cluster.masters().get(0);
    RedisServerProcess replica = cluster.addReplica(primary);
    String prefix = prefix();
    RedisKeys keys = new RedisKeys(prefix);
    String replicated = null;
    String unreplicated = null;
    for (int d = 0; replicated == null || unreplicated == null; d++) {
      String id = "w" + d;
      if (cluster.masterOf(keys.head(id)) == primary) {
        replicated = replicated == null ? id : replicated;
      } else {
        unreplicated = unreplicated == null ? id : unreplicated;
      }
    }
    RedisDocumentStore store =
        store(
            RedisStoreConfig.cluster(cluster.uris())
                .keyPrefix(prefix)
                .waitReplicas(1, Duration.ofMillis(300))
                .compactionThreshold(0));
    List<DocumentDelta> deltas = increments(replicated, 3);
    join(store.append(replicated, deltas.get(0)));

    // Frozen, the replica acknowledges nothing: WAIT on the write's own connection sees that,
    // where WAIT on another connection would count the replica's old acknowledgement.
    replica.pause();
    try {
      assertThat(failure(store.append(replicated, deltas.get(1))))
          .isInstanceOf(StoreException.class)
          .hasMessageContaining("0 of 1 replicas");
    } finally {
      replica.resume();
    }
    join(store.append(replicated, deltas.get(2)));
    assertThat(store.load(replicated).orElseThrow().contains(new Dot(ALICE, 3))).isTrue();

    assertThat(failure(store.append(unreplicated, increments(unreplicated, 1).get(0))))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("0 of 1 replicas");
  }

  private static Throwable failure(CompletableFuture<?> f) throws Exception {
    try {
      f.get(15, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      return e.getCause();
    }
    throw new AssertionError("the append succeeded");
  }
}

package dev.lattice.server.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.DocumentStore;
import dev.lattice.server.spi.StoreCorruptedException;
import dev.lattice.server.spi.StoreException;
import dev.lattice.server.spi.StoreLockedException;
import dev.lattice.server.spi.StoreStats;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class RocksDbDocumentStoreTest extends DocumentStoreContractTest {

  @Override
  protected DocumentStore open(Path dir) {
    return RocksDbDocumentStore.open(
        EmbeddedStoreConfig.builder().dataDirectory(dir).compactionThreshold(0).build());
  }

  private RocksDbDocumentStore reopen(EmbeddedStoreConfig.TestHooks hooks, int threshold) {
    store.close();
    RocksDbDocumentStore s =
        RocksDbDocumentStore.open(
            EmbeddedStoreConfig.builder()
                .dataDirectory(dir)
                .compactionThreshold(threshold)
                .hooks(hooks)
                .build());
    store = s;
    return s;
  }

  /** Blocks the first call until released; counts the calls. */
  static final class Gate {
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    private boolean first = true;

    synchronized boolean takeFirst() {
      boolean f = first;
      first = false;
      return f;
    }

    void pass() {
      if (takeFirst()) {
        entered.countDown();
        try {
          if (!release.await(10, TimeUnit.SECONDS)) {
            throw new AssertionError("gate never released");
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }

    void awaitEntered() throws InterruptedException {
      assertThat(entered.await(10, TimeUnit.SECONDS)).as("gate entered").isTrue();
    }
  }

  @Test
  void groupCommitBatchesAppendsQueuedWhileACommitIsInFlight() throws Exception {
    Gate gate = new Gate();
    RocksDbDocumentStore s =
        reopen(
            new EmbeddedStoreConfig.TestHooks() {
              @Override
              public void beforeCommit(int batchSize) {
                gate.pass();
              }
            },
            0);
    List<DocumentDelta> deltas = someDeltas("doc", 34); // 102 deltas
    List<CompletableFuture<Appended>> acks = new ArrayList<>();
    acks.add(s.append("doc", deltas.get(0)));
    gate.awaitEntered(); // the first commit is in flight and held
    for (DocumentDelta d : deltas.subList(1, deltas.size())) {
      acks.add(s.append("doc", d));
    }
    assertThat(acks.subList(1, acks.size())).noneMatch(CompletableFuture::isDone);
    gate.release.countDown();
    CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);

    StoreStats stats = s.stats();
    assertThat(stats.appendedDeltas()).isEqualTo(102);
    assertThat(stats.commits()).isEqualTo(2);
    assertThat(stats.largestBatch()).isEqualTo(101);
    assertThat(s.load("doc")).contains(merged("doc", deltas));
  }

  @Test
  void causalTypesSurviveAReopen() throws Exception {
    List<DocumentDelta> deltas = causalDeltas("doc");
    for (DocumentDelta d : deltas) {
      await(store.append("doc", d));
    }
    RocksDbDocumentStore again = reopen(EmbeddedStoreConfig.TestHooks.NONE, 0);
    assertThat(again.load("doc")).contains(merged("doc", deltas));
  }

  @Test
  void batchesRespectTheMaximumSize() throws Exception {
    Gate gate = new Gate();
    store.close();
    RocksDbDocumentStore s =
        RocksDbDocumentStore.open(
            EmbeddedStoreConfig.builder()
                .dataDirectory(dir)
                .maxBatchSize(10)
                .hooks(
                    new EmbeddedStoreConfig.TestHooks() {
                      @Override
                      public void beforeCommit(int batchSize) {
                        gate.pass();
                      }
                    })
                .build());
    store = s;
    List<DocumentDelta> deltas = someDeltas("doc", 10); // 30 deltas
    List<CompletableFuture<Appended>> acks = new ArrayList<>();
    acks.add(s.append("doc", deltas.get(0)));
    gate.awaitEntered();
    for (DocumentDelta d : deltas.subList(1, deltas.size())) {
      acks.add(s.append("doc", d));
    }
    gate.release.countDown();
    CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
    assertThat(s.stats().commits()).isEqualTo(1 + 3); // 1, then 29 queued in batches of 10
    assertThat(s.stats().largestBatch()).isEqualTo(10);
  }

  @Test
  void closeCommitsPendingAppendsFirst() throws Exception {
    Gate gate = new Gate();
    RocksDbDocumentStore s =
        reopen(
            new EmbeddedStoreConfig.TestHooks() {
              @Override
              public void beforeCommit(int batchSize) {
                gate.pass();
              }
            },
            0);
    List<DocumentDelta> deltas = someDeltas("doc", 5);
    List<CompletableFuture<Appended>> acks = new ArrayList<>();
    for (DocumentDelta d : deltas) {
      acks.add(s.append("doc", d));
    }
    gate.awaitEntered();
    CompletableFuture<Void> closing = CompletableFuture.runAsync(s::close);
    gate.release.countDown();
    closing.get(10, TimeUnit.SECONDS);
    CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
    RocksDbDocumentStore again = reopen(EmbeddedStoreConfig.TestHooks.NONE, 0);
    assertThat(again.load("doc")).contains(merged("doc", deltas));
  }

  @Test
  void replicaOwnersSurviveAReopen() throws Exception {
    assertThat(store.claimReplica(ALICE, "alice").get(10, TimeUnit.SECONDS)).isEqualTo("alice");
    RocksDbDocumentStore again = reopen(EmbeddedStoreConfig.TestHooks.NONE, 0);
    assertThat(again.claimReplica(ALICE, "mallory").get(10, TimeUnit.SECONDS)).isEqualTo("alice");
    assertThat(again.documentIds()).isEmpty();
  }

  @Test
  void maxTimestampSurvivesAReopenAndIsFoundInAStoreThatPredatesItsKey() throws Exception {
    List<DocumentDelta> deltas = someDeltas("doc", 5);
    for (DocumentDelta d : deltas) {
      await(store.append("doc", d));
    }
    HlcTimestamp greatest =
        merged("doc", deltas).deltaSince(VersionVector.empty()).maxTimestamp().get();
    assertThat(reopen(EmbeddedStoreConfig.TestHooks.NONE, 0).maxTimestamp()).contains(greatest);

    ((RocksDbDocumentStore) store).deleteMaxTimestampKeyForTest();
    RocksDbDocumentStore legacy = reopen(EmbeddedStoreConfig.TestHooks.NONE, 0);
    assertThat(legacy.maxTimestamp()).as("read whole once").contains(greatest);
    HlcTimestamp later = greatest.successor();
    await(
        legacy.append(
            "other", Document.create("other").setRegister(ALICE, "t", Value.of("x"), later)));
    assertThat(reopen(EmbeddedStoreConfig.TestHooks.NONE, 0).maxTimestamp()).contains(later);
  }

  @Test
  void compactionFoldsDeltasIntoASnapshotAndDeletesThem() throws Exception {
    RocksDbDocumentStore s = (RocksDbDocumentStore) store;
    List<DocumentDelta> deltas = someDeltas("doc", 10);
    for (DocumentDelta d : deltas) {
      await(s.append("doc", d));
    }
    assertThat(s.deltaCount("doc")).isEqualTo(30);
    s.compact("doc");
    assertThat(s.deltaCount("doc")).isZero();
    assertThat(s.stats().compactions()).isEqualTo(1);
    assertThat(s.load("doc")).contains(merged("doc", deltas));
  }

  @Test
  void appendRacingWithCompactionIsKept() throws Exception {
    Gate gate = new Gate();
    RocksDbDocumentStore s =
        reopen(
            new EmbeddedStoreConfig.TestHooks() {
              @Override
              public void beforeCompactionWrite(String documentId) {
                gate.pass();
              }
            },
            0);
    List<DocumentDelta> deltas = someDeltas("doc", 5);
    for (DocumentDelta d : deltas.subList(0, 14)) {
      await(s.append("doc", d));
    }
    CompletableFuture<Void> compaction = CompletableFuture.runAsync(() -> s.compact("doc"));
    gate.awaitEntered(); // compaction has read 14 deltas and not yet written
    await(s.append("doc", deltas.get(14))); // durable while compaction is mid-way
    gate.release.countDown();
    compaction.get(10, TimeUnit.SECONDS);

    assertThat(s.deltaCount("doc")).isEqualTo(1);
    assertThat(s.load("doc")).contains(merged("doc", deltas));
    RocksDbDocumentStore again = reopen(EmbeddedStoreConfig.TestHooks.NONE, 0);
    assertThat(again.load("doc")).contains(merged("doc", deltas));
  }

  @Test
  void compactsAutomaticallyAfterTheThreshold() throws Exception {
    CountDownLatch compacting = new CountDownLatch(1);
    RocksDbDocumentStore s =
        reopen(
            new EmbeddedStoreConfig.TestHooks() {
              @Override
              public void beforeCompactionWrite(String documentId) {
                compacting.countDown();
              }
            },
            9);
    List<DocumentDelta> deltas = someDeltas("doc", 3); // 9 deltas
    for (DocumentDelta d : deltas) {
      await(s.append("doc", d));
    }
    assertThat(compacting.await(10, TimeUnit.SECONDS)).isTrue();
    RocksDbDocumentStore again = reopen(EmbeddedStoreConfig.TestHooks.NONE, 0); // close waits
    assertThat(again.deltaCount("doc")).isZero();
    assertThat(again.load("doc")).contains(merged("doc", deltas));
  }

  @Test
  void reopenedStoreHoldsEverything() throws Exception {
    List<DocumentDelta> deltas = someDeltas("doc", 10);
    for (DocumentDelta d : deltas.subList(0, 12)) {
      await(store.append("doc", d));
    }
    store.compact("doc");
    for (DocumentDelta d : deltas.subList(12, deltas.size())) {
      await(store.append("doc", d));
    }
    await(store.append("other", someDeltas("other", 1).get(0)));
    RocksDbDocumentStore again = reopen(EmbeddedStoreConfig.TestHooks.NONE, 0);
    assertThat(again.load("doc")).contains(merged("doc", deltas));
    assertThat(again.documentIds()).containsExactlyInAnyOrder("doc", "other");
    // Sequences continue after reopening: new deltas neither overwrite nor precede old ones.
    List<DocumentDelta> more = someDeltas("other", 3);
    for (DocumentDelta d : more) {
      await(again.append("other", d));
    }
    assertThat(again.load("other")).contains(merged("other", more));
    assertThat(again.deltaCount("other")).isEqualTo(10);
  }

  @Test
  void corruptDeltaBytesMakeLoadThrowNotReturnEmpty() throws Exception {
    RocksDbDocumentStore s = (RocksDbDocumentStore) store;
    await(s.append("doc", someDeltas("doc", 1).get(0)));
    s.overwriteDeltasForTest("doc", "not msgpack".getBytes(StandardCharsets.UTF_8));
    assertThatThrownBy(() -> s.load("doc"))
        .isInstanceOf(StoreCorruptedException.class)
        .hasMessageContaining("'doc'")
        .hasMessageContaining("cannot be decoded");
    assertThatThrownBy(() -> s.compact("doc")).isInstanceOf(StoreCorruptedException.class);
  }

  @Test
  void secondStoreOnTheSameDirectoryFailsAsLocked() {
    assertThatThrownBy(() -> open(dir))
        .isInstanceOf(StoreLockedException.class)
        .hasMessageContaining(dir.toAbsolutePath().toString());
  }

  @Test
  void dataDirectoryThatIsAFileFails() throws Exception {
    Path file = Files.writeString(dir.resolve("plain-file"), "x");
    assertThatThrownBy(() -> open(file))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("not a directory");
  }

  @Test
  void corruptStoreFilesFailOnOpen() throws Exception {
    await(store.append("doc", someDeltas("doc", 1).get(0)));
    store.close();
    try (var files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.getFileName().toString().startsWith("MANIFEST")).toList()) {
        Files.write(f, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
      }
    }
    assertThatThrownBy(() -> open(dir))
        .isInstanceOf(StoreCorruptedException.class)
        .hasMessageContaining(dir.toAbsolutePath().toString());
    store = new InMemoryDocumentStore(); // for the @AfterEach close
  }

  @Test
  void configRejectsBadValues() {
    assertThatThrownBy(() -> EmbeddedStoreConfig.builder().maxBatchSize(0))
        .hasMessageContaining("maxBatchSize")
        .hasMessageContaining("0");
    assertThatThrownBy(() -> EmbeddedStoreConfig.builder().compactionThreshold(-1))
        .hasMessageContaining("-1");
    assertThat(EmbeddedStoreConfig.defaults().dataDirectory()).isEqualTo(Path.of("lattice-data"));
  }

  @Test
  void loadReadsBackDocumentsThatWereOnlyCompacted() throws Exception {
    List<DocumentDelta> deltas = someDeltas("doc", 2);
    for (DocumentDelta d : deltas) {
      await(store.append("doc", d));
    }
    store.compact("doc");
    Document loaded = reopen(EmbeddedStoreConfig.TestHooks.NONE, 0).load("doc").orElseThrow();
    assertThat(loaded).isEqualTo(merged("doc", deltas));
  }
}

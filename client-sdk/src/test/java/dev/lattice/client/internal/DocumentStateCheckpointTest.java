package dev.lattice.client.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.hlc.HybridLogicalClock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Checkpoints are batched: a busy outbox does not rewrite the stored replica on every ack. */
class DocumentStateCheckpointTest {

  /** Counts checkpoints and what they forgot; stores through a {@link MemoryLocalState}. */
  private static final class CountingState implements LocalState {
    final MemoryLocalState inner = new MemoryLocalState();
    final List<Set<Long>> checkpoints = new ArrayList<>();

    @Override
    public ReplicaId replicaId() {
      return inner.replicaId();
    }

    @Override
    public ReplicaId retireReplicaId() {
      return inner.retireReplicaId();
    }

    @Override
    public void replaceOutbox(
        String documentId,
        java.util.Map<Long, dev.lattice.crdt.DocumentDelta> replaced,
        Set<Long> removed) {
      inner.replaceOutbox(documentId, replaced, removed);
    }

    @Override
    public Optional<StoredDocument> load(String documentId) {
      return inner.load(documentId);
    }

    @Override
    public void appendOutbox(String documentId, OutboxEntry entry) {
      inner.appendOutbox(documentId, entry);
    }

    @Override
    public void checkpoint(String documentId, Document replica, Set<Long> done) {
      checkpoints.add(Set.copyOf(done));
      inner.checkpoint(documentId, replica, done);
    }

    @Override
    public OptionalLong clockOffsetMillis() {
      return inner.clockOffsetMillis();
    }

    @Override
    public void saveClockOffsetMillis(long offsetMillis) {
      inner.saveClockOffsetMillis(offsetMillis);
    }

    @Override
    public void close() {
      inner.close();
    }
  }

  private final CountingState local = new CountingState();
  private final DocumentState doc =
      new DocumentState(
          "d", local.replicaId(), local, new HybridLogicalClock(), new Callbacks(Runnable::run));

  private void edits(int n) {
    for (int i = 0; i < n; i++) {
      doc.edit("n", d -> d.incrementGCounter(local.replicaId(), "n", 1));
    }
  }

  @Test
  void acksWhileTheOutboxIsBusyAreCheckpointedInBatchesAndAllWhenItDrains() {
    edits(300);

    for (long id = 1; id <= 300; id++) {
      doc.acknowledged(List.of(id));
    }

    assertThat(local.checkpoints).hasSize(2);
    assertThat(local.checkpoints.get(0)).hasSize(DocumentState.CHECKPOINT_EVERY);
    assertThat(local.checkpoints.get(1)).hasSize(300 - DocumentState.CHECKPOINT_EVERY);
    assertThat(local.inner.load("d").orElseThrow().outbox()).isEmpty();
    assertThat(local.inner.load("d").orElseThrow().checkpoint().counterValue("n")).isEqualTo(300);
  }

  @Test
  void aSparseEditIsCheckpointedAtItsAck() {
    edits(1);
    doc.acknowledged(List.of(1L));
    assertThat(local.checkpoints).containsExactly(Set.of(1L));
  }

  @Test
  void closeCheckpointsWhatIsAcknowledgedAndKeepsThePendingRest() {
    edits(10);
    doc.acknowledged(List.of(1L, 2L, 3L));
    assertThat(local.checkpoints).isEmpty();

    doc.close();

    assertThat(local.checkpoints).containsExactly(Set.of(1L, 2L, 3L));
    LocalState.StoredDocument stored = local.inner.load("d").orElseThrow();
    assertThat(stored.outbox()).hasSize(7);
    assertThat(stored.replica().counterValue("n")).isEqualTo(10);
  }

  /** A change of another replica, as the server would send it. */
  private static DocumentDelta received(Document other, int n) {
    return other.incrementGCounter(ReplicaId.of(0xFEED), "seen", n);
  }

  @Test
  void receivedChangesAreCheckpointedWhenTheTimerTheyAskForFires() {
    Document other = Document.create("d");
    assertThat(doc.mergeRemote(received(other, 1))).as("first change asks for the timer").isTrue();
    assertThat(doc.mergeRemote(received(other, 2))).as("one timer per batch").isFalse();
    assertThat(local.checkpoints).isEmpty();

    doc.checkpointReceived();

    assertThat(local.checkpoints).containsExactly(Set.of());
    assertThat(local.inner.load("d").orElseThrow().checkpoint().counterValue("seen")).isEqualTo(3);
    assertThat(doc.mergeRemote(received(other, 1))).as("the next batch asks again").isTrue();
  }

  @Test
  void aChangeAlreadyHeldNeitherCheckpointsNorAsksForTheTimer() {
    Document other = Document.create("d");
    DocumentDelta delta = received(other, 1);
    doc.mergeRemote(delta);
    doc.checkpointReceived();

    assertThat(doc.mergeRemote(delta)).isFalse();
    doc.checkpointReceived();

    assertThat(local.checkpoints).hasSize(1);
  }

  @Test
  void manyReceivedChangesAreCheckpointedWithoutWaitingForTheTimer() {
    Document other = Document.create("d");
    for (int i = 0; i < DocumentState.RECEIVED_CHECKPOINT_EVERY; i++) {
      doc.mergeRemote(received(other, 1));
    }
    assertThat(local.checkpoints).hasSize(1);
    assertThat(local.inner.load("d").orElseThrow().checkpoint().counterValue("seen"))
        .isEqualTo(DocumentState.RECEIVED_CHECKPOINT_EVERY);
  }

  @Test
  void closeCheckpointsReceivedChangesAndALateTimerDoesNothing() {
    doc.mergeRemote(received(Document.create("d"), 5));

    doc.close();
    doc.checkpointReceived();

    assertThat(local.checkpoints).hasSize(1);
    assertThat(local.inner.load("d").orElseThrow().checkpoint().counterValue("seen")).isEqualTo(5);
  }
}

package dev.lattice.client.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.client.LocalStateException;
import dev.lattice.client.internal.LocalState.OutboxEntry;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import java.util.Set;
import org.junit.jupiter.api.Test;

class MemoryLocalStateTest {

  private static final ReplicaId ME = ReplicaId.of(7);

  @Test
  void everyInstanceTakesAFreshReplicaId() {
    assertThat(new MemoryLocalState().replicaId()).isNotEqualTo(new MemoryLocalState().replicaId());
  }

  @Test
  void loadGivesTheCheckpointWithTheOutboxMergedInAndForgetsOnlyWhatIsDone() {
    MemoryLocalState state = new MemoryLocalState(ME);
    assertThat(state.load("d")).isEmpty();
    Document replica = Document.create("d");
    DocumentDelta first = replica.incrementGCounter(ME, "n", 1);
    DocumentDelta second = replica.incrementGCounter(ME, "n", 2);
    state.appendOutbox("d", new OutboxEntry(1, first));
    state.appendOutbox("d", new OutboxEntry(2, second));
    assertThat(state.load("d").orElseThrow().replica().counterValue("n")).isEqualTo(3);

    Document acked = Document.create("d");
    acked.merge(first);
    state.checkpoint("d", acked, Set.of(1L));
    // The stored copy is independent of the caller's replica.
    acked.incrementGCounter(ReplicaId.of(8), "n", 100);
    LocalState.StoredDocument stored = state.load("d").orElseThrow();
    assertThat(stored.outbox()).extracting(OutboxEntry::entryId).containsExactly(2L);
    assertThat(stored.replica().counterValue("n")).isEqualTo(3);
  }

  @Test
  void refusesAnEntryIdThatDoesNotGrowAndUseAfterClose() {
    MemoryLocalState state = new MemoryLocalState(ME);
    state.appendOutbox("d", new OutboxEntry(5, DocumentDelta.empty()));
    assertThatThrownBy(() -> state.appendOutbox("d", new OutboxEntry(5, DocumentDelta.empty())))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not greater");
    state.close();
    state.close();
    assertThatThrownBy(() -> state.load("d")).isInstanceOf(LocalStateException.class);
  }
}

package dev.lattice.server.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.server.spi.DocumentStore;
import dev.lattice.server.spi.FieldTypeConflictException;
import dev.lattice.server.spi.StoreCursor;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

class InMemoryDocumentStoreTest extends DocumentStoreContractTest {

  @Override
  protected DocumentStore open(Path dir) {
    return new InMemoryDocumentStore();
  }

  @Test
  void aDeltaGivingAHeldFieldAnotherTypeIsRefusedWholeAsRedisRefusesIt() {
    InMemoryDocumentStore store = new InMemoryDocumentStore();
    ReplicaId alice = ReplicaId.of(1);
    ReplicaId bob = ReplicaId.of(2);
    store.append("d", Document.create("d").incrementGCounter(alice, "x", 5)).join();
    Document bobs = Document.create("d");
    DocumentDelta refused =
        bobs.setRegister(bob, "x", Value.of("t"), HlcTimestamp.of(10, 0))
            .join(bobs.incrementGCounter(bob, "y", 1));

    // Before, the merge's FieldTypeMismatchException failed it as an I/O failure: a hub sharing
    // the store retried it for ever.
    Throwable failure = store.append("d", refused).handle((ok, e) -> e).join();

    assertThat(failure).isInstanceOf(FieldTypeConflictException.class);
    assertThat(((FieldTypeConflictException) failure).heldTypes())
        .isEqualTo(Map.of("x", CrdtType.G_COUNTER));
    Document held = store.load("d").orElseThrow();
    assertThat(held.fields()).containsOnlyKeys("x");
    assertThat(held.contains(new Dot(bob, 1))).isFalse();
    assertThat(
            store
                .append("d", Document.create("d").incrementGCounter(bob, "y", 1))
                .join()
                .position())
        .isEqualTo(StoreCursor.of(2));
  }
}

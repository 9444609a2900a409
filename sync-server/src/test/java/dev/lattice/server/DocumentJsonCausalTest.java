package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import org.junit.jupiter.api.Test;

/** GET /v1/docs/{id} views of the causal types: sets and registers as arrays, maps as objects. */
class DocumentJsonCausalTest {

  @Test
  void rendersSetsRegistersAndNestedMaps() {
    ReplicaId a = ReplicaId.of(7);
    ReplicaId b = ReplicaId.of(8);
    Document doc = Document.create("d");
    doc.addToSet(a, "tags", Value.of("red"));
    doc.addToSet(a, "tags", Value.of("blue"));
    doc.removeFromSet(a, "tags", Value.of("red"));
    doc.writeMVRegister(a, "who", Value.of("ann"));
    // b writes without having seen a's write: both stay.
    Document fresh = Document.create("d");
    doc.merge(fresh.writeMVRegister(b, "who", Value.of("bob")));
    doc.updateMap(a, "cfg", "n", CrdtKind.of(GCounter.class), (g, dot) -> g.increment(a, 2));
    doc.updateMap(
        a, "cfg", "labels", CrdtKind.of(ORSet.class), (s, dot) -> s.add(dot, Value.of(1L)));

    assertThat(DocumentJson.render(doc))
        .isEqualTo(
            "{\"id\":\"d\",\"fields\":{"
                + "\"cfg\":{\"type\":\"OR_MAP\",\"value\":{\"labels\":[1],\"n\":2}},"
                + "\"tags\":{\"type\":\"OR_SET\",\"value\":[\"blue\"]},"
                + "\"who\":{\"type\":\"MV_REGISTER\",\"value\":[\"ann\",\"bob\"]}}}");
  }

  @Test
  void weighsCausalFieldsByTheirSize() {
    ReplicaId a = ReplicaId.of(7);
    Document small = Document.create("d");
    small.addToSet(a, "tags", Value.of(0L));
    Document large = Document.create("d");
    for (int i = 0; i < 1000; i++) {
      large.addToSet(a, "tags", Value.of((long) i));
    }
    assertThat(CaffeineDocumentCache.weigh(large))
        .isGreaterThan(CaffeineDocumentCache.weigh(small) + 1000 * 100);
  }
}

package dev.lattice.properties.document;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.MVRegister;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.PNCounter;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.codec.CrdtCodecs;
import dev.lattice.properties.gen.CausalArbitraries;
import dev.lattice.properties.gen.CrdtArbitraries;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * Documents with OR-Set, MV-Register and OR-Map fields, synced the two ways the system syncs:
 * mutation deltas delivered in any order with duplicates (through the codec), and catch-up deltas
 * from {@link Document#deltaSince}, whose per-replica contributions must carry removals without
 * retracting what the receiver holds live.
 */
class CausalDocumentProperties {

  private static final CrdtCodecs CODECS = CrdtCodecs.defaults();

  @Property
  void replicasSyncedByAnyMixOfDeltasAndCatchUpsConverge(
      @ForAll long seed, @ForAll @IntRange(min = 1, max = 60) int steps) {
    Random r = new Random(seed);
    List<ReplicaId> ids = CrdtArbitraries.REPLICAS.subList(0, 3);
    List<Document> docs = new ArrayList<>();
    for (int i = 0; i < ids.size(); i++) {
      docs.add(Document.create("doc"));
    }
    List<DocumentDelta> deltas = new ArrayList<>();
    for (int step = 0; step < steps; step++) {
      int i = r.nextInt(ids.size());
      Document doc = docs.get(i);
      int what = r.nextInt(10);
      if (what < 6) {
        DocumentDelta delta = mutate(r, doc, ids.get(i));
        DocumentDelta decoded = CODECS.documentDelta().decode(CODECS.documentDelta().encode(delta));
        assertThat(decoded).isEqualTo(delta);
        deltas.add(decoded);
      } else if (what < 8) {
        docs.get(i).merge(deltas.isEmpty() ? DocumentDelta.empty() : pick(r, deltas));
      } else {
        Document from = docs.get(r.nextInt(ids.size()));
        DocumentDelta catchUp = from.deltaSince(doc.versionVector());
        doc.merge(CODECS.documentDelta().decode(CODECS.documentDelta().encode(catchUp)));
      }
    }
    // Everything by shuffled deltas with duplicates, into a fresh replica.
    Document byDeltas = Document.create("doc");
    List<DocumentDelta> delivered = new ArrayList<>(deltas);
    delivered.addAll(deltas.subList(0, deltas.size() / 2));
    Collections.shuffle(delivered, r);
    delivered.forEach(byDeltas::merge);
    // Every replica caught up by deltaSince from every other, twice round.
    for (int round = 0; round < 2; round++) {
      for (Document to : docs) {
        for (Document from : docs) {
          to.merge(from.deltaSince(to.versionVector()));
        }
      }
    }
    for (Document doc : docs) {
      assertThat(doc.fields()).isEqualTo(byDeltas.fields());
      assertThat(doc.context()).isEqualTo(byDeltas.context());
    }
    Document fresh = Document.create("doc");
    fresh.merge(docs.get(0).deltaSince(fresh.versionVector()));
    assertThat(fresh.fields()).isEqualTo(byDeltas.fields());
  }

  private static DocumentDelta pick(Random r, List<DocumentDelta> deltas) {
    return deltas.get(r.nextInt(deltas.size()));
  }

  private static DocumentDelta mutate(Random r, Document doc, ReplicaId me) {
    Value e = CausalArbitraries.ELEMENTS.get(r.nextInt(CausalArbitraries.ELEMENTS.size()));
    return switch (r.nextInt(7)) {
      case 0, 1 -> doc.addToSet(me, "tags", e);
      case 2 -> doc.removeFromSet(me, "tags", e);
      case 3 -> doc.writeMVRegister(me, "who", e);
      case 4 ->
          doc.updateMap(
              me,
              "cfg",
              "count",
              CrdtKind.of(PNCounter.class),
              (c, dot) -> c.add(me, r.nextInt(5) - 2));
      case 5 ->
          doc.updateMap(me, "cfg", "tags", CrdtKind.of(ORSet.class), (s, dot) -> s.add(dot, e));
      default ->
          r.nextBoolean()
              ? doc.removeFromMap(me, "cfg", r.nextBoolean() ? "count" : "tags")
              : doc.updateMap(
                  me, "cfg", "who", CrdtKind.of(MVRegister.class), (m, dot) -> m.write(dot, e));
    };
  }
}

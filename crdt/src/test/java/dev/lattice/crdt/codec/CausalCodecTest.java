package dev.lattice.crdt.codec;

import static dev.lattice.crdt.codec.Samples.A;
import static dev.lattice.crdt.codec.Samples.B;
import static dev.lattice.crdt.codec.Samples.CODECS;
import static dev.lattice.crdt.codec.Samples.bytes;
import static dev.lattice.crdt.codec.Samples.hex;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.DotRange;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.ORMap;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The wire form of the causal types (docs/ENCODING.md §4, OR-Set, MV-Register, OR-Map): exact bytes
 * of the documented examples, round trips, and refusal of hostile input.
 */
class CausalCodecTest {

  private static void assertGolden(DocumentDelta delta, String expectedHex) {
    byte[] expected = bytes(expectedHex);
    assertThat(hex(CODECS.documentDelta().encode(delta))).isEqualTo(hex(expected));
    assertThat(CODECS.documentDelta().decode(expected)).isEqualTo(delta);
  }

  @Test
  void orSetAddDeltaInCompactForm() {
    DocumentDelta delta = Document.create("d").addToSet(A, "tags", Value.of("x"));
    // [8, 1, 0x0a, 1, "tags", 10, [[0x0a, 1, 1], ["x", 0x0a, 1]]]
    assertGolden(delta, "97 08 01 0a 01 a474616773 0a 92 93 0a0101 93 a178 0a 01");
  }

  @Test
  void orSetRemoveDeltaCarriesTheDotsItObserved() {
    Document doc = Document.create("d");
    doc.merge(Document.create("d").addToSet(A, "tags", Value.of("x")));
    DocumentDelta delta = doc.removeFromSet(B, "tags", Value.of("x"));
    // [8, 1, 0x0b, 1, "tags", 10, [[0x0a, 1, 1, 0x0b, 1, 1], []]]
    assertGolden(delta, "97 08 01 0b 01 a474616773 0a 92 96 0a0101 0b0101 90");
  }

  @Test
  void mvRegisterWriteDeltaInCompactForm() {
    DocumentDelta delta = Document.create("d").writeMVRegister(A, "title", Value.of("hi"));
    // [8, 1, 0x0a, 1, "title", 11, [[0x0a, 1, 1], [0x0a, 1, "hi"]]]
    assertGolden(delta, "97 08 01 0a 01 a57469746c65 0b 92 93 0a0101 93 0a 01 a26869");
  }

  @Test
  void orMapUpdateDeltaNestsTheKeysState() {
    DocumentDelta delta =
        Document.create("d")
            .updateMap(A, "cfg", "n", CrdtKind.of(GCounter.class), (g, dot) -> g.increment(A, 2));
    // [8, 1, 0x0a, 1, "cfg", 12, [[0x0a, 1, 1], [0x0a, 1, "n", [2, {0x0a: 2}]]]]
    assertGolden(delta, "97 08 01 0a 01 a3636667 0c 92 93 0a0101 94 0a 01 a16e 92 02 810a02");
  }

  @Test
  void documentsWithCausalFieldsRoundTrip() {
    Document doc = Document.create("d");
    doc.addToSet(A, "tags", Value.of("x"));
    doc.addToSet(B, "tags", Value.of(7L));
    doc.removeFromSet(A, "tags", Value.of("x"));
    doc.writeMVRegister(A, "title", Value.of("a"));
    doc.updateMap(
        B,
        "cfg",
        "nested",
        CrdtKind.of(ORMap.class),
        (m, dot) -> m.update(dot, "tags", CrdtKind.of(ORSet.class), s -> s.add(dot, Value.of(1L))));
    doc.removeFromMap(A, "cfg", "gone");
    assertThat(CODECS.document().decode(CODECS.document().encode(doc))).isEqualTo(doc);
    DocumentDelta all = doc.deltaSince(VersionVector.empty());
    assertThat(CODECS.documentDelta().decode(CODECS.documentDelta().encode(all))).isEqualTo(all);
  }

  @Test
  void refusesMapsNestedDeeperThanMaxCrdtDepth() {
    Document doc = Document.create("d");
    doc.updateMap(
        A,
        "m",
        "k",
        CrdtKind.of(ORMap.class),
        (m, dot) -> m.update(dot, "k", CrdtKind.of(GCounter.class), g -> g.increment(A, 1)));
    CrdtCodecs shallow = CrdtCodecs.create(CodecLimits.builder().maxCrdtDepth(1).build());
    assertThatThrownBy(() -> shallow.document().encode(doc))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxCrdtDepth 1");
    byte[] encoded = CODECS.document().encode(doc);
    assertThatThrownBy(() -> shallow.document().decode(encoded))
        .isInstanceOf(CodecException.class)
        .hasMessageContaining("nested at most 1 deep (maxCrdtDepth), got one at depth 2");
    assertThat(CODECS.document().decode(encoded)).isEqualTo(doc);
  }

  @Test
  void refusesAForgedEntryCountBeforeAllocating() {
    // [8, 1, 0x0a, 1, "t", 10, [[0x0a, 1, 1], array32 of 4294967295 elements]]
    assertThatThrownBy(
            () ->
                CODECS
                    .documentDelta()
                    .decode(bytes("97 08 01 0a 01 a174 0a 92 93 0a0101 dd ffffffff")))
        .isInstanceOf(CodecException.class)
        .hasMessageContaining("array32 declaring 4294967295")
        .hasMessageContaining("3 x maxCausalEntries");
  }

  /**
   * Live entries of a causal state have their own limit, apart from value arrays: a set of a
   * million elements is stored with the defaults (issue 12). Checked at 2,000 entries against
   * limits of 2,000 and 1,999, since a million-element round trip takes half a minute on a loaded
   * machine.
   */
  @Test
  void liveEntriesAreBoundedByMaxCausalEntriesNotMaxCollectionSize() {
    assertThat(CodecLimits.defaults().maxCausalEntries())
        .isGreaterThanOrEqualTo(1_000_000)
        .isGreaterThan(CodecLimits.defaults().maxCollectionSize());
    ReplicaId writer = ReplicaId.of(0x0a);
    int n = 2_000;
    java.util.Map<Value, List<Dot>> elements = new java.util.HashMap<>();
    for (int i = 1; i <= n; i++) {
      elements.put(Value.of((long) i), List.of(new Dot(writer, i)));
    }
    DotSet context = DotSet.of(List.of(new DotRange(writer, 1, n)));
    Document doc =
        Document.restore(
            "big",
            context,
            java.util.Map.of(
                "tags",
                new FieldState(
                    ORSet.of(elements, context), VersionVector.empty().with(writer, n))));
    CodecLimits fits = CodecLimits.builder().maxCollectionSize(10).maxCausalEntries(n).build();
    byte[] encoded = CrdtCodecs.create(fits).document().encode(doc);
    assertThat(CrdtCodecs.create(fits).document().decode(encoded)).isEqualTo(doc);
    CrdtCodecs tight = CrdtCodecs.create(fits.toBuilder().maxCausalEntries(n - 1).build());
    assertThatThrownBy(() -> tight.document().encode(doc))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxCausalEntries");
    assertThatThrownBy(() -> tight.document().decode(encoded))
        .isInstanceOf(CodecException.class)
        .hasMessageContaining("maxCausalEntries");
  }

  @Test
  void refusesAnEntryWhoseDotIsNotInTheContext() {
    // [8, 1, 0x0a, 1, "t", 10, [[0x0a, 1, 1], ["x", 0x0b, 1]]]
    assertThatThrownBy(
            () ->
                CODECS
                    .documentDelta()
                    .decode(bytes("97 08 01 0a 01 a174 0a 92 93 0a0101 93 a178 0b 01")))
        .isInstanceOf(CodecException.class)
        .hasMessageContaining("not in the causal context");
  }

  @Test
  void refusesEntriesOutOfOrder() {
    // MV-Register writes 0x0a:2 then 0x0a:1
    assertThatThrownBy(
            () ->
                CODECS
                    .documentDelta()
                    .decode(bytes("97 08 01 0a 02 a174 0b 92 93 0a0102 96 0a 02 01 0a 01 02")))
        .isInstanceOf(CodecException.class)
        .hasMessageContaining("expected writes in ascending dot order");
  }

  @Test
  void refusesEntriesNotAMultipleOfTheirWidth() {
    assertThatThrownBy(
            () ->
                CODECS
                    .documentDelta()
                    .decode(bytes("97 08 01 0a 01 a174 0a 92 93 0a0101 92 a178 0a")))
        .isInstanceOf(CodecException.class)
        .hasMessageContaining("not a multiple of 3");
  }
}

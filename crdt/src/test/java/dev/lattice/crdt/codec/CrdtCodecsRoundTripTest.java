package dev.lattice.crdt.codec;

import static dev.lattice.crdt.codec.Samples.A;
import static dev.lattice.crdt.codec.Samples.ALL_ONES;
import static dev.lattice.crdt.codec.Samples.B;
import static dev.lattice.crdt.codec.Samples.CODECS;
import static dev.lattice.crdt.codec.Samples.T1;
import static dev.lattice.crdt.codec.Samples.TOP;
import static dev.lattice.crdt.codec.Samples.bytes;
import static dev.lattice.crdt.codec.Samples.hex;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.DotRange;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.LWWRegister;
import dev.lattice.crdt.PNCounter;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.msgpack.core.MessageBufferPacker;
import org.msgpack.core.MessagePack;
import org.msgpack.core.MessageUnpacker;

class CrdtCodecsRoundTripTest {

  /** Decodes to an equal value, and re-encodes to the same bytes. */
  static <T> T assertRoundTrips(Codec<T> codec, T value) {
    byte[] encoded = codec.encode(value);
    T decoded = codec.decode(encoded);
    assertThat(decoded).as("decoded %s", hex(encoded)).isEqualTo(value);
    assertThat(codec.encode(decoded)).isEqualTo(encoded);
    return decoded;
  }

  static Stream<Value> values() {
    return Samples.values().stream();
  }

  @ParameterizedTest
  @MethodSource("values")
  void valueRoundTrips(Value value) {
    assertRoundTrips(CODECS.value(), value);
  }

  @Test
  void negativeZeroStaysNegativeAndNanStaysNan() {
    Value negativeZero = assertRoundTrips(CODECS.value(), Value.of(-0.0));
    assertThat(Double.doubleToRawLongBits(((Value.FloatValue) negativeZero).value()))
        .isEqualTo(Double.doubleToRawLongBits(-0.0));
    Value nan = assertRoundTrips(CODECS.value(), Value.of(Double.NaN));
    assertThat(((Value.FloatValue) nan).value()).isNaN();
  }

  @Test
  void everyNanEncodesAsTheCanonicalNan() {
    Value otherNan = Value.of(Double.longBitsToDouble(0x7ff8_0000_0000_0001L));
    assertThat(otherNan).isEqualTo(Value.of(Double.NaN));
    assertThat(hex(CODECS.value().encode(otherNan))).isEqualTo("930101cb7ff8000000000000");
  }

  @Test
  void decodesFloat32AsTheSameDouble() {
    assertThat(CODECS.value().decode(bytes("930101ca3fc00000"))).isEqualTo(Value.of(1.5));
  }

  @Test
  void decodesAnyIntegerWidth() {
    assertThat(CODECS.value().decode(bytes("930101d30000000000000005"))).isEqualTo(Value.of(5));
    assertThat(CODECS.value().decode(bytes("930101cf7fffffffffffffff")))
        .isEqualTo(Value.of(Long.MAX_VALUE));
    assertThat(CODECS.value().decode(bytes("930101d0e0"))).isEqualTo(Value.of(-32));
  }

  @Test
  void valueNestedExactlyAtTheDepthLimitRoundTrips() {
    int limit = CodecLimits.defaults().maxDepth();
    assertRoundTrips(CODECS.value(), Samples.nested(limit, Value.nil()));
    Value deepMap = Value.nil();
    for (int i = 0; i < limit; i++) {
      deepMap = Value.map(Map.of(Value.of(i), deepMap));
    }
    assertRoundTrips(CODECS.value(), deepMap);
  }

  static Stream<GCounter> gCounters() {
    return Samples.gCounters().stream();
  }

  @ParameterizedTest
  @MethodSource("gCounters")
  void gCounterRoundTrips(GCounter counter) {
    assertRoundTrips(CODECS.gCounter(), counter);
  }

  static Stream<PNCounter> pnCounters() {
    return Samples.pnCounters().stream();
  }

  @ParameterizedTest
  @MethodSource("pnCounters")
  void pnCounterRoundTrips(PNCounter counter) {
    assertRoundTrips(CODECS.pnCounter(), counter);
  }

  static Stream<LWWRegister> registers() {
    return Samples.registers().stream();
  }

  @ParameterizedTest
  @MethodSource("registers")
  void registerRoundTrips(LWWRegister register) {
    assertRoundTrips(CODECS.lwwRegister(), register);
  }

  static Stream<VersionVector> vectors() {
    return Samples.vectors().stream();
  }

  @ParameterizedTest
  @MethodSource("vectors")
  void versionVectorRoundTrips(VersionVector vector) {
    assertRoundTrips(CODECS.versionVector(), vector);
  }

  static Stream<DotSet> dotSets() {
    return Samples.dotSets().stream();
  }

  @ParameterizedTest
  @MethodSource("dotSets")
  void dotSetRoundTrips(DotSet dots) {
    assertRoundTrips(CODECS.dotSet(), dots);
  }

  static Stream<DocumentDelta> deltas() {
    return Samples.deltas().stream();
  }

  @ParameterizedTest
  @MethodSource("deltas")
  void documentDeltaRoundTrips(DocumentDelta delta) {
    assertRoundTrips(CODECS.documentDelta(), delta);
  }

  static Stream<Document> documents() {
    return Samples.documents().stream();
  }

  @ParameterizedTest
  @MethodSource("documents")
  void documentRoundTrips(Document document) {
    Document decoded = assertRoundTrips(CODECS.document(), document);
    assertThat(decoded.versionVector()).isEqualTo(document.versionVector());
    assertThat(decoded.context()).isEqualTo(document.context());
  }

  @Test
  void localMutationsUseTheCompactFormAndRebuildTheSameDelta() {
    Document doc = Document.create("d");
    List<DocumentDelta> local =
        List.of(
            doc.incrementGCounter(TOP, "likes", 3),
            doc.addPNCounter(TOP, "stock", -2),
            doc.addPNCounter(A, "stock", 5),
            doc.setRegister(TOP, "title", Value.of("x"), T1),
            doc.setRegister(B, "title", Value.array(Value.of(1), Value.of(2)), T1));
    for (DocumentDelta delta : local) {
      byte[] encoded = CODECS.documentDelta().encode(delta);
      assertThat(encoded[1]).as(hex(encoded)).isEqualTo((byte) TypeTags.DOCUMENT_DELTA_SINGLE);
      assertRoundTrips(CODECS.documentDelta(), delta);
    }
  }

  @Test
  void aDeltaOfSeveralDotsOrFieldsUsesTheGeneralForm() {
    Document doc = Document.create("d");
    DocumentDelta one = doc.incrementGCounter(A, "a", 1);
    DocumentDelta two = doc.incrementGCounter(A, "b", 1);
    for (DocumentDelta delta : List.of(one.join(two), doc.deltaSince(VersionVector.empty()))) {
      byte[] encoded = CODECS.documentDelta().encode(delta);
      assertThat(encoded[1]).isEqualTo((byte) TypeTags.DOCUMENT_DELTA);
      assertRoundTrips(CODECS.documentDelta(), delta);
    }
  }

  @Test
  void lostRegisterRaceTravelsCompactlyAndAnotherWritersStateUsesTheGeneralForm() {
    // A replica that lost a register race: its dot B:1 and touched entry are carried, no value.
    Document doc = Document.create("d");
    doc.setRegister(A, "t", Value.of("a"), T1.successor());
    doc.merge(Document.create("d").setRegister(B, "t", Value.of("b"), T1));
    DocumentDelta lostRace = doc.deltaSince(VersionVector.of(Map.of(A, 1L)));
    assertThat(lostRace.fields().get("t").state().isEmpty()).isTrue();
    assertThat(CODECS.documentDelta().encode(lostRace)[1])
        .isEqualTo((byte) TypeTags.DOCUMENT_DELTA_SINGLE);
    assertRoundTrips(CODECS.documentDelta(), lostRace);
    // One dot of B, but the register's state is A's write: not expressible compactly.
    DocumentDelta othersState =
        DocumentDelta.of(
            DotSet.of(new Dot(B, 1)),
            Map.of(
                "t",
                new FieldState(
                    LWWRegister.of(Value.of("a"), T1, A), VersionVector.of(Map.of(B, 1L)))));
    assertThat(othersState.context().singleDot()).isPresent();
    assertThat(CODECS.documentDelta().encode(othersState)[1])
        .isEqualTo((byte) TypeTags.DOCUMENT_DELTA);
    assertRoundTrips(CODECS.documentDelta(), othersState);
  }

  @Test
  void replicaIdsWithTheTopBitSetRoundTripEverywhere() {
    for (ReplicaId replica :
        List.of(TOP, ALL_ONES, ReplicaId.of(Long.MIN_VALUE), ReplicaId.of(0x8000000000000001L))) {
      Document doc = Document.create("d");
      assertRoundTrips(CODECS.documentDelta(), doc.incrementGCounter(replica, "n", 1));
      assertRoundTrips(CODECS.documentDelta(), doc.setRegister(replica, "r", Value.of(1), T1));
      assertRoundTrips(CODECS.document(), doc);
      assertRoundTrips(CODECS.gCounter(), GCounter.of(Map.of(replica, 1L, A, 2L)));
    }
  }

  @Test
  void aMillionFieldDocumentRoundTrips() {
    Document doc = Document.create("big");
    for (int i = 0; i < 1_000_000; i++) {
      doc.incrementGCounter(i % 2 == 0 ? A : TOP, "field-" + i, i + 1);
    }
    byte[] encoded = CODECS.document().encode(doc);
    Document decoded = CODECS.document().decode(encoded);
    assertThat(decoded.fieldCount()).isEqualTo(1_000_000);
    assertThat(decoded).isEqualTo(doc);
    assertThat(decoded.counterValue("field-999999")).isEqualTo(1_000_000);
  }

  // ---------------------------------------------------------------- determinism

  @Test
  void equalMapValuesBuiltInDifferentOrdersEncodeIdentically() {
    List<Value> keys = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      keys.add(i % 3 == 0 ? Value.of(i) : Value.of("k" + i));
    }
    Map<Value, Value> forward = new LinkedHashMap<>();
    keys.forEach(k -> forward.put(k, Value.of(k.hashCode())));
    List<Value> shuffled = new ArrayList<>(keys);
    Collections.shuffle(shuffled, new Random(42));
    Map<Value, Value> backward = new HashMap<>();
    shuffled.forEach(k -> backward.put(k, Value.of(k.hashCode())));

    assertThat(CODECS.value().encode(Value.map(forward)))
        .isEqualTo(CODECS.value().encode(Value.map(backward)));
  }

  @Test
  void gCountersMergedInDifferentOrdersEncodeIdentically() {
    GCounter a = GCounter.of(Map.of(A, 3L));
    GCounter b = GCounter.of(Map.of(TOP, 5L, B, 1L));
    GCounter c = GCounter.of(Map.of(A, 7L, ALL_ONES, 2L));
    byte[] abc = CODECS.gCounter().encode(a.merge(b).merge(c));
    assertThat(CODECS.gCounter().encode(c.merge(b).merge(a))).isEqualTo(abc);
    assertThat(CODECS.gCounter().encode(b.merge(c.merge(a)))).isEqualTo(abc);
  }

  @Test
  void documentsMergedInDifferentOrdersEncodeIdentically() {
    Document source = Document.create("d");
    List<DocumentDelta> deltas =
        List.of(
            source.incrementGCounter(A, "n", 1),
            source.setRegister(TOP, "title", Value.of("x"), T1),
            source.incrementGCounter(B, "n", 4),
            source.addPNCounter(ALL_ONES, "p", -2),
            source.incrementGCounter(TOP, "z", 9));
    Document forward = Document.create("d");
    deltas.forEach(forward::merge);
    Document backward = Document.create("d");
    for (int i = deltas.size() - 1; i >= 0; i--) {
      backward.merge(deltas.get(i));
    }
    byte[] expected = CODECS.document().encode(source);
    assertThat(CODECS.document().encode(forward)).isEqualTo(expected);
    assertThat(CODECS.document().encode(backward)).isEqualTo(expected);
    assertThat(CODECS.documentDelta().encode(backward.deltaSince(VersionVector.empty())))
        .isEqualTo(CODECS.documentDelta().encode(source.deltaSince(VersionVector.empty())));
  }

  @Test
  void dotSetsBuiltFromRangesInAnyOrderEncodeIdentically() {
    List<DotRange> ranges =
        new ArrayList<>(
            List.of(
                new DotRange(A, 1, 3),
                new DotRange(A, 4, 6),
                new DotRange(A, 9, 9),
                new DotRange(TOP, 2, 2),
                new DotRange(ALL_ONES, 1, 1),
                new DotRange(A, 2, 5)));
    byte[] expected = CODECS.dotSet().encode(DotSet.of(ranges));
    Collections.reverse(ranges);
    assertThat(CODECS.dotSet().encode(DotSet.of(ranges))).isEqualTo(expected);
    assertThat(hex(expected))
        .isEqualTo("930601" + "9c" + "0a0106" + "0a0909" + "d3f123456789abcdef0202" + "ff0101");
  }

  // ---------------------------------------------------------------- embedding

  @Test
  void payloadsEmbedInALargerMessage() throws IOException {
    Document doc = Document.create("d");
    DocumentDelta delta = doc.incrementGCounter(TOP, "likes", 2);
    DocumentDelta general = doc.deltaSince(VersionVector.empty()).join(delta);
    MessageBufferPacker out = MessagePack.newDefaultBufferPacker();
    out.packArrayHeader(6);
    out.packString("update");
    CODECS.documentDelta().write(out, delta);
    CODECS.versionVector().write(out, doc.versionVector());
    CODECS.documentDelta().write(out, general);
    CODECS.document().write(out, doc);
    out.packInt(42);
    byte[] message = out.toByteArray();

    MessageUnpacker in = MessagePack.newDefaultUnpacker(message);
    assertThat(in.unpackArrayHeader()).isEqualTo(6);
    assertThat(in.unpackString()).isEqualTo("update");
    assertThat(CODECS.documentDelta().read(in)).isEqualTo(delta);
    assertThat(CODECS.versionVector().read(in)).isEqualTo(doc.versionVector());
    assertThat(CODECS.documentDelta().read(in)).isEqualTo(general);
    assertThat(CODECS.document().read(in)).isEqualTo(doc);
    assertThat(in.unpackInt()).isEqualTo(42);
    assertThat(in.hasNext()).isFalse();
  }

  @Test
  void customLimitsGiveTheirOwnCodecs() {
    CodecLimits small = CodecLimits.builder().maxFields(10).build();
    assertThat(CrdtCodecs.create(small).limits()).isEqualTo(small);
    assertThat(CrdtCodecs.create(CodecLimits.builder().build())).isSameAs(CrdtCodecs.defaults());
  }
}

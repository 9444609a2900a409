package dev.lattice.crdt.codec;

import static dev.lattice.crdt.codec.Samples.A;
import static dev.lattice.crdt.codec.Samples.ALL_ONES;
import static dev.lattice.crdt.codec.Samples.CODECS;
import static dev.lattice.crdt.codec.Samples.T1;
import static dev.lattice.crdt.codec.Samples.bytes;
import static dev.lattice.crdt.codec.Samples.hex;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.DotRange;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.LWWRegister;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Exact bytes of a few payloads: the examples of docs/ENCODING.md. */
class GoldenBytesTest {

  private static final ReplicaId R = ReplicaId.of(0xa1b2c3d4e5f60718L);

  private static <T> void assertGolden(Codec<T> codec, T value, String expectedHex) {
    byte[] expected = bytes(expectedHex);
    assertThat(hex(codec.encode(value))).isEqualTo(hex(expected));
    assertThat(codec.decode(expected)).isEqualTo(value);
  }

  @Test
  void gCounterIncrementDeltaInCompactForm() {
    DocumentDelta delta = Document.create("d").incrementGCounter(R, "likes", 1);
    // [8, 1, R, 1, "likes", 2, 1]
    assertGolden(
        CODECS.documentDelta(), delta, "97 08 01 d3a1b2c3d4e5f60718 01 a56c696b6573 02 01");
  }

  @Test
  void registerWriteDeltaInCompactForm() {
    DocumentDelta delta = Document.create("d").setRegister(R, "title", Value.of("hi"), T1);
    // [8, 1, R, 1, "title", 4, ["hi", T1]]
    assertGolden(
        CODECS.documentDelta(),
        delta,
        "97 08 01 d3a1b2c3d4e5f60718 01 a57469746c65 04 92 a26869 cf018bcfe568000003");
  }

  @Test
  void pnCounterDecrementDeltaInCompactForm() {
    DocumentDelta delta = Document.create("d").addPNCounter(A, "stock", -3);
    // [8, 1, 0x0a, 1, "stock", 3, [0, 3]]
    assertGolden(CODECS.documentDelta(), delta, "97 08 01 0a 01 a573746f636b 03 92 00 03");
  }

  @Test
  void generalDeltaAndDocument() {
    Document doc = Document.create("d");
    doc.incrementGCounter(A, "a", 1);
    doc.incrementGCounter(A, "b", 2);
    String dots = "93 0a 01 02"; // [0x0a, 1, 2]
    String fields =
        "82" // {
            + " a161 93 02 810a01 810a01" // "a": [2, {0x0a: 1}, {0x0a: 1}],
            + " a162 93 02 810a02 810a02"; // "b": [2, {0x0a: 2}, {0x0a: 2}]}
    assertGolden(
        CODECS.documentDelta(), doc.deltaSince(VersionVector.empty()), "94 07 01 " + dots + fields);
    assertThat(hex(CODECS.document().encode(doc)))
        .isEqualTo(hex(bytes("95 09 01 a164 " + dots + fields)));
    assertThat(CODECS.document().decode(bytes("95 09 01 a164 " + dots + fields))).isEqualTo(doc);
  }

  @Test
  void counterDeltasCarryTheRunningTotal() {
    Document doc = Document.create("d");
    doc.incrementGCounter(A, "g", 1);
    doc.incrementGCounter(A, "g", 1);
    // The third +1 carries A's total, 3, not the amount added.
    assertGolden(
        CODECS.documentDelta(), doc.incrementGCounter(A, "g", 1), "97 08 01 0a 03 a167 02 03");
    Document other = Document.create("d");
    other.incrementGCounter(A, "g", 1);
    other.incrementGCounter(A, "g", 1);
    other.merge(CODECS.documentDelta().decode(bytes("97 08 01 0a 03 a167 02 03")));
    assertThat(other.counterValue("g")).isEqualTo(3);

    Document pn = Document.create("d");
    // Each delta carries the running total of the half it changes; the other half is empty.
    assertGolden(
        CODECS.documentDelta(),
        pn.addPNCounter(A, "stock", 5),
        "97 08 01 0a 01 a573746f636b 03 92 05 00");
    assertGolden(
        CODECS.documentDelta(),
        pn.addPNCounter(A, "stock", -3),
        "97 08 01 0a 02 a573746f636b 03 92 00 03");
    assertThat(pn.counterValue("stock")).isEqualTo(2);
  }

  @Test
  void deltaSinceSendsOnlyWhatTheVectorLacks() {
    Document doc = Document.create("d");
    doc.incrementGCounter(A, "a", 1);
    doc.incrementGCounter(A, "b", 2);
    assertGolden(
        CODECS.documentDelta(),
        doc.deltaSince(VersionVector.empty().with(A, 1)),
        "97 08 01 0a 02 a162 02 02");
  }

  @Test
  void decodersAcceptNonShortestIntegers() {
    DocumentDelta wide =
        CODECS
            .documentDelta()
            .decode(bytes("97 08 01 cf000000000000000a cd0001 a167 02 d30000000000000001"));
    assertThat(hex(CODECS.documentDelta().encode(wide)))
        .isEqualTo(hex(bytes("97 08 01 0a 01 a167 02 01")));
    assertThat(wide).isEqualTo(Document.create("d").incrementGCounter(A, "g", 1));
  }

  @Test
  void anExactRegisterTieGoesToTheGreaterValue() {
    LWWRegister a = LWWRegister.of(Value.of("a"), T1, A);
    LWWRegister b = LWWRegister.of(Value.of("b"), T1, A);
    assertThat(a.merge(b).value()).contains(Value.of("b"));
    assertThat(b.merge(a).value()).contains(Value.of("b"));
  }

  @Test
  void registerStandalone() {
    // [4, 1, "hi", T1, 0x42]
    assertGolden(
        CODECS.lwwRegister(),
        LWWRegister.of(Value.of("hi"), T1, ReplicaId.of(0x42)),
        "95 04 01 a26869 cf018bcfe568000003 42");
    assertGolden(CODECS.lwwRegister(), LWWRegister.empty(), "92 04 01");
  }

  @Test
  void versionVector() {
    // [5, 1, {0x0a: 5, 0xffffffffffffffff: 7}]: the replica with every bit set is the int -1.
    assertGolden(
        CODECS.versionVector(),
        VersionVector.of(Map.of(A, 5L, ALL_ONES, 7L)),
        "93 05 01 82 0a05 ff07");
  }

  @Test
  void countersAndDotSet() {
    assertGolden(CODECS.gCounter(), GCounter.of(Map.of(A, 300L)), "93 02 01 81 0a cd012c");
    assertGolden(CODECS.gCounter(), GCounter.empty(), "93 02 01 80");
    assertGolden(
        CODECS.pnCounter(),
        dev.lattice.crdt.PNCounter.of(GCounter.of(Map.of(A, 3L)), GCounter.of(Map.of(R, 1L))),
        "94 03 01 81 0a03 81 d3a1b2c3d4e5f60718 01");
    assertGolden(
        CODECS.dotSet(),
        DotSet.of(List.of(new DotRange(A, 1, 4), new DotRange(A, 7, 7))),
        "93 06 01 96 0a0104 0a0707");
  }

  @Test
  void value() {
    Value v =
        Value.map(
            Map.of(
                Value.of("a"),
                Value.array(
                    Value.of(1),
                    Value.of(2.5),
                    Value.nil(),
                    Value.of(true),
                    Value.of(new byte[] {1, 2}))));
    // [1, 1, {"a": [1, 2.5, nil, true, bin 0102]}]
    assertGolden(CODECS.value(), v, "93 01 01 81 a161 95 01 cb4004000000000000 c0 c3 c40201 02");
  }

  @Test
  void incrementDeltaFitsIn24BytesPlusTheFieldName() {
    ReplicaId topBit = ReplicaId.of(0x8765432187654321L);
    long maxSequence = 4_294_967_295L; // 2^32 - 1
    String name = "visits";
    Document doc =
        Document.restore(
            "d", DotSet.of(List.of(new DotRange(topBit, 1, maxSequence - 1))), Map.of());
    DocumentDelta delta = doc.incrementGCounter(topBit, name, maxSequence);
    assertThat(delta.context().singleDot().orElseThrow().sequence()).isEqualTo(maxSequence);
    assertThat(((GCounter) delta.fields().get(name).state()).countOf(topBit))
        .isEqualTo(maxSequence);

    byte[] encoded = CODECS.documentDelta().encode(delta);

    int bound = 24 + name.getBytes(StandardCharsets.UTF_8).length;
    assertThat(encoded.length).as(hex(encoded)).isLessThanOrEqualTo(bound).isEqualTo(bound);
    assertThat(CODECS.documentDelta().decode(encoded)).isEqualTo(delta);
  }

  @Test
  void compactFormIsNeverLargerThanTheGeneralForm() {
    DocumentDelta delta = Document.create("d").incrementGCounter(R, "likes", 1);
    FieldState field = delta.fields().get("likes");
    int compact = CODECS.documentDelta().encode(delta).length;
    // The same content in the general form, as a client that ignored tag 8 would write it.
    int general =
        bytes(
                "94 07 01 93 d3a1b2c3d4e5f60718 01 01 81 a56c696b6573 93 02"
                    + " 81 d3a1b2c3d4e5f60718 01 81 d3a1b2c3d4e5f60718 01")
            .length;
    assertThat(field.touched().entries()).containsExactly(Map.entry(R, 1L));
    assertThat(compact).isLessThan(general);
  }
}

package dev.lattice.crdt.codec;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.DotRange;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.LWWRegister;
import dev.lattice.crdt.PNCounter;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HlcTimestamp;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Values of every type, edge cases included, shared by the codec tests. */
final class Samples {

  static final CrdtCodecs CODECS = CrdtCodecs.defaults();

  static final ReplicaId A = ReplicaId.of(0xA);
  static final ReplicaId B = ReplicaId.of(0xB);
  static final ReplicaId ZERO = ReplicaId.of(0);

  /** Top bit set: encodes as a negative int64. */
  static final ReplicaId TOP = ReplicaId.of(0xF123456789ABCDEFL);

  /** All bits set: encodes as the negative fixint -1. */
  static final ReplicaId ALL_ONES = ReplicaId.of(-1L);

  static final ReplicaId MIN = ReplicaId.of(Long.MIN_VALUE);
  static final ReplicaId MAX = ReplicaId.of(Long.MAX_VALUE);

  static final HlcTimestamp T1 = HlcTimestamp.of(1_700_000_000_000L, 3);
  static final HlcTimestamp T_MAX = HlcTimestamp.fromLong(Long.MAX_VALUE);

  private Samples() {}

  static String hex(byte[] bytes) {
    return HexFormat.of().formatHex(bytes);
  }

  static byte[] bytes(String hex) {
    return HexFormat.of().parseHex(hex.replace(" ", ""));
  }

  static Value nested(int depth, Value innermost) {
    Value v = innermost;
    for (int i = 0; i < depth; i++) {
      v = Value.array(v);
    }
    return v;
  }

  static List<Value> values() {
    Map<Value, Value> mixedKeys = new LinkedHashMap<>();
    mixedKeys.put(Value.of("b"), Value.of(2));
    mixedKeys.put(Value.of(1), Value.nil());
    mixedKeys.put(Value.nil(), Value.of(true));
    mixedKeys.put(Value.array(Value.of(1)), Value.map(Map.of(Value.of("x"), Value.of(1.5))));
    mixedKeys.put(Value.of(new byte[] {1, 2}), Value.of(-7));
    byte[] allBytes = new byte[256];
    for (int i = 0; i < 256; i++) {
      allBytes[i] = (byte) i;
    }
    return List.of(
        Value.nil(),
        Value.of(true),
        Value.of(false),
        Value.of(0),
        Value.of(-1),
        Value.of(-32),
        Value.of(-33),
        Value.of(127),
        Value.of(128),
        Value.of(65_536),
        Value.of(4_294_967_296L),
        Value.of(Long.MIN_VALUE),
        Value.of(Long.MAX_VALUE),
        Value.of(0.0),
        Value.of(-0.0),
        Value.of(Double.NaN),
        Value.of(Double.POSITIVE_INFINITY),
        Value.of(Double.NEGATIVE_INFINITY),
        Value.of(Double.MIN_VALUE),
        Value.of(Math.PI),
        Value.of(""),
        Value.of("hello"),
        Value.of("héllo wörld ✓ 日本語 😀 𝄞"),
        Value.of("x".repeat(300)),
        Value.of("\u0000"),
        Value.of(new byte[0]),
        Value.of(allBytes),
        Value.of(new byte[70_000]),
        Value.array(),
        Value.array(Value.of(1), Value.of("two"), Value.nil(), Value.array(Value.of(3.0))),
        Value.map(Map.of()),
        Value.map(mixedKeys),
        nested(32, Value.of("deep")),
        nested(31, Value.map(Map.of(Value.of("k"), Value.of("v")))));
  }

  static List<GCounter> gCounters() {
    Map<ReplicaId, Long> many = new LinkedHashMap<>();
    for (int i = 0; i < 1000; i++) {
      many.put(ReplicaId.of(i * 0x9E3779B97F4A7C15L), (long) i + 1);
    }
    return List.of(
        GCounter.empty(),
        GCounter.of(Map.of(A, 1L)),
        GCounter.of(Map.of(A, 3L, B, 4L, TOP, 5L, ALL_ONES, Long.MAX_VALUE, ZERO, 1L)),
        GCounter.of(Map.of(MIN, 1L, MAX, 2L)),
        GCounter.of(many));
  }

  static List<PNCounter> pnCounters() {
    return List.of(
        PNCounter.empty(),
        PNCounter.of(GCounter.of(Map.of(A, 3L)), GCounter.empty()),
        PNCounter.of(GCounter.empty(), GCounter.of(Map.of(TOP, Long.MAX_VALUE))),
        PNCounter.of(GCounter.of(Map.of(A, 3L, TOP, 9L)), GCounter.of(Map.of(B, 1L, TOP, 2L))));
  }

  static List<LWWRegister> registers() {
    List<LWWRegister> out = new ArrayList<>();
    out.add(LWWRegister.empty());
    out.add(LWWRegister.of(Value.of("hi"), T1, A));
    out.add(LWWRegister.of(Value.nil(), HlcTimestamp.ZERO, ZERO));
    out.add(LWWRegister.of(nested(32, Value.of(1)), T_MAX, ALL_ONES));
    out.add(LWWRegister.of(Value.of(-0.0), T1, TOP));
    return out;
  }

  static List<VersionVector> vectors() {
    return List.of(
        VersionVector.empty(),
        VersionVector.of(Map.of(A, 1L)),
        VersionVector.of(Map.of(A, 5L, TOP, Long.MAX_VALUE, ALL_ONES, 7L, MIN, 4_294_967_295L)));
  }

  static List<DotSet> dotSets() {
    return List.of(
        DotSet.empty(),
        DotSet.of(List.of(new DotRange(A, 1, 1))),
        DotSet.of(
            List.of(
                new DotRange(A, 1, 10),
                new DotRange(A, 12, 12),
                new DotRange(A, 20, Long.MAX_VALUE),
                new DotRange(TOP, 3, 4),
                new DotRange(ALL_ONES, 1, 4_294_967_295L),
                new DotRange(ZERO, 7, 7))));
  }

  /** Deltas of every shape: each compact kind, general forms, empty. */
  static List<DocumentDelta> deltas() {
    Document doc = Document.create("d");
    List<DocumentDelta> out = new ArrayList<>();
    out.add(DocumentDelta.empty());
    out.add(doc.incrementGCounter(A, "likes", 1));
    out.add(doc.incrementGCounter(TOP, "likes", 4_294_967_295L));
    out.add(doc.addPNCounter(A, "stock", -3));
    out.add(doc.addPNCounter(A, "stock", 10));
    out.add(doc.setRegister(TOP, "title", Value.of("Hello ✓"), T1));
    out.add(doc.setRegister(B, "meta", Value.map(Map.of(Value.of("k"), Value.of(1))), T1));
    out.add(doc.incrementGCounter(ALL_ONES, "ünïcødé 名前", 0));
    out.add(doc.deltaSince(VersionVector.empty()));
    out.add(doc.deltaSince(VersionVector.of(Map.of(A, 1L))));
    out.add(out.get(1).join(out.get(3)));
    Document other = Document.create("d");
    other.merge(out.get(2));
    out.add(other.deltaSince(VersionVector.empty()));
    out.add(DocumentDelta.of(DotSet.of(List.of(new DotRange(A, 1, 5))), Map.of()));
    return out;
  }

  static List<Document> documents() {
    Document empty = Document.create("");
    Document doc = Document.create("doc-✓-1");
    doc.incrementGCounter(A, "likes", 5);
    doc.incrementGCounter(TOP, "likes", 7);
    doc.addPNCounter(B, "stock", -4);
    doc.addPNCounter(A, "stock", 9);
    doc.setRegister(ALL_ONES, "title", Value.of("T"), T1);
    doc.setRegister(A, "empty-map", Value.map(Map.of()), T1);
    // A replica with a gap: holds A's dots 1 and 3, not 2.
    Document source = Document.create("gappy");
    DocumentDelta one = source.incrementGCounter(A, "n", 1);
    source.incrementGCounter(A, "n", 1);
    DocumentDelta three = source.setRegister(A, "r", Value.of(3), T1);
    Document gappy = Document.create("gappy");
    gappy.merge(one);
    gappy.merge(three);
    return List.of(empty, doc, gappy);
  }

  /** One valid payload of every sample, with the codec that reads it. */
  static List<Map.Entry<Codec<?>, byte[]>> payloads() {
    List<Map.Entry<Codec<?>, byte[]>> out = new ArrayList<>();
    values().forEach(v -> out.add(Map.entry(CODECS.value(), CODECS.value().encode(v))));
    gCounters().forEach(v -> out.add(Map.entry(CODECS.gCounter(), CODECS.gCounter().encode(v))));
    pnCounters().forEach(v -> out.add(Map.entry(CODECS.pnCounter(), CODECS.pnCounter().encode(v))));
    registers()
        .forEach(v -> out.add(Map.entry(CODECS.lwwRegister(), CODECS.lwwRegister().encode(v))));
    vectors()
        .forEach(v -> out.add(Map.entry(CODECS.versionVector(), CODECS.versionVector().encode(v))));
    dotSets().forEach(v -> out.add(Map.entry(CODECS.dotSet(), CODECS.dotSet().encode(v))));
    deltas()
        .forEach(v -> out.add(Map.entry(CODECS.documentDelta(), CODECS.documentDelta().encode(v))));
    documents().forEach(v -> out.add(Map.entry(CODECS.document(), CODECS.document().encode(v))));
    return out;
  }
}

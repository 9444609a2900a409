package dev.lattice.crdt.codec;

import static dev.lattice.crdt.codec.Samples.A;
import static dev.lattice.crdt.codec.Samples.ALL_ONES;
import static dev.lattice.crdt.codec.Samples.B;
import static dev.lattice.crdt.codec.Samples.CODECS;
import static dev.lattice.crdt.codec.Samples.bytes;
import static dev.lattice.crdt.codec.Samples.hex;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.DotRange;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import java.io.ByteArrayInputStream;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.msgpack.core.MessagePack;
import org.msgpack.core.MessageUnpacker;

class HostileInputTest {

  private static AbstractThrowableAssert<?, ? extends Throwable> assertRejects(
      Codec<?> codec, String hexInput) {
    return assertThatThrownBy(() -> codec.decode(bytes(hexInput)))
        .isExactlyInstanceOf(CodecException.class);
  }

  // ---------------------------------------------------------------- forged lengths

  @Test
  void rejectsForgedCollectionAndStringLengthsBeforeAllocating() {
    assertRejects(CODECS.value(), "930101 dd ffffffff")
        .hasMessageContaining("array32 declaring 4294967295")
        .hasMessageContaining("maxCollectionSize");
    assertRejects(CODECS.value(), "930101 df 7fffffff")
        .hasMessageContaining("map32 declaring 2147483647");
    assertRejects(CODECS.value(), "930101 db ffffffff")
        .hasMessageContaining("str32 declaring 4294967295")
        .hasMessageContaining("maxStringBytes");
    assertRejects(CODECS.value(), "930101 c6 ffffffff")
        .hasMessageContaining("bin32 declaring 4294967295")
        .hasMessageContaining("maxBinaryBytes");
    assertRejects(CODECS.gCounter(), "930201 df ffffffff").hasMessageContaining("maxReplicas");
    assertRejects(CODECS.dotSet(), "930601 dd ffffffff").hasMessageContaining("maxDotRanges");
    assertRejects(CODECS.document(), "950901 db 7fffffff").hasMessageContaining("Document.id");
    assertRejects(CODECS.documentDelta(), "dd ffffffff").hasMessageContaining("array32");
  }

  @Test
  void rejectionNamesTheFieldTheLimitAndWhatArrived() {
    assertRejects(CODECS.documentDelta(), "940701 90 df 7fffffff")
        .hasMessage(
            "DocumentDelta.fields: expected a map of fields of at most 1048576 entries (maxFields),"
                + " got map32 declaring 2147483647 at byte 4");
  }

  @Test
  void rejectsLengthsWithinTheLimitsThatTheRemainingBytesCannotHold() {
    assertRejects(CODECS.value(), "930101 dc ffff")
        .hasMessageContaining("array16 declaring 65535 elements but only 0 bytes remain");
    assertRejects(CODECS.value(), "930101 da 0100 616263")
        .hasMessageContaining("str16 declaring 256 bytes but only 3 bytes remain");
    assertRejects(CODECS.documentDelta(), "940701 90 de 0100 a161")
        .hasMessageContaining("map16 declaring 256 entries but only 2 bytes remain");
  }

  @Test
  void rejectsDeepNestingWithoutOverflowingTheStack() {
    byte[] deep = new byte[3 + 100_000 + 1];
    deep[0] = (byte) 0x93;
    deep[1] = 0x01;
    deep[2] = 0x01;
    Arrays.fill(deep, 3, 3 + 100_000, (byte) 0x91);
    deep[deep.length - 1] = (byte) 0xc0;
    assertThatThrownBy(() -> CODECS.value().decode(deep))
        .isExactlyInstanceOf(CodecException.class)
        .hasMessageContaining("maxDepth");
    CrdtCodecs deepest =
        CrdtCodecs.create(CodecLimits.builder().maxDepth(CodecLimits.MAX_DEPTH_CEILING).build());
    assertThatThrownBy(() -> deepest.value().decode(deep))
        .isExactlyInstanceOf(CodecException.class)
        .hasMessageContaining("maxDepth");
    // Nested maps inside a register inside a delta.
    StringBuilder maps = new StringBuilder("97 08 01 0a 01 a174 04 92");
    maps.append(" 81c0".repeat(50_000)).append(" c0 00");
    assertRejects(CODECS.documentDelta(), maps.toString()).hasMessageContaining("maxDepth");
  }

  @Test
  void rejectsEveryTruncationOfEveryValidPayload() {
    for (Map.Entry<Codec<?>, byte[]> sample : Samples.payloads()) {
      byte[] payload = sample.getValue();
      if (payload.length > 4096) {
        continue;
      }
      for (int length = 0; length < payload.length; length++) {
        byte[] prefix = Arrays.copyOf(payload, length);
        try {
          sample.getKey().decode(prefix);
          fail("decoded the truncated payload " + hex(prefix) + " of " + hex(payload));
        } catch (CodecException expected) {
          // the only acceptable outcome
        }
      }
    }
  }

  @Test
  void truncatedStreamIsACodecExceptionToo() {
    byte[] payload = CODECS.document().encode(Samples.documents().get(1));
    byte[] cut = Arrays.copyOf(payload, payload.length - 3);
    MessageUnpacker stream = MessagePack.newDefaultUnpacker(new ByteArrayInputStream(cut));
    assertThatThrownBy(() -> CODECS.document().read(stream))
        .isExactlyInstanceOf(CodecException.class)
        .hasMessageContaining("Document");
  }

  // ---------------------------------------------------------------- framing

  @Test
  void rejectsWrongTagsAndVersions() {
    assertRejects(CODECS.pnCounter(), "930201 80")
        .hasMessageContaining("expected type tag 3 (PN_COUNTER), got 2 (G_COUNTER)");
    assertRejects(CODECS.documentDelta(), "950901 a164 90 80")
        .hasMessageContaining(
            "expected type tag 7 (DOCUMENT_DELTA) or 8 (DOCUMENT_DELTA_SINGLE), got 9 (DOCUMENT)");
    assertRejects(CODECS.value(), "93 63 01 c0").hasMessageContaining("got 99 (unknown)");
    assertRejects(CODECS.gCounter(), "930202 80")
        .hasMessageContaining("expected format version 1 of G_COUNTER, got unsupported version 2");
    assertRejects(CODECS.gCounter(), "93 c0 01 80").hasMessageContaining("got nil");
    assertRejects(CODECS.gCounter(), "a3 666f6f").hasMessageContaining("got fixstr");
    assertRejects(CODECS.gCounter(), "91 02").hasMessageContaining("array of 1 elements");
    assertRejects(CODECS.gCounter(), "940201 80 80")
        .hasMessageContaining("[2, 1, counts], got an array of 4 elements");
    assertRejects(CODECS.lwwRegister(), "940401 c0 00")
        .hasMessageContaining("[4, 1] or [4, 1, value, timestamp, writer], got an array of 4");
    assertRejects(CODECS.value(), "").hasMessageContaining("end of the input");
  }

  @Test
  void rejectsTrailingBytes() {
    assertRejects(CODECS.gCounter(), "930201 80 00")
        .hasMessageContaining("1 trailing bytes after it at byte 4");
  }

  // ---------------------------------------------------------------- values

  @Test
  void rejectsExtensionTypesAndTheNeverUsedByte() {
    assertRejects(CODECS.value(), "930101 d4 01 00").hasMessageContaining("extension types");
    assertRejects(CODECS.value(), "930101 c7 01 05 00").hasMessageContaining("ext8");
    assertRejects(CODECS.value(), "930101 d6 ff 00000000").hasMessageContaining("fixext4");
    assertRejects(CODECS.value(), "930101 c1").hasMessageContaining("never-used");
  }

  @Test
  void rejectsIntegersPastSignedSixtyFourBits() {
    assertRejects(CODECS.value(), "930101 cf ffffffffffffffff")
        .hasMessageContaining("uint64 18446744073709551615");
    assertRejects(CODECS.value(), "930101 cf 8000000000000000")
        .hasMessageContaining("past the signed 64-bit range");
    assertRejects(CODECS.gCounter(), "930201 81 0a cf ffffffffffffffff")
        .hasMessageContaining("uint64");
  }

  @Test
  void acceptsReplicaIdsWrittenAsUint64() {
    assertThat(CODECS.gCounter().decode(bytes("930201 81 cf ffffffffffffffff 01")))
        .isEqualTo(GCounter.of(Map.of(ALL_ONES, 1L)));
    assertThat(CODECS.gCounter().decode(bytes("930201 81 cf 8000000000000000 01")))
        .isEqualTo(GCounter.of(Map.of(ReplicaId.of(Long.MIN_VALUE), 1L)));
  }

  @Test
  void reportsMalformedUtf8InsteadOfReplacingIt() {
    for (String bad :
        List.of("a2 c328", "a2 c0af", "a3 eda080", "a1 e2", "a4 f4908080", "a1 80", "a1 ff")) {
      assertRejects(CODECS.value(), "930101 " + bad)
          .hasMessageContaining("malformed from string offset");
    }
    assertRejects(CODECS.documentDelta(), "97 08 01 0a 01 a2 c328 02 01")
        .hasMessageContaining("DocumentDelta.name");
    assertThat(CODECS.value().decode(bytes("930101 a4 f09d849e"))).isEqualTo(Value.of("𝄞"));
  }

  @Test
  void rejectsDuplicateMapKeysButAcceptsAnyKeyOrderInValues() {
    assertRejects(CODECS.value(), "930101 82 a161 01 a161 02").hasMessageContaining("twice");
    assertThat(CODECS.value().decode(bytes("930101 82 a162 01 a161 02")))
        .isEqualTo(Value.map(Map.of(Value.of("a"), Value.of(2), Value.of("b"), Value.of(1))));
  }

  // ---------------------------------------------------------------- CRDT invariants

  @Test
  void rejectsZeroAndNegativeCountsAndSequences() {
    assertRejects(CODECS.gCounter(), "930201 81 0a 00").hasMessageContaining("at least 1), got 0");
    assertRejects(CODECS.gCounter(), "930201 81 0a fb").hasMessageContaining("got -5");
    assertRejects(CODECS.pnCounter(), "940301 80 81 0a 00").hasMessageContaining("decrements");
    assertRejects(CODECS.versionVector(), "930501 81 0a 00").hasMessageContaining("got 0");
    assertRejects(CODECS.dotSet(), "930601 93 0a 00 01").hasMessageContaining("got 0");
    assertRejects(CODECS.dotSet(), "930601 93 0a 05 04").hasMessageContaining(">= first 5");
    assertRejects(CODECS.dotSet(), "930601 92 0a 01").hasMessageContaining("multiple of 3");
    assertRejects(CODECS.documentDelta(), "97 08 01 0a 01 a16e 02 ff")
        .hasMessageContaining("got -1");
    assertRejects(CODECS.documentDelta(), "97 08 01 0a 00 a16e 02 01")
        .hasMessageContaining("DocumentDelta.sequence");
    assertRejects(CODECS.lwwRegister(), "950401 c0 ff 0a")
        .hasMessageContaining("packed HLC timestamp (at least 0), got -1");
  }

  @Test
  void rejectsDuplicateAndUnorderedKeys() {
    assertRejects(CODECS.gCounter(), "930201 82 0a01 0a02").hasMessageContaining("twice");
    assertRejects(CODECS.gCounter(), "930201 82 0b01 0a02").hasMessageContaining("ascending");
    // -1 is the largest replica id: after it nothing may follow.
    assertRejects(CODECS.versionVector(), "930501 82 ff01 0a02").hasMessageContaining("ascending");
    String field = " 93 02 810a01 810a01";
    assertRejects(CODECS.documentDelta(), "940701 93 0a0102 82 a161" + field + " a161" + field)
        .hasMessageContaining("distinct field names");
    assertRejects(CODECS.documentDelta(), "940701 93 0a0102 82 a162" + field + " a161" + field)
        .hasMessageContaining("ascending order");
  }

  @Test
  void rejectsNonCanonicalDotRanges() {
    assertRejects(CODECS.dotSet(), "930601 96 0a0105 0a0307").hasMessageContaining("disjoint");
    assertRejects(CODECS.dotSet(), "930601 96 0a0105 0a0607").hasMessageContaining("non-adjacent");
    assertRejects(CODECS.dotSet(), "930601 96 0b0101 0a0101").hasMessageContaining("sorted");
    assertThat(CODECS.dotSet().decode(bytes("930601 96 0a0105 0a0707")))
        .isEqualTo(DotSet.of(List.of(new DotRange(A, 1, 5), new DotRange(A, 7, 7))));
  }

  @Test
  void rejectsTouchedDotsOutsideTheContext() {
    String fields = " 81 a161 93 02 810a01 810a02";
    assertRejects(CODECS.documentDelta(), "940701 93 0a0101" + fields)
        .hasMessageContaining("expected every touched dot to be in the context");
    assertRejects(CODECS.document(), "950901 a164 93 0a0101" + fields)
        .hasMessageContaining("expected every touched dot to be in the context");
  }

  @Test
  void rejectsTheGeneralFormOfADeltaThatHasACompactOne() {
    assertRejects(CODECS.documentDelta(), "940701 93 0a0101 81 a161 93 02 810a01 810a01")
        .hasMessageContaining("expected the compact form");
  }

  @Test
  void rejectsUnknownFieldTypes() {
    assertRejects(CODECS.documentDelta(), "940701 93 0a0102 81 a161 93 05 80 810a01")
        .hasMessageContaining("DocumentDelta.fields['a'].type")
        .hasMessageContaining("got 5 (VERSION_VECTOR)");
    assertRejects(CODECS.documentDelta(), "97 08 01 0a 01 a16e 01 01")
        .hasMessageContaining("got 1 (VALUE)");
  }

  // ---------------------------------------------------------------- limits

  @Test
  void customLimitsRejectLargerPayloadsNamingTheLimit() {
    CrdtCodecs small =
        CrdtCodecs.create(
            CodecLimits.builder()
                .maxStringBytes(4)
                .maxBinaryBytes(1)
                .maxCollectionSize(3)
                .maxDepth(2)
                .maxFields(2)
                .maxReplicas(2)
                .maxDotRanges(1)
                .build());
    assertThatThrownBy(() -> small.value().decode(CODECS.value().encode(Value.of("hello"))))
        .isExactlyInstanceOf(CodecException.class)
        .hasMessageContaining("at most 4 bytes (maxStringBytes)");
    assertThatThrownBy(() -> small.value().decode(CODECS.value().encode(Value.of(new byte[2]))))
        .hasMessageContaining("maxBinaryBytes");
    Value four = Value.array(Value.of(1), Value.of(2), Value.of(3), Value.of(4));
    assertThatThrownBy(() -> small.value().decode(CODECS.value().encode(four)))
        .hasMessageContaining("maxCollectionSize");
    Value deep = Samples.nested(3, Value.nil());
    assertThatThrownBy(() -> small.value().decode(CODECS.value().encode(deep)))
        .hasMessageContaining("at most 2 deep (maxDepth)");
    assertThat(small.value().decode(CODECS.value().encode(Samples.nested(2, Value.nil()))))
        .isEqualTo(Samples.nested(2, Value.nil()));

    Document doc = Document.create("d");
    doc.incrementGCounter(A, "a", 1);
    doc.incrementGCounter(A, "b", 1);
    doc.incrementGCounter(A, "c", 1);
    DocumentDelta three = doc.deltaSince(dev.lattice.crdt.VersionVector.empty());
    assertThatThrownBy(() -> small.documentDelta().decode(CODECS.documentDelta().encode(three)))
        .hasMessageContaining("(maxFields)");
    GCounter wide = GCounter.of(Map.of(A, 1L, B, 1L, ALL_ONES, 1L));
    assertThatThrownBy(() -> small.gCounter().decode(CODECS.gCounter().encode(wide)))
        .hasMessageContaining("(maxReplicas)");
    DotSet two = DotSet.of(List.of(new DotRange(A, 1, 1), new DotRange(A, 3, 3)));
    assertThatThrownBy(() -> small.dotSet().decode(CODECS.dotSet().encode(two)))
        .hasMessageContaining("maxDotRanges");

    // Encoders refuse what their decoders would.
    assertThatThrownBy(() -> small.value().encode(Value.of("hello")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxStringBytes");
    assertThatThrownBy(() -> small.documentDelta().encode(three))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxFields");
    assertThatThrownBy(() -> small.value().encode(deep))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxDepth");
  }

  @Test
  void payloadSizeLimitAppliesToDecodeAndToMidStreamReads() {
    CrdtCodecs tiny = CrdtCodecs.create(CodecLimits.builder().maxPayloadBytes(16).build());
    byte[] big = CODECS.value().encode(Value.of("0123456789abcdef"));
    assertThatThrownBy(() -> tiny.value().decode(big))
        .isExactlyInstanceOf(CodecException.class)
        .hasMessageContaining("at most 16 bytes (maxPayloadBytes), got 20 bytes");
    assertThatThrownBy(() -> tiny.value().read(MessagePack.newDefaultUnpacker(big)))
        .isExactlyInstanceOf(CodecException.class)
        .hasMessageContaining("maxPayloadBytes");
    assertThatThrownBy(() -> tiny.value().encode(Value.of("0123456789abcdef")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxPayloadBytes");
  }

  @Test
  void encoderRefusesStringsWithoutAUtf8Form() {
    assertThatThrownBy(() -> CODECS.value().encode(Value.of("a\ud800b")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unpaired surrogate at index 1");
    Document doc = Document.create("d");
    DocumentDelta delta = doc.incrementGCounter(A, "bad\udc00", 1);
    assertThatThrownBy(() -> CODECS.documentDelta().encode(delta))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("field name");
  }

  @Test
  void limitsBuilderFailsFastNamingTheBadValue() {
    assertThatThrownBy(() -> CodecLimits.builder().maxPayloadBytes(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxPayloadBytes must be >= 1, was 0");
    assertThatThrownBy(() -> CodecLimits.builder().maxStringBytes(-1))
        .hasMessage("maxStringBytes must be >= 0, was -1");
    assertThatThrownBy(() -> CodecLimits.builder().maxDepth(100_000))
        .hasMessage("maxDepth must be <= 512, was 100000");
    assertThatThrownBy(() -> CodecLimits.builder().maxFields(-3))
        .hasMessage("maxFields must be >= 0, was -3");
    CodecLimits limits = CodecLimits.builder().maxReplicas(7).build();
    assertThat(limits.maxReplicas()).isEqualTo(7);
    assertThat(limits.maxFields()).isEqualTo(1_048_576);
    assertThat(limits.toBuilder().build()).isEqualTo(limits);
    assertThat(CodecLimits.defaults().maxPayloadBytes()).isEqualTo(64 * 1024 * 1024);
  }
}

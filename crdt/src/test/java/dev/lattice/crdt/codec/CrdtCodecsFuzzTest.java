package dev.lattice.crdt.codec;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.List;

/**
 * Coverage-guided fuzzing of every CRDT decoder: whatever the bytes, each codec either decodes a
 * value or fails with {@link CodecException}; any other exception or error, a hang or an
 * out-of-memory is a bug. What decodes must encode again to bytes that decode to an equal value
 * (the canonical form is a fixed point).
 *
 * <p>A normal build runs the checked-in inputs under {@code
 * src/test/resources/dev/lattice/crdt/codec/CrdtCodecsFuzzTestInputs}; the {@code fuzz} Maven
 * execution fuzzes it with {@code JAZZER_FUZZ=1} for a few seconds.
 */
class CrdtCodecsFuzzTest {

  private static final CrdtCodecs DEFAULTS = CrdtCodecs.defaults();

  @FuzzTest(maxDuration = "3s")
  void everyDecoderAcceptsOrRefusesEveryPayload(byte[] payload) {
    List<Codec<?>> codecs =
        List.of(
            DEFAULTS.value(),
            DEFAULTS.gCounter(),
            DEFAULTS.pnCounter(),
            DEFAULTS.lwwRegister(),
            DEFAULTS.versionVector(),
            DEFAULTS.dotSet(),
            DEFAULTS.documentDelta(),
            DEFAULTS.document());
    for (Codec<?> codec : codecs) {
      roundTrip(codec, payload);
    }
  }

  private static <T> void roundTrip(Codec<T> codec, byte[] payload) {
    T value;
    try {
      value = codec.decode(payload);
    } catch (CodecException refused) {
      return;
    }
    T again = codec.decode(codec.encode(value));
    if (!again.equals(value)) {
      throw new AssertionError("decode(encode(v)) != v for " + value);
    }
  }
}

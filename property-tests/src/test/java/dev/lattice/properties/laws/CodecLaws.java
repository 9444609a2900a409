package dev.lattice.properties.laws;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.codec.Codec;
import dev.lattice.crdt.codec.CodecException;
import java.io.IOException;
import java.util.Arrays;
import java.util.HexFormat;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple.Tuple2;
import net.jqwik.api.constraints.IntRange;
import org.msgpack.core.MessageBufferPacker;
import org.msgpack.core.MessagePack;
import org.msgpack.core.MessageUnpacker;

/**
 * The laws every {@link Codec} keeps, written once: payloads round-trip exactly, equal values
 * encode to equal bytes however they were built, re-encoding a decoded payload reproduces it, and
 * bad bytes (truncated, trailing, corrupted) are refused with a {@link CodecException} and nothing
 * else. A type's codec property class implements this interface and supplies the codec, values, and
 * pairs of equal values built in different ways.
 *
 * @param <T> the type the codec reads and writes
 */
public interface CodecLaws<T> {

  /** The codec under test. */
  Codec<T> codec();

  /** Values to encode. */
  @Provide
  Arbitrary<T> encodables();

  /**
   * Pairs of values that should be equal but were built differently (other insertion orders, merges
   * in another order, fragmented inputs). Pairs that turn out unequal are skipped.
   */
  @Provide
  Arbitrary<Tuple2<T, T>> equalPairs();

  @Property
  default void roundTripIsExact(@ForAll("encodables") T value) {
    byte[] bytes = codec().encode(value);
    assertThat(codec().decode(bytes)).as("decode(encode(%s))", value).isEqualTo(value);
  }

  @Property
  default void equalValuesEncodeToEqualBytes(@ForAll("equalPairs") Tuple2<T, T> pair) {
    Assume.that(pair.get1().equals(pair.get2()));
    assertThat(hex(codec().encode(pair.get2())))
        .as("bytes of %s and of the equal %s", pair.get1(), pair.get2())
        .isEqualTo(hex(codec().encode(pair.get1())));
  }

  @Property
  default void reencodingADecodedPayloadGivesTheSameBytes(@ForAll("encodables") T value) {
    byte[] bytes = codec().encode(value);
    assertThat(hex(codec().encode(codec().decode(bytes)))).isEqualTo(hex(bytes));
  }

  @Property(tries = 300)
  default void everyTruncatedPayloadIsRefusedWithCodecException(@ForAll("encodables") T value) {
    byte[] bytes = codec().encode(value);
    for (int length = 0; length < bytes.length; length++) {
      byte[] prefix = Arrays.copyOf(bytes, length);
      assertThatThrownBy(() -> codec().decode(prefix))
          .as("decode of the first %d of %d bytes %s", length, bytes.length, hex(bytes))
          .isInstanceOf(CodecException.class);
    }
  }

  @Property
  default void trailingBytesAreRefusedWithCodecException(
      @ForAll("encodables") T value, @ForAll byte extra) {
    byte[] bytes = codec().encode(value);
    byte[] longer = Arrays.copyOf(bytes, bytes.length + 1);
    longer[bytes.length] = extra;
    assertThatThrownBy(() -> codec().decode(longer)).isInstanceOf(CodecException.class);
  }

  @Property
  default void corruptedBytesAreRefusedWithCodecExceptionOrDecodeToAValidValue(
      @ForAll("encodables") T value,
      @ForAll @IntRange(min = 0, max = 4096) int position,
      @ForAll byte replacement) {
    byte[] bytes = codec().encode(value);
    byte[] corrupted = bytes.clone();
    corrupted[position % bytes.length] = replacement;
    T decoded;
    try {
      decoded = codec().decode(corrupted);
    } catch (CodecException refused) {
      return;
    }
    // Whatever came out is a valid value: it round-trips like any other.
    assertThat(codec().decode(codec().encode(decoded))).isEqualTo(decoded);
  }

  @Property
  default void payloadsEmbedInALargerMessage(
      @ForAll("encodables") T first, @ForAll("encodables") T second) throws IOException {
    MessageBufferPacker out = MessagePack.newDefaultBufferPacker();
    out.packArrayHeader(3);
    codec().write(out, first);
    out.packString("between");
    codec().write(out, second);
    out.close();
    try (MessageUnpacker in = MessagePack.newDefaultUnpacker(out.toByteArray())) {
      assertThat(in.unpackArrayHeader()).isEqualTo(3);
      assertThat(codec().read(in)).isEqualTo(first);
      assertThat(in.unpackString()).isEqualTo("between");
      assertThat(codec().read(in)).isEqualTo(second);
      assertThat(in.hasNext()).isFalse();
    }
    assertThat(hex(Arrays.copyOfRange(out.toByteArray(), 1, 1 + codec().encode(first).length)))
        .as("an embedded payload is the standalone payload")
        .isEqualTo(hex(codec().encode(first)));
  }

  /** Hex of the bytes, so failures print readably. */
  static String hex(byte[] bytes) {
    return HexFormat.of().formatHex(bytes);
  }
}

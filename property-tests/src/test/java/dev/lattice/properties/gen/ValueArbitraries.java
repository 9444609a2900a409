package dev.lattice.properties.gen;

import dev.lattice.crdt.Value;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Tuple;

/**
 * Generators of register {@link Value}s. Scalars come mostly from small domains, so that equal and
 * nearly equal values (same kind, same prefix) meet often; nesting goes three levels deep. Strings
 * are well-formed UTF-16 unless a generator says otherwise.
 */
public final class ValueArbitraries {

  private ValueArbitraries() {}

  /** Any value, nested up to three levels. */
  public static Arbitrary<Value> values() {
    return Arbitraries.recursive(ValueArbitraries::scalars, ValueArbitraries::containersOf, 0, 3);
  }

  /** Values from a tiny domain, for register ties. */
  public static Arbitrary<Value> smallValues() {
    return Arbitraries.of(
        Value.nil(),
        Value.of(false),
        Value.of(true),
        Value.of(0L),
        Value.of(1L),
        Value.of("a"),
        Value.of("b"),
        Value.array(Value.of(1L)),
        Value.of(new byte[] {1}));
  }

  /** Scalars of every kind. */
  public static Arbitrary<Value> scalars() {
    return Arbitraries.frequencyOf(
        Tuple.of(1, Arbitraries.just(Value.nil())),
        Tuple.of(1, Arbitraries.of(false, true).map(Value::of)),
        Tuple.of(3, integers().map(Value::of)),
        Tuple.of(2, doubles().map(Value::of)),
        Tuple.of(3, strings().map(Value::of)),
        Tuple.of(2, bytes().map(Value::of)));
  }

  private static Arbitrary<Value> containersOf(Arbitrary<Value> inner) {
    return Arbitraries.frequencyOf(
        Tuple.of(2, inner),
        Tuple.of(1, inner.list().ofMaxSize(3).map(Value::array)),
        Tuple.of(1, Arbitraries.maps(inner, inner).ofMaxSize(3).map(Value::map)));
  }

  /** Integers: mostly around zero, with the extremes. */
  public static Arbitrary<Long> integers() {
    return Arbitraries.frequencyOf(
        Tuple.of(4, Arbitraries.longs().between(-3, 3)),
        Tuple.of(1, Arbitraries.longs()),
        Tuple.of(1, Arbitraries.of(Long.MIN_VALUE, Long.MAX_VALUE, -1L << 32, 1L << 32)));
  }

  /** Doubles, with NaN, both zeros, infinities and subnormals. */
  public static Arbitrary<Double> doubles() {
    return Arbitraries.frequencyOf(
        Tuple.of(
            3,
            Arbitraries.of(
                0.0,
                -0.0,
                1.5,
                -1.5,
                Double.NaN,
                Double.POSITIVE_INFINITY,
                Double.NEGATIVE_INFINITY,
                Double.MIN_VALUE,
                -Double.MIN_VALUE,
                Double.MAX_VALUE,
                // A NaN with another bit pattern: compares and equals like Double.NaN.
                Double.longBitsToDouble(0x7ff8_0000_0000_0001L))),
        Tuple.of(1, Arbitraries.doubles()));
  }

  /** Well-formed strings: a tiny alphabet, accents, NUL, and characters outside the BMP. */
  public static Arbitrary<String> strings() {
    Arbitrary<String> codePoints =
        Arbitraries.integers()
            .between(0, Character.MAX_CODE_POINT)
            .filter(cp -> cp < Character.MIN_SURROGATE || cp > Character.MAX_SURROGATE)
            .list()
            .ofMaxSize(4)
            .map(ValueArbitraries::fromCodePoints);
    return Arbitraries.frequencyOf(
        Tuple.of(3, Arbitraries.strings().withChars("ab").ofMaxLength(3)),
        Tuple.of(
            2,
            Arbitraries.of(
                "", "a", "é", "e\u0301", "\u0000", "\uffff", "\ud83d\ude00", "\uff61", "z")),
        Tuple.of(2, codePoints));
  }

  /**
   * Strings that may hold unpaired surrogates: legal Java strings that have no UTF-8 form, as a
   * careless client could hand to {@link Value#of(String)}.
   */
  public static Arbitrary<String> stringsWithLoneSurrogates() {
    return Arbitraries.of('a', '?', '\ud800', '\udbff', '\udc00', '\udfff', '\ufffd')
        .list()
        .ofMinSize(1)
        .ofMaxSize(3)
        .map(
            chars -> {
              StringBuilder sb = new StringBuilder();
              chars.forEach(sb::append);
              return sb.toString();
            });
  }

  /** Byte arrays, mostly short, with bytes on both sides of the sign bit. */
  public static Arbitrary<byte[]> bytes() {
    return Arbitraries.frequencyOf(
            Tuple.of(
                3,
                Arbitraries.of((byte) 0, (byte) 1, (byte) 0x7f, (byte) 0x80, (byte) 0xff)
                    .list()
                    .ofMaxSize(3)),
            Tuple.of(1, Arbitraries.bytes().list().ofMaxSize(40)))
        .map(ValueArbitraries::toArray);
  }

  private static byte[] toArray(List<Byte> list) {
    byte[] out = new byte[list.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = list.get(i);
    }
    return out;
  }

  private static String fromCodePoints(List<Integer> codePoints) {
    StringBuilder sb = new StringBuilder();
    codePoints.forEach(sb::appendCodePoint);
    return sb.toString();
  }
}

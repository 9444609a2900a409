package dev.lattice.properties.codec;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Value;
import dev.lattice.crdt.codec.Codec;
import dev.lattice.crdt.codec.CrdtCodecs;
import dev.lattice.properties.gen.ValueArbitraries;
import dev.lattice.properties.laws.CodecLaws;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.Tuple.Tuple2;

/** The codec laws for {@link Value}s nested three deep, with every scalar kind and edge. */
class ValueCodecProperties implements CodecLaws<Value> {

  @Override
  public Codec<Value> codec() {
    return CrdtCodecs.defaults().value();
  }

  @Override
  @Provide
  public Arbitrary<Value> encodables() {
    return ValueArbitraries.values();
  }

  /**
   * A value and an equal one rebuilt with every map's entries inserted in reverse order and every
   * NaN replaced by a NaN of another bit pattern (equal under {@link Double#compare}).
   */
  @Override
  @Provide
  public Arbitrary<Tuple2<Value, Value>> equalPairs() {
    return ValueArbitraries.values().map(v -> Tuple.of(v, rebuilt(v)));
  }

  @Provide
  Arbitrary<String> malformedStrings() {
    return ValueArbitraries.stringsWithLoneSurrogates();
  }

  @Property
  void stringsWithLoneSurrogatesRoundTripOrAreRefusedButNeverChangeSilently(
      @ForAll("malformedStrings") String s) {
    Value value;
    byte[] bytes;
    try {
      value = Value.of(s);
      bytes = codec().encode(value);
    } catch (IllegalArgumentException refused) {
      return; // refusing a string with no UTF-8 form is a correct answer
    }
    assertThat(codec().decode(bytes)).isEqualTo(value);
  }

  static Value rebuilt(Value v) {
    if (v instanceof Value.FloatValue f && Double.isNaN(f.value())) {
      return Value.of(Double.longBitsToDouble(0xfff8_0000_0000_0001L));
    }
    if (v instanceof Value.ArrayValue a) {
      return Value.array(a.elements().stream().map(ValueCodecProperties::rebuilt).toList());
    }
    if (v instanceof Value.MapValue m) {
      List<Map.Entry<Value, Value>> entries = new ArrayList<>(m.entries().entrySet());
      Collections.reverse(entries);
      Map<Value, Value> copy = new LinkedHashMap<>();
      entries.forEach(e -> copy.put(rebuilt(e.getKey()), rebuilt(e.getValue())));
      return Value.map(copy);
    }
    if (v instanceof Value.BinaryValue b) {
      return Value.of(b.bytes());
    }
    return v;
  }
}

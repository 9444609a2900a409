package dev.lattice.properties.crdt;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Value;
import dev.lattice.properties.gen.ValueArbitraries;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;

/**
 * {@link Value#compareTo} is a total order consistent with {@link Value#equals} (and equal values
 * have equal hash codes), over nested values of every kind. Registers rely on it to break ties and
 * maps rely on it to keep their keys.
 */
class ValueProperties {

  @Provide
  Arbitrary<Value> values() {
    return ValueArbitraries.values();
  }

  @Provide
  Arbitrary<String> malformedStrings() {
    return ValueArbitraries.stringsWithLoneSurrogates();
  }

  @Property
  void compareToIsReflexiveAndConsistentWithEquals(
      @ForAll("values") Value a, @ForAll("values") Value b) {
    assertThat(a.compareTo(a)).isZero();
    assertThat(a.compareTo(b) == 0).as("%s compareTo %s is 0", a, b).isEqualTo(a.equals(b));
    if (a.equals(b)) {
      assertThat(a.hashCode()).isEqualTo(b.hashCode());
    }
  }

  @Property
  void compareToIsAntisymmetric(@ForAll("values") Value a, @ForAll("values") Value b) {
    assertThat(Integer.signum(a.compareTo(b))).isEqualTo(-Integer.signum(b.compareTo(a)));
  }

  @Property
  void compareToIsTransitive(@ForAll @Size(min = 3, max = 6) List<@From("values") Value> vs) {
    for (Value a : vs) {
      for (Value b : vs) {
        for (Value c : vs) {
          if (a.compareTo(b) <= 0 && b.compareTo(c) <= 0) {
            assertThat(a.compareTo(c)).as("%s <= %s <= %s", a, b, c).isLessThanOrEqualTo(0);
          }
        }
      }
    }
  }

  @Property
  void kindsOrderNilBooleanIntegerFloatStringBinaryArrayMap(
      @ForAll("values") Value a, @ForAll("values") Value b) {
    if (a.kind() != b.kind()) {
      assertThat(Integer.signum(a.compareTo(b)))
          .isEqualTo(Integer.signum(Integer.compare(a.kind(), b.kind())));
    }
  }

  @Property
  void sortingIsIndependentOfTheInputOrder(
      @ForAll @Size(max = 8) List<@From("values") Value> vs, @ForAll long seed) {
    List<Value> sorted = new ArrayList<>(vs);
    Collections.sort(sorted);
    List<Value> shuffled = new ArrayList<>(vs);
    Collections.shuffle(shuffled, new Random(seed));
    Collections.sort(shuffled);
    assertThat(shuffled).isEqualTo(sorted);
  }

  @Property
  void mapValuesKeepEveryDistinctKeyWhateverTheInsertionOrder(
      @ForAll @Size(max = 5) List<@From("values") Value> keys) {
    Map<Value, Value> forward = new LinkedHashMap<>();
    for (int i = 0; i < keys.size(); i++) {
      forward.put(keys.get(i), Value.of((long) i));
    }
    Map<Value, Value> backward = new LinkedHashMap<>();
    List<Map.Entry<Value, Value>> entries = new ArrayList<>(forward.entrySet());
    Collections.reverse(entries);
    entries.forEach(e -> backward.put(e.getKey(), e.getValue()));
    Value a = Value.map(forward);
    Value b = Value.map(backward);
    assertThat(a).isEqualTo(b);
    assertThat(a.compareTo(b)).isZero();
    assertThat(((Value.MapValue) a).entries()).hasSameSizeAs(forward).containsAllEntriesOf(forward);
  }

  @Property
  void floatsCompareLikeDoubleCompare(@ForAll double x, @ForAll double y) {
    assertThat(Integer.signum(Value.of(x).compareTo(Value.of(y))))
        .isEqualTo(Integer.signum(Double.compare(x, y)));
    assertThat(Value.of(x).equals(Value.of(y))).isEqualTo(Double.compare(x, y) == 0);
  }

  @Property
  void binaryValuesAreImmutableCopies(@ForAll byte[] bytes) {
    byte[] mine = bytes.clone();
    Value v = Value.of(mine);
    if (mine.length > 0) {
      mine[0]++;
      ((Value.BinaryValue) v).bytes()[0]++;
    }
    assertThat(v).isEqualTo(Value.of(bytes));
  }

  /**
   * Java strings may hold unpaired surrogates, which have no UTF-8 form. Whatever Value does with
   * them (refuse them, or order them by UTF-16), two different strings must not compare equal, or a
   * map silently loses one of the keys.
   */
  @Property
  void stringsWithLoneSurrogatesStillCompareConsistentlyWithEquals(
      @ForAll("malformedStrings") String s, @ForAll("malformedStrings") String t) {
    Value a;
    Value b;
    try {
      a = Value.of(s);
      b = Value.of(t);
    } catch (IllegalArgumentException refused) {
      return; // refusing malformed strings is a correct answer too
    }
    assertThat(a.compareTo(b) == 0)
        .as("\"%s\" compareTo \"%s\" is 0", esc(s), esc(t))
        .isEqualTo(a.equals(b));
    Map<Value, Value> entries = new HashMap<>();
    entries.put(a, Value.of(1L));
    entries.put(b, Value.of(2L));
    assertThat(((Value.MapValue) Value.map(entries)).entries()).hasSameSizeAs(entries);
  }

  private static String esc(String s) {
    StringBuilder sb = new StringBuilder();
    s.chars()
        .forEach(
            c ->
                sb.append(
                    c < 0x7f && c >= 0x20
                        ? String.valueOf((char) c)
                        : String.format("\\u%04x", c)));
    return sb.toString();
  }
}

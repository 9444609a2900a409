package dev.lattice.properties.codec;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.DotRange;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.codec.Codec;
import dev.lattice.crdt.codec.CrdtCodecs;
import dev.lattice.properties.gen.CrdtArbitraries;
import dev.lattice.properties.laws.CodecLaws;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.Tuple.Tuple2;

/** The codec laws for {@link DotSet}s, and sets with ranges up to Long.MAX_VALUE. */
class DotSetCodecProperties implements CodecLaws<DotSet> {

  @Override
  public Codec<DotSet> codec() {
    return CrdtCodecs.defaults().dotSet();
  }

  @Override
  @Provide
  public Arbitrary<DotSet> encodables() {
    return CrdtArbitraries.dotRangeLists().map(DotSet::of);
  }

  /** The set of the ranges as given, and the same dots given one by one in reverse order. */
  @Override
  @Provide
  public Arbitrary<Tuple2<DotSet, DotSet>> equalPairs() {
    return CrdtArbitraries.dotRangeLists()
        .map(ranges -> Tuple.of(DotSet.of(ranges), DotSet.of(singlesReversed(ranges))));
  }

  @Provide
  Arbitrary<List<DotRange>> rangeListsReachingLongMax() {
    return CrdtArbitraries.dotRangeListsReachingLongMax();
  }

  @Property
  void setsWithRangesReachingLongMaxValueRoundTrip(
      @ForAll("rangeListsReachingLongMax") List<DotRange> ranges) {
    DotSet set = DotSet.of(ranges);
    assertThat(codec().decode(codec().encode(set))).isEqualTo(set);
  }

  private static List<DotRange> singlesReversed(List<DotRange> ranges) {
    List<DotRange> singles = new ArrayList<>();
    for (DotRange r : ranges) {
      for (long s = r.first(); ; s++) {
        singles.add(0, new DotRange(r.replica(), s, s));
        if (s == r.last()) {
          break;
        }
      }
    }
    return singles;
  }
}

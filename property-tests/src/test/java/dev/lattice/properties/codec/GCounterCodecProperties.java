package dev.lattice.properties.codec;

import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.codec.Codec;
import dev.lattice.crdt.codec.CrdtCodecs;
import dev.lattice.properties.gen.CrdtArbitraries;
import dev.lattice.properties.laws.CodecLaws;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.Tuple.Tuple2;

/** The codec laws for {@link GCounter}s, counts up to Long.MAX_VALUE included. */
class GCounterCodecProperties implements CodecLaws<GCounter> {

  @Override
  public Codec<GCounter> codec() {
    return CrdtCodecs.defaults().gCounter();
  }

  @Override
  @Provide
  public Arbitrary<GCounter> encodables() {
    return CrdtArbitraries.gCounters();
  }

  /** {@code a.merge(b)} and {@code b.merge(a)}. */
  @Override
  @Provide
  public Arbitrary<Tuple2<GCounter, GCounter>> equalPairs() {
    return encodables()
        .tuple2()
        .map(t -> Tuple.of(t.get1().merge(t.get2()), t.get2().merge(t.get1())));
  }
}

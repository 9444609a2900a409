package dev.lattice.properties.codec;

import dev.lattice.crdt.PNCounter;
import dev.lattice.crdt.codec.Codec;
import dev.lattice.crdt.codec.CrdtCodecs;
import dev.lattice.properties.gen.CrdtArbitraries;
import dev.lattice.properties.laws.CodecLaws;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.Tuple.Tuple2;

/** The codec laws for {@link PNCounter}s. */
class PNCounterCodecProperties implements CodecLaws<PNCounter> {

  @Override
  public Codec<PNCounter> codec() {
    return CrdtCodecs.defaults().pnCounter();
  }

  @Override
  @Provide
  public Arbitrary<PNCounter> encodables() {
    return CrdtArbitraries.pnCounters();
  }

  /** {@code a.merge(b)} and {@code b.merge(a)}. */
  @Override
  @Provide
  public Arbitrary<Tuple2<PNCounter, PNCounter>> equalPairs() {
    return encodables()
        .tuple2()
        .map(t -> Tuple.of(t.get1().merge(t.get2()), t.get2().merge(t.get1())));
  }
}

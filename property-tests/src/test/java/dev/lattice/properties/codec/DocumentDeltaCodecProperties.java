package dev.lattice.properties.codec;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.codec.Codec;
import dev.lattice.crdt.codec.CrdtCodecs;
import dev.lattice.properties.gen.DocumentHistories;
import dev.lattice.properties.laws.CodecLaws;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.Tuple.Tuple2;

/**
 * The codec laws for {@link DocumentDelta}s that real histories produce: single-mutation deltas
 * (the compact form), catch-up deltas, and joins of them.
 */
class DocumentDeltaCodecProperties implements CodecLaws<DocumentDelta> {

  @Override
  public Codec<DocumentDelta> codec() {
    return CrdtCodecs.defaults().documentDelta();
  }

  @Override
  @Provide
  public Arbitrary<DocumentDelta> encodables() {
    return deltaPairs().map(t -> t.get1().join(t.get2()));
  }

  /** {@code a.join(b)} and {@code b.join(a)}. */
  @Override
  @Provide
  public Arbitrary<Tuple2<DocumentDelta, DocumentDelta>> equalPairs() {
    return deltaPairs().map(t -> Tuple.of(t.get1().join(t.get2()), t.get2().join(t.get1())));
  }

  /** Two deltas of one history; often the same one, or the empty delta. */
  private static Arbitrary<Tuple2<DocumentDelta, DocumentDelta>> deltaPairs() {
    return DocumentHistories.histories(16, false)
        .flatMap(
            history -> {
              List<DocumentDelta> all = history.replay().allDeltas;
              Arbitrary<DocumentDelta> one =
                  all.isEmpty()
                      ? Arbitraries.just(DocumentDelta.empty())
                      : Arbitraries.frequencyOf(
                          Tuple.of(4, Arbitraries.of(all)),
                          Tuple.of(1, Arbitraries.just(DocumentDelta.empty())));
              return one.tuple2();
            });
  }
}

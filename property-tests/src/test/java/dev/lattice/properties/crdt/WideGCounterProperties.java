package dev.lattice.properties.crdt;

import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.properties.gen.CrdtArbitraries;
import dev.lattice.properties.laws.CrdtLaws;
import dev.lattice.properties.laws.Mutator;
import java.util.List;
import java.util.stream.LongStream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Provide;

/**
 * The CRDT laws for G-Counters written by many replicas: up to 96 of them, so that states on both
 * sides of the size where the replica map turns from a flat array into a tree (32) meet in every
 * law. {@link GCounterProperties} covers the few-writer counter.
 */
class WideGCounterProperties implements CrdtLaws<GCounter> {

  /** Ids spread over the unsigned range, half with the top bit set. */
  private static final List<ReplicaId> WIDE =
      LongStream.range(0, 96)
          .map(i -> (i % 2 == 0 ? Long.MIN_VALUE : 0) + i * 0x0123_4567_89ab_cdefL % (1L << 62))
          .mapToObj(ReplicaId::of)
          .toList();

  @Override
  @Provide
  public Arbitrary<GCounter> states() {
    Arbitrary<Integer> writers = Arbitraries.integers().between(0, WIDE.size());
    return Combinators.combine(writers, Arbitraries.longs().between(0, Long.MAX_VALUE))
        .flatAs((n, seed) -> mutators().list().ofMaxSize(4).map(ops -> wide(n, seed, ops)));
  }

  /** {@code n} writers of 1..1000 each (from {@code seed}), then {@code ops}. */
  private static GCounter wide(int n, long seed, List<Mutator<GCounter>> ops) {
    GCounter c = GCounter.empty();
    java.util.Random rnd = new java.util.Random(seed);
    for (int i = 0; i < n; i++) {
      c = c.increment(WIDE.get(rnd.nextInt(WIDE.size())), 1 + rnd.nextInt(1000)).state();
    }
    for (Mutator<GCounter> op : ops) {
      c = op.applyTo(c).state();
    }
    return c;
  }

  @Override
  @Provide
  public Arbitrary<Mutator<GCounter>> mutators() {
    return Combinators.combine(Arbitraries.of(WIDE), CrdtArbitraries.increments())
        .as(
            (replica, amount) ->
                new Mutator<>(
                    "increment(" + replica + ", " + amount + ")",
                    c -> CrdtArbitraries.clampedIncrement(c, replica, amount)));
  }

  @Override
  public GCounter empty() {
    return GCounter.empty();
  }
}

package dev.lattice.properties.crdt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.Mutation;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.properties.gen.CrdtArbitraries;
import dev.lattice.properties.laws.CrdtLaws;
import dev.lattice.properties.laws.Mutator;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;

/** The CRDT laws and the counting rules of {@link GCounter}. */
class GCounterProperties implements CrdtLaws<GCounter> {

  @Override
  @Provide
  public Arbitrary<GCounter> states() {
    return CrdtArbitraries.gCounters();
  }

  @Override
  @Provide
  public Arbitrary<Mutator<GCounter>> mutators() {
    return CrdtArbitraries.gCounterMutators();
  }

  @Override
  public GCounter empty() {
    return GCounter.empty();
  }

  @Provide
  Arbitrary<ReplicaId> replicas() {
    return CrdtArbitraries.replicas();
  }

  @Provide
  Arbitrary<Long> amounts() {
    return CrdtArbitraries.increments();
  }

  @Property
  void valueIsTheSumOfTheIncrements(
      @ForAll @Size(max = 12) List<@From("replicas") ReplicaId> writers,
      @ForAll @Size(max = 12) List<@LongRange(min = 0, max = 1_000_000) Long> amounts) {
    GCounter counter = GCounter.empty();
    long sum = 0;
    for (int i = 0; i < Math.min(writers.size(), amounts.size()); i++) {
      counter = counter.increment(writers.get(i), amounts.get(i)).state();
      sum += amounts.get(i);
    }
    assertThat(counter.value()).isEqualTo(sum);
  }

  @Property
  void incrementAddsExactlyTheAmount(
      @ForAll("states") GCounter counter,
      @ForAll("replicas") ReplicaId replica,
      @ForAll("amounts") long amount) {
    Mutation<GCounter> m = CrdtArbitraries.clampedIncrement(counter, replica, amount);
    long applied = Math.min(amount, Long.MAX_VALUE - counter.value());
    assertThat(m.state().value()).isEqualTo(counter.value() + applied);
    assertThat(m.state().countOf(replica)).isEqualTo(counter.countOf(replica) + applied);
  }

  @Property
  void incrementDeltaHoldsOnlyTheWritersNewCount(
      @ForAll("states") GCounter counter,
      @ForAll("replicas") ReplicaId replica,
      @ForAll @LongRange(min = 1, max = 1000) long amount) {
    Assume.that(headroom(counter) > 0);
    Mutation<GCounter> m = counter.increment(replica, Math.min(amount, headroom(counter)));
    assertThat(m.delta()).isEqualTo(GCounter.of(Map.of(replica, m.state().countOf(replica))));
  }

  @Property
  void incrementByZeroChangesNothing(
      @ForAll("states") GCounter counter, @ForAll("replicas") ReplicaId replica) {
    Mutation<GCounter> m = counter.increment(replica, 0);
    assertThat(m.state()).isEqualTo(counter);
    assertThat(counter.merge(m.delta())).isEqualTo(counter);
  }

  @Property
  void mergeOfConcurrentCountersTakesTheLargestCountPerReplica(
      @ForAll("states") GCounter a, @ForAll("states") GCounter b) {
    GCounter merged = a.merge(b);
    for (ReplicaId r : CrdtArbitraries.REPLICAS) {
      assertThat(merged.countOf(r)).isEqualTo(Math.max(a.countOf(r), b.countOf(r)));
    }
  }

  @Property
  void incrementThatWouldOverflowIsRefusedWithArithmeticException(
      @ForAll("states") GCounter counter,
      @ForAll("replicas") ReplicaId replica,
      @ForAll @LongRange(min = 1, max = Long.MAX_VALUE) long excess) {
    // Bring the value to exactly Long.MAX_VALUE, then ask for more.
    GCounter full = counter.increment(replica, headroom(counter)).state();
    assertThat(full.value()).isEqualTo(Long.MAX_VALUE);
    assertThatThrownBy(() -> full.increment(replica, excess))
        .isInstanceOf(ArithmeticException.class)
        .hasMessageContaining("overflow");
    assertThat(full.value()).isEqualTo(Long.MAX_VALUE);
  }

  @Property
  void negativeIncrementIsRefusedWithIllegalArgumentException(
      @ForAll("states") GCounter counter,
      @ForAll("replicas") ReplicaId replica,
      @ForAll @LongRange(min = Long.MIN_VALUE, max = -1) long amount) {
    assertThatThrownBy(() -> counter.increment(replica, amount))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(Long.toString(amount));
  }

  @Property
  void ofDropsZeroCountsAndRefusesNegativeOnes(
      @ForAll("replicas") ReplicaId replica, @ForAll @LongRange(min = -5, max = 5) long count) {
    if (count < 0) {
      assertThatThrownBy(() -> GCounter.of(Map.of(replica, count)))
          .isInstanceOf(IllegalArgumentException.class);
    } else {
      GCounter c = GCounter.of(Map.of(replica, count));
      assertThat(c.isEmpty()).isEqualTo(count == 0);
      assertThat(c.value()).isEqualTo(count);
    }
  }

  @Property
  void equalStatesBuiltInAnyOrderAreEqual(
      @ForAll @Size(max = 8) List<@From("mutators") Mutator<GCounter>> ops, @ForAll long seed) {
    // Deltas arrive in any order and any number of times; the joined state is the same.
    GCounter state = GCounter.empty();
    List<GCounter> deltas = new ArrayList<>();
    for (Mutator<GCounter> op : ops) {
      Mutation<GCounter> m = op.applyTo(state);
      state = m.state();
      deltas.add(m.delta());
    }
    Collections.shuffle(deltas, new Random(seed));
    GCounter joined = GCounter.empty();
    for (GCounter d : deltas) {
      joined = joined.merge(d).merge(d);
    }
    assertThat(joined).isEqualTo(state);
  }

  private static long headroom(GCounter c) {
    return Long.MAX_VALUE - c.value();
  }
}

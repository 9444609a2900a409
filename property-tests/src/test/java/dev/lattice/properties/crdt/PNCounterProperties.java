package dev.lattice.properties.crdt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.Mutation;
import dev.lattice.crdt.PNCounter;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.properties.gen.CrdtArbitraries;
import dev.lattice.properties.laws.CrdtLaws;
import dev.lattice.properties.laws.Mutator;
import java.util.List;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;

/** The CRDT laws and the counting rules of {@link PNCounter}. */
class PNCounterProperties implements CrdtLaws<PNCounter> {

  @Override
  @Provide
  public Arbitrary<PNCounter> states() {
    return CrdtArbitraries.pnCounters();
  }

  @Override
  @Provide
  public Arbitrary<Mutator<PNCounter>> mutators() {
    return CrdtArbitraries.pnCounterMutators();
  }

  @Override
  public PNCounter empty() {
    return PNCounter.empty();
  }

  @Provide
  Arbitrary<ReplicaId> replicas() {
    return CrdtArbitraries.replicas();
  }

  @Property
  void valueIsTheNetSumOfTheAdds(
      @ForAll @Size(max = 12) List<@From("replicas") ReplicaId> writers,
      @ForAll @Size(max = 12) List<@LongRange(min = -1_000_000, max = 1_000_000) Long> amounts) {
    PNCounter counter = PNCounter.empty();
    long sum = 0;
    for (int i = 0; i < Math.min(writers.size(), amounts.size()); i++) {
      counter = counter.add(writers.get(i), amounts.get(i)).state();
      sum += amounts.get(i);
    }
    assertThat(counter.value()).isEqualTo(sum);
  }

  @Property
  void valueIsIncrementsMinusDecrements(@ForAll("states") PNCounter counter) {
    assertThat(counter.value())
        .isEqualTo(counter.increments().value() - counter.decrements().value());
  }

  @Property
  void addChangesTheValueByTheAmount(
      @ForAll("states") PNCounter counter,
      @ForAll("replicas") ReplicaId replica,
      @ForAll @LongRange(min = -1000, max = 1000) long amount) {
    long headroom =
        amount >= 0
            ? Long.MAX_VALUE - counter.increments().value()
            : Long.MAX_VALUE - counter.decrements().value();
    long applied = Math.abs(amount) <= headroom ? amount : 0;
    Mutation<PNCounter> m = counter.add(replica, applied);
    assertThat(m.state().value()).isEqualTo(counter.value() + applied);
  }

  @Property
  void addOfZeroChangesNothing(
      @ForAll("states") PNCounter counter, @ForAll("replicas") ReplicaId replica) {
    Mutation<PNCounter> m = counter.add(replica, 0);
    assertThat(m.state()).isEqualTo(counter);
    assertThat(counter.merge(m.delta())).isEqualTo(counter);
  }

  @Property
  void addThatWouldOverflowIsRefusedWithArithmeticException(
      @ForAll("states") PNCounter counter,
      @ForAll("replicas") ReplicaId replica,
      @ForAll @LongRange(min = 1, max = Long.MAX_VALUE) long excess,
      @ForAll boolean upwards) {
    PNCounter full =
        upwards
            ? counter.add(replica, Long.MAX_VALUE - counter.increments().value()).state()
            : counter.add(replica, -(Long.MAX_VALUE - counter.decrements().value())).state();
    assertThatThrownBy(() -> full.add(replica, upwards ? excess : -excess))
        .isInstanceOf(ArithmeticException.class);
  }

  @Property
  void subtractingLongMinValueIsRefused(
      @ForAll("states") PNCounter counter, @ForAll("replicas") ReplicaId replica) {
    assertThatThrownBy(() -> counter.add(replica, Long.MIN_VALUE))
        .isInstanceOf(ArithmeticException.class);
  }

  @Property
  void mergeIsTheMergeOfBothHalves(@ForAll("states") PNCounter a, @ForAll("states") PNCounter b) {
    PNCounter merged = a.merge(b);
    assertThat(merged.increments()).isEqualTo(a.increments().merge(b.increments()));
    assertThat(merged.decrements()).isEqualTo(a.decrements().merge(b.decrements()));
    assertThat(PNCounter.of(merged.increments(), merged.decrements())).isEqualTo(merged);
    assertThat(PNCounter.of(GCounter.empty(), GCounter.empty())).isEqualTo(PNCounter.empty());
  }
}

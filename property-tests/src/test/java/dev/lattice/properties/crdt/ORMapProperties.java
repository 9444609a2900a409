package dev.lattice.properties.crdt;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.ORMap;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.PNCounter;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.properties.gen.CausalArbitraries;
import dev.lattice.properties.gen.CrdtArbitraries;
import dev.lattice.properties.laws.CrdtLaws;
import dev.lattice.properties.laws.Mutator;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * The CRDT laws and the observed-remove rules of {@link ORMap}: a key updated concurrently with its
 * removal stays, a remove retracts the updates it saw, and concurrent updates of one key merge as
 * the nested type merges.
 */
class ORMapProperties implements CrdtLaws<ORMap> {

  private static final ReplicaId A = CrdtArbitraries.REPLICAS.get(1);
  private static final ReplicaId B = CrdtArbitraries.REPLICAS.get(2);

  @Override
  @Provide
  public Arbitrary<ORMap> states() {
    return CausalArbitraries.maps();
  }

  @Override
  @Provide
  public Arbitrary<Mutator<ORMap>> mutators() {
    return CausalArbitraries.mutators("mapOp", CausalArbitraries::mapOp);
  }

  @Override
  public ORMap empty() {
    return ORMap.empty();
  }

  @Provide
  Arbitrary<Long> amounts() {
    return Arbitraries.longs().between(-5, 5);
  }

  @Property
  void aKeyUpdatedConcurrentlyWithItsRemovalStays(
      @ForAll("states") ORMap base, @ForAll("amounts") long amount) {
    ORMap removed = base.remove(base.nextDot(A), "count").state();
    ORMap updated =
        base.update(
                base.nextDot(B),
                "count",
                CrdtKind.of(PNCounter.class),
                c -> c.add(B, amount).state())
            .state();
    assertThat(removed.containsKey("count")).isFalse();
    ORMap merged = removed.merge(updated);
    assertThat(merged.containsKey("count")).isTrue();
    assertThat(merged.get("count")).isEqualTo(updated.get("count"));
  }

  @Property
  void aRemoveOfAnObservedKeyRemovesItEverywhere(
      @ForAll("states") ORMap a, @ForAll("states") ORMap b) {
    ORMap seen = a.merge(b);
    ORMap removeDelta = seen.remove(seen.nextDot(A), "tags").delta();
    // The remove retracts what the remover held; entries it had seen superseded go with the
    // updates that superseded them, which both sides hold between them.
    assertThat(seen.merge(removeDelta).containsKey("tags")).isFalse();
    assertThat(a.merge(removeDelta).merge(b).containsKey("tags")).isFalse();
    assertThat(b.merge(removeDelta).merge(a).containsKey("tags")).isFalse();
  }

  @Property
  void concurrentUpdatesOfOneKeyMergeAsTheNestedTypeMerges(@ForAll("states") ORMap base) {
    ORMap byA =
        base.update(
                base.nextDot(A),
                "tags",
                CrdtKind.of(ORSet.class),
                s -> s.add(base.nextDot(A), Value.of("from-a")).state())
            .state();
    ORMap byB =
        base.update(
                base.nextDot(B),
                "tags",
                CrdtKind.of(ORSet.class),
                s -> s.add(base.nextDot(B), Value.of("from-b")).state())
            .state();
    ORSet tags = (ORSet) byA.merge(byB).get("tags").orElseThrow();
    assertThat(tags.elements()).contains(Value.of("from-a"), Value.of("from-b"));
    ORMap next =
        byA.merge(byB)
            .update(
                byA.merge(byB).nextDot(A),
                "counter",
                CrdtKind.of(GCounter.class),
                g -> g.increment(A, 2).state())
            .state();
    assertThat(((GCounter) next.get("counter").orElseThrow()).value()).isEqualTo(2);
  }
}

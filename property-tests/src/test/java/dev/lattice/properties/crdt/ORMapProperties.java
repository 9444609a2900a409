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
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * The CRDT laws and the observed-remove rules of {@link ORMap}: a key updated concurrently with its
 * removal stays with the updater's own part, a remove retracts the updates it saw, concurrent
 * updates of one key merge as the nested type merges, and an update's delta holds its writer's
 * entries only.
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
        base.update(base.nextDot(B), "count", CrdtKind.of(PNCounter.class), c -> c.add(B, amount))
            .state();
    assertThat(removed.containsKey("count")).isFalse();
    ORMap merged = removed.merge(updated);
    assertThat(merged.containsKey("count")).isTrue();
    // The key keeps the concurrent updater's own part of the value, no other replica's.
    assertThat(merged.get("count"))
        .contains(((PNCounter) updated.get("count").orElseThrow()).contributionsOf(B::equals));
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
                s -> s.add(base.nextDot(A), Value.of("from-a")))
            .state();
    ORMap byB =
        base.update(
                base.nextDot(B),
                "tags",
                CrdtKind.of(ORSet.class),
                s -> s.add(base.nextDot(B), Value.of("from-b")))
            .state();
    ORSet tags = (ORSet) byA.merge(byB).get("tags").orElseThrow();
    assertThat(tags.elements()).contains(Value.of("from-a"), Value.of("from-b"));
    ORMap next =
        byA.merge(byB)
            .update(
                byA.merge(byB).nextDot(A),
                "counter",
                CrdtKind.of(GCounter.class),
                g -> g.increment(A, 2))
            .state();
    assertThat(((GCounter) next.get("counter").orElseThrow()).value()).isEqualTo(2);
  }

  @Property
  void anUpdateDeltaCarriesOnlyItsWritersOwnEntries(@ForAll("states") ORMap base) {
    ORMap delta =
        base.update(
                base.nextDot(A),
                "tags",
                CrdtKind.of(ORSet.class),
                s -> s.add(base.nextDot(A), Value.of("mine")))
            .delta();
    assertThat(delta.liveOnlyFrom(A)).isTrue();
  }

  @Property
  void aNestedRemoveRetractsOnlyTheElementItSaw(@ForAll("states") ORMap base) {
    ORMap withB =
        base.update(
                base.nextDot(B),
                "tags",
                CrdtKind.of(ORSet.class),
                s -> s.add(base.nextDot(B), Value.of("b1")))
            .state();
    ORMap withB2 =
        withB
            .update(
                withB.nextDot(B),
                "tags",
                CrdtKind.of(ORSet.class),
                s -> s.add(withB.nextDot(B), Value.of("b2")))
            .state();
    // A has seen both of B's adds and removes b2; B concurrently adds b3.
    ORMap removedByA =
        withB2
            .update(
                withB2.nextDot(A),
                "tags",
                CrdtKind.of(ORSet.class),
                s -> s.remove(withB2.nextDot(A), Value.of("b2")))
            .delta();
    ORMap addedByB =
        withB2
            .update(
                withB2.nextDot(B),
                "tags",
                CrdtKind.of(ORSet.class),
                s -> s.add(withB2.nextDot(B), Value.of("b3")))
            .delta();
    for (ORMap merged :
        List.of(
            withB2.merge(removedByA).merge(addedByB), withB2.merge(addedByB).merge(removedByA))) {
      ORSet tags = (ORSet) merged.get("tags").orElseThrow();
      assertThat(tags.contains(Value.of("b1"))).isTrue();
      assertThat(tags.contains(Value.of("b2"))).isFalse();
      assertThat(tags.contains(Value.of("b3"))).isTrue();
    }
  }
}

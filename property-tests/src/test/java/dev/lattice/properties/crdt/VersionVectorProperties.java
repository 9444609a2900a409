package dev.lattice.properties.crdt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.Causality;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.DotRange;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.VersionVector;
import dev.lattice.properties.gen.CrdtArbitraries;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.LongRange;

/**
 * Version vectors form a join-semilattice under {@link VersionVector#merge}, and {@link
 * VersionVector#compare} and {@link VersionVector#lacking} agree with that order.
 */
class VersionVectorProperties {

  @Provide
  Arbitrary<VersionVector> vectors() {
    return CrdtArbitraries.versionVectors();
  }

  /** Vectors whose entries stay far from Long.MAX_VALUE. */
  @Provide
  Arbitrary<VersionVector> lowVectors() {
    return Arbitraries.maps(CrdtArbitraries.replicas(), Arbitraries.longs().between(0, 8))
        .ofMaxSize(4)
        .map(VersionVector::of);
  }

  @Provide
  Arbitrary<ReplicaId> replicas() {
    return CrdtArbitraries.replicas();
  }

  @Provide
  Arbitrary<Long> sequences() {
    return CrdtArbitraries.sequences();
  }

  @Property
  void mergeIsCommutative(@ForAll("vectors") VersionVector a, @ForAll("vectors") VersionVector b) {
    assertThat(a.merge(b)).isEqualTo(b.merge(a));
    assertThat(a.merge(b).hashCode()).isEqualTo(b.merge(a).hashCode());
  }

  @Property
  void mergeIsAssociative(
      @ForAll("vectors") VersionVector a,
      @ForAll("vectors") VersionVector b,
      @ForAll("vectors") VersionVector c) {
    assertThat(a.merge(b).merge(c)).isEqualTo(a.merge(b.merge(c)));
  }

  @Property
  void mergeIsIdempotent(@ForAll("vectors") VersionVector a) {
    assertThat(a.merge(a)).isEqualTo(a);
  }

  @Property
  void emptyVectorIsTheIdentityOfMerge(@ForAll("vectors") VersionVector a) {
    assertThat(a.merge(VersionVector.empty())).isEqualTo(a);
    assertThat(VersionVector.empty().merge(a)).isEqualTo(a);
  }

  @Property
  void mergeIsThePointwiseMaximum(
      @ForAll("vectors") VersionVector a, @ForAll("vectors") VersionVector b) {
    VersionVector merged = a.merge(b);
    for (ReplicaId r : CrdtArbitraries.REPLICAS) {
      assertThat(merged.get(r)).isEqualTo(Math.max(a.get(r), b.get(r)));
    }
  }

  @Property
  void compareIsBeforeExactlyWhenMergeGivesTheOtherAndTheyDiffer(
      @ForAll("vectors") VersionVector a, @ForAll("vectors") VersionVector b) {
    boolean before = a.merge(b).equals(b) && !a.equals(b);
    assertThat(a.compare(b) == Causality.BEFORE).as("%s compare %s", a, b).isEqualTo(before);
  }

  @Property
  void compareIsConsistentWithMergeInEveryCase(
      @ForAll("vectors") VersionVector a, @ForAll("vectors") VersionVector b) {
    boolean aCoversB = a.merge(b).equals(a);
    boolean bCoversA = a.merge(b).equals(b);
    Causality expected =
        aCoversB && bCoversA
            ? Causality.EQUAL
            : aCoversB ? Causality.AFTER : bCoversA ? Causality.BEFORE : Causality.CONCURRENT;
    assertThat(a.compare(b)).isEqualTo(expected);
    assertThat(a.compare(b) == Causality.EQUAL).isEqualTo(a.equals(b));
  }

  @Property
  void compareIsAntisymmetric(
      @ForAll("vectors") VersionVector a, @ForAll("vectors") VersionVector b) {
    Causality ab = a.compare(b);
    Causality ba = b.compare(a);
    switch (ab) {
      case BEFORE -> assertThat(ba).isEqualTo(Causality.AFTER);
      case AFTER -> assertThat(ba).isEqualTo(Causality.BEFORE);
      case EQUAL -> assertThat(ba).isEqualTo(Causality.EQUAL);
      case CONCURRENT -> assertThat(ba).isEqualTo(Causality.CONCURRENT);
    }
  }

  @Property
  void lackingIsEmptyExactlyWhenThisDominatesOrEqualsTheOther(
      @ForAll("vectors") VersionVector a, @ForAll("vectors") VersionVector b) {
    Causality c = a.compare(b);
    boolean dominatesOrEquals = c == Causality.AFTER || c == Causality.EQUAL;
    assertThat(a.lacking(b).isEmpty()).isEqualTo(dominatesOrEquals);
  }

  @Property
  void lackingNamesExactlyTheDotsTheOtherHasSeenAndThisHasNot(
      @ForAll("vectors") VersionVector a, @ForAll("vectors") VersionVector b) {
    List<DotRange> expected = new ArrayList<>();
    for (ReplicaId r : CrdtArbitraries.REPLICAS) {
      if (b.get(r) > a.get(r)) {
        expected.add(new DotRange(r, a.get(r) + 1, b.get(r)));
      }
    }
    assertThat(a.lacking(b)).isEqualTo(expected);
  }

  @Property
  void lackingRangesFillTheGapToTheMerge(
      @ForAll("lowVectors") VersionVector a, @ForAll("lowVectors") VersionVector b) {
    assertThat(DotSet.of(a).union(DotSet.of(a.lacking(b)))).isEqualTo(DotSet.of(a.merge(b)));
  }

  @Property
  void withRaisesOneEntryToAtLeastTheSequence(
      @ForAll("vectors") VersionVector a,
      @ForAll("replicas") ReplicaId replica,
      @ForAll("sequences") long seq) {
    VersionVector raised = a.with(replica, seq);
    assertThat(raised.get(replica)).isEqualTo(Math.max(a.get(replica), seq));
    assertThat(raised).isEqualTo(a.merge(VersionVector.of(Map.of(replica, seq))));
  }

  @Property
  void containsIsTheEntryBound(
      @ForAll("vectors") VersionVector a,
      @ForAll("replicas") ReplicaId replica,
      @ForAll @LongRange(min = 1, max = 10) long seq) {
    assertThat(a.contains(new Dot(replica, seq))).isEqualTo(a.get(replica) >= seq);
  }

  @Property
  void entriesAreSortedAndPositive(@ForAll("vectors") VersionVector a) {
    assertThat(new ArrayList<>(a.entries().keySet())).isSorted();
    assertThat(a.entries().values()).allMatch(seq -> seq > 0);
    assertThat(a.isEmpty()).isEqualTo(a.equals(VersionVector.empty()));
    assertThat(VersionVector.of(a.entries())).isEqualTo(a);
  }

  @Property
  void negativeEntriesAreRefused(
      @ForAll("replicas") ReplicaId replica,
      @ForAll @LongRange(min = Long.MIN_VALUE, max = -1) long seq) {
    assertThatThrownBy(() -> VersionVector.of(Map.of(replica, seq)))
        .isInstanceOf(IllegalArgumentException.class);
  }
}

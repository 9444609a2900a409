package dev.lattice.properties.crdt;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Dot;
import dev.lattice.crdt.DotRange;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.VersionVector;
import dev.lattice.properties.gen.CrdtArbitraries;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * {@link DotSet} is a set of dots: union is a join (commutative, associative, idempotent, with the
 * empty set as identity), and every query agrees with a plain {@code TreeSet<Dot>} model built from
 * the same ranges, including ranges that touch, overlap, repeat or end at Long.MAX_VALUE.
 */
class DotSetProperties {

  @Provide
  Arbitrary<List<DotRange>> rangeLists() {
    return CrdtArbitraries.dotRangeLists();
  }

  @Provide
  Arbitrary<List<DotRange>> rangeListsReachingLongMax() {
    return CrdtArbitraries.dotRangeListsReachingLongMax();
  }

  @Provide
  Arbitrary<DotSet> dotSets() {
    return CrdtArbitraries.dotRangeLists().map(DotSet::of);
  }

  @Provide
  Arbitrary<VersionVector> vectors() {
    return CrdtArbitraries.versionVectors();
  }

  @Provide
  Arbitrary<Dot> dots() {
    return CrdtArbitraries.dots();
  }

  @Property
  void unionIsCommutative(@ForAll("dotSets") DotSet a, @ForAll("dotSets") DotSet b) {
    assertThat(a.union(b)).isEqualTo(b.union(a));
    assertThat(a.union(b).hashCode()).isEqualTo(b.union(a).hashCode());
  }

  @Property
  void unionIsAssociative(
      @ForAll("dotSets") DotSet a, @ForAll("dotSets") DotSet b, @ForAll("dotSets") DotSet c) {
    assertThat(a.union(b).union(c)).isEqualTo(a.union(b.union(c)));
  }

  @Property
  void unionIsIdempotent(@ForAll("dotSets") DotSet a) {
    assertThat(a.union(a)).isEqualTo(a);
  }

  @Property
  void emptySetIsTheIdentityOfUnion(@ForAll("dotSets") DotSet a) {
    assertThat(a.union(DotSet.empty())).isEqualTo(a);
    assertThat(DotSet.empty().union(a)).isEqualTo(a);
  }

  @Property
  void setBuiltFromRangesHoldsExactlyTheirDots(@ForAll("rangeLists") List<DotRange> ranges) {
    DotSet set = DotSet.of(ranges);
    TreeSet<Dot> model = model(ranges);
    for (Dot d : universe(ranges)) {
      assertThat(set.contains(d)).as("contains(%s) of %s", d, set).isEqualTo(model.contains(d));
    }
    assertThat(set.isEmpty()).isEqualTo(model.isEmpty());
  }

  @Property
  void rangesAreSortedDisjointNonAdjacentAndRebuildTheSet(
      @ForAll("rangeLists") List<DotRange> ranges) {
    DotSet set = DotSet.of(ranges);
    List<DotRange> out = set.ranges();
    for (int i = 1; i < out.size(); i++) {
      DotRange prev = out.get(i - 1);
      DotRange next = out.get(i);
      int byReplica = prev.replica().compareTo(next.replica());
      assertThat(byReplica).as("ranges %s sorted by replica", out).isLessThanOrEqualTo(0);
      if (byReplica == 0) {
        assertThat(next.first())
            .as("ranges %s disjoint and non-adjacent", out)
            .isGreaterThan(prev.last() + 1);
      }
    }
    assertThat(model(out)).isEqualTo(model(ranges));
    assertThat(DotSet.of(out)).isEqualTo(set);
  }

  @Property
  void setsOfTheSameDotsAreEqualHoweverTheRangesWereGiven(
      @ForAll("rangeLists") List<DotRange> ranges) {
    // One range per dot, in reverse order: the most fragmented way to give the same set.
    List<DotRange> singles = new ArrayList<>();
    for (Dot d : model(ranges).descendingSet()) {
      singles.add(new DotRange(d.replica(), d.sequence(), d.sequence()));
    }
    DotSet bySingles = DotSet.empty();
    for (Dot d : model(ranges)) {
      bySingles = bySingles.union(DotSet.of(d));
    }
    assertThat(DotSet.of(singles)).isEqualTo(DotSet.of(ranges));
    assertThat(bySingles).isEqualTo(DotSet.of(ranges));
  }

  @Property
  void unionHoldsTheDotsOfEither(
      @ForAll("rangeLists") List<DotRange> a, @ForAll("rangeLists") List<DotRange> b) {
    DotSet union = DotSet.of(a).union(DotSet.of(b));
    List<DotRange> both = new ArrayList<>(a);
    both.addAll(b);
    for (Dot d : universe(both)) {
      assertThat(union.contains(d))
          .as("contains(%s)", d)
          .isEqualTo(DotSet.of(a).contains(d) || DotSet.of(b).contains(d));
    }
    assertThat(union.containsAll(DotSet.of(a))).isTrue();
    assertThat(union.containsAll(DotSet.of(b))).isTrue();
    assertThat(union).isEqualTo(DotSet.of(both));
  }

  @Property
  void containsAllIsSubsetOfTheModel(
      @ForAll("rangeLists") List<DotRange> a, @ForAll("rangeLists") List<DotRange> b) {
    assertThat(DotSet.of(a).containsAll(DotSet.of(b))).isEqualTo(model(a).containsAll(model(b)));
  }

  @Property
  void notInKeepsExactlyTheDotsTheVectorHasNotSeen(
      @ForAll("rangeLists") List<DotRange> ranges, @ForAll("vectors") VersionVector v) {
    DotSet set = DotSet.of(ranges);
    DotSet rest = set.notIn(v);
    for (Dot d : universe(ranges)) {
      assertThat(rest.contains(d))
          .as("notIn(%s).contains(%s)", v, d)
          .isEqualTo(set.contains(d) && !v.contains(d));
    }
    assertThat(rest.union(set)).isEqualTo(set);
    assertThat(set.notIn(VersionVector.empty())).isEqualTo(set);
    assertThat(set.notIn(set.versionVector()).containsAll(DotSet.of(set.versionVector())))
        .isEqualTo(set.versionVector().isEmpty());
  }

  @Property
  void versionVectorIsTheGapFreePrefix(@ForAll("rangeLists") List<DotRange> ranges) {
    DotSet set = DotSet.of(ranges);
    TreeSet<Dot> model = model(ranges);
    VersionVector vv = set.versionVector();
    for (ReplicaId r : CrdtArbitraries.REPLICAS) {
      long prefix = 0;
      while (prefix < Long.MAX_VALUE && model.contains(new Dot(r, prefix + 1))) {
        prefix++;
      }
      assertThat(vv.get(r)).as("prefix of %s", r).isEqualTo(prefix);
    }
    assertThat(set.containsAll(DotSet.of(vv))).isTrue();
  }

  @Property
  void aVectorsDotSetHasThatVectorAsPrefix(@ForAll("vectors") VersionVector v) {
    assertThat(DotSet.of(v).versionVector()).isEqualTo(v);
    assertThat(DotSet.of(v).notIn(v).isEmpty()).isTrue();
  }

  @Property
  void singleDotIsPresentExactlyForOneDot(@ForAll("rangeLists") List<DotRange> ranges) {
    TreeSet<Dot> model = model(ranges);
    Optional<Dot> single = DotSet.of(ranges).singleDot();
    if (model.size() == 1) {
      assertThat(single).contains(model.first());
    } else {
      assertThat(single).isEmpty();
    }
  }

  @Property
  void aSingleDotSetHoldsThatDot(@ForAll("dots") Dot d) {
    assertThat(DotSet.of(d).singleDot()).contains(d);
    assertThat(DotSet.of(d))
        .isEqualTo(DotSet.of(List.of(new DotRange(d.replica(), d.sequence(), d.sequence()))));
  }

  /**
   * Sequence numbers are longs and a range may end at Long.MAX_VALUE (a forged or corrupted peer
   * can send one): building, joining and querying such sets must not overflow.
   */
  @Property
  void rangesReachingLongMaxValueBehaveLikeAnyOther(
      @ForAll("rangeListsReachingLongMax") List<DotRange> a,
      @ForAll("rangeListsReachingLongMax") List<DotRange> b) {
    List<DotRange> both = new ArrayList<>(a);
    both.addAll(b);
    DotSet union = DotSet.of(a).union(DotSet.of(b));
    TreeSet<Dot> model = model(both);
    for (Dot d : universe(both)) {
      assertThat(union.contains(d)).as("contains(%s) of %s", d, union).isEqualTo(model.contains(d));
    }
    assertThat(model(union.ranges())).isEqualTo(model);
    assertThat(union).isEqualTo(DotSet.of(both)).isEqualTo(DotSet.of(b).union(DotSet.of(a)));
  }

  private static TreeSet<Dot> model(List<DotRange> ranges) {
    TreeSet<Dot> dots = new TreeSet<>();
    for (DotRange r : ranges) {
      for (long s = r.first(); ; s++) {
        dots.add(new Dot(r.replica(), s));
        if (s == r.last()) {
          break;
        }
      }
    }
    return dots;
  }

  /** Every dot of the ranges, and the dots just around each range. */
  private static TreeSet<Dot> universe(List<DotRange> ranges) {
    TreeSet<Dot> dots = model(ranges);
    for (DotRange r : ranges) {
      for (ReplicaId replica : CrdtArbitraries.REPLICAS) {
        dots.add(new Dot(replica, 1));
        if (r.first() > 1) {
          dots.add(new Dot(replica, r.first() - 1));
        }
        if (r.last() < Long.MAX_VALUE) {
          dots.add(new Dot(replica, r.last() + 1));
        }
      }
    }
    return dots;
  }
}

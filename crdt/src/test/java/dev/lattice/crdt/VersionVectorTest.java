package dev.lattice.crdt;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class VersionVectorTest {

  private static final ReplicaId A = ReplicaId.of(1);
  private static final ReplicaId B = ReplicaId.of(2);

  @Test
  void compareTellsBeforeAfterEqualAndConcurrent() {
    VersionVector a1 = VersionVector.of(Map.of(A, 1L));
    VersionVector a2 = VersionVector.of(Map.of(A, 2L));
    VersionVector b1 = VersionVector.of(Map.of(B, 1L));

    assertThat(a1.compare(a2)).isEqualTo(Causality.BEFORE);
    assertThat(a2.compare(a1)).isEqualTo(Causality.AFTER);
    assertThat(a1.compare(VersionVector.of(Map.of(A, 1L)))).isEqualTo(Causality.EQUAL);
    assertThat(a1.compare(b1)).isEqualTo(Causality.CONCURRENT);
    assertThat(VersionVector.empty().compare(a1)).isEqualTo(Causality.BEFORE);
  }

  @Test
  void mergeIsPointwiseMaximum() {
    VersionVector x = VersionVector.of(Map.of(A, 3L, B, 1L));
    VersionVector y = VersionVector.of(Map.of(A, 1L, B, 5L));
    assertThat(x.merge(y)).isEqualTo(VersionVector.of(Map.of(A, 3L, B, 5L)));
  }

  @Test
  void lackingListsTheMissingRangePerReplica() {
    VersionVector mine = VersionVector.of(Map.of(A, 3L));
    VersionVector theirs = VersionVector.of(Map.of(A, 7L, B, 2L));
    assertThat(mine.lacking(theirs))
        .isEqualTo(List.of(new DotRange(A, 4, 7), new DotRange(B, 1, 2)));
    assertThat(theirs.lacking(mine)).isEmpty();
  }

  @Test
  void zeroEntriesAreDroppedSoEqualVectorsAreEqual() {
    assertThat(VersionVector.of(Map.of(A, 0L))).isEqualTo(VersionVector.empty());
  }

  @Test
  void replicaIdPrintsAndParsesAsSixteenHexDigits() {
    ReplicaId id = ReplicaId.of(0x8000_0000_0000_00ffL);
    assertThat(id.toString()).isEqualTo("80000000000000ff");
    assertThat(ReplicaId.parse("80000000000000ff")).isEqualTo(id);
    assertThat(id.compareTo(ReplicaId.of(1))).isPositive();
  }

  @Test
  void dotSetMergesAdjacentRangesAndFindsTheGapFreePrefix() {
    DotSet set =
        DotSet.of(List.of(new DotRange(A, 1, 2), new DotRange(A, 5, 6), new DotRange(A, 3, 3)));
    assertThat(set.ranges()).containsExactly(new DotRange(A, 1, 3), new DotRange(A, 5, 6));
    assertThat(set.versionVector()).isEqualTo(VersionVector.of(Map.of(A, 3L)));
    assertThat(set.notIn(VersionVector.of(Map.of(A, 5L))).ranges())
        .containsExactly(new DotRange(A, 6, 6));
    assertThat(set.union(DotSet.of(new Dot(A, 4))).ranges()).containsExactly(new DotRange(A, 1, 6));
  }

  /**
   * {@code above} against its definition, for flat and tree-shaped vectors on both sides, so both
   * of its ways (a walk in step, lookups when one side is much the smaller) are taken, with ids on
   * both sides of the unsigned order's sign bit.
   */
  @Test
  void aboveKeepsExactlyTheEntriesThatExceedTheOthers() {
    java.util.Random random = new java.util.Random(20261207);
    int[] sizes = {0, 1, 5, 33, 100, 1_000, 3_000};
    for (int sizeA : sizes) {
      for (int sizeB : sizes) {
        // Ids drawn from a pool a little larger than both, so the vectors overlap in part.
        long[] pool = new long[sizeA + sizeB + 10];
        for (int i = 0; i < pool.length; i++) {
          pool[i] = random.nextLong();
        }
        VersionVector a = randomVector(random, pool, sizeA);
        VersionVector b = randomVector(random, pool, sizeB);
        VersionVector expected = a.filter(r -> a.get(r) > b.get(r));
        VersionVector actual = a.above(b);
        assertThat(actual).as("|a| = %d, |b| = %d", sizeA, sizeB).isEqualTo(expected);
        assertThat(actual.entries()).isEqualTo(expected.entries());
        if (expected.size() == a.size()) {
          assertThat(actual).isSameAs(a);
        }
      }
    }
  }

  private static VersionVector randomVector(java.util.Random random, long[] pool, int size) {
    Map<ReplicaId, Long> entries = new java.util.HashMap<>();
    while (entries.size() < size) {
      entries.put(ReplicaId.of(pool[random.nextInt(pool.length)]), 1L + random.nextInt(4));
    }
    return VersionVector.of(entries);
  }
}

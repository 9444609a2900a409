package dev.lattice.crdt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.hlc.HybridLogicalClock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DocumentTest {

  private static final ReplicaId A = ReplicaId.of(0xA);
  private static final ReplicaId B = ReplicaId.of(0xB);
  private static final ReplicaId C = ReplicaId.of(0xC);

  @Test
  void aRegisterWriteStampedAfterTheFieldsTimestampWinsEvenWhenTheWritersClockIsFarBehind() {
    Document doc = Document.create("d");
    HlcTimestamp seen = HlcTimestamp.of(1_700_000_000_000L, 3);
    doc.merge(doc.copy().setRegister(B, "title", Value.of("seen"), seen));
    HybridLogicalClock dayBehind =
        new HybridLogicalClock(() -> seen.physicalMillis() - 86_400_000L, Duration.ofSeconds(60));

    // The clock alone stamps below what the field holds: the write would be dropped silently.
    assertThat(doc.registerTimestamp("title")).contains(seen);
    assertThat(dayBehind.now()).isLessThan(seen);

    doc.setRegister(A, "title", Value.of("mine"), dayBehind.nowAfter(seen));

    assertThat(doc.registerValue("title")).contains(Value.of("mine"));
    assertThat(doc.registerTimestamp("title")).contains(seen.successor());
  }

  @Test
  void registerTimestampIsEmptyForAMissingFieldAndRefusesAnotherType() {
    Document doc = Document.create("d");
    doc.incrementGCounter(A, "n", 1);
    assertThat(doc.registerTimestamp("absent")).isEmpty();
    assertThatThrownBy(() -> doc.registerTimestamp("n"))
        .isInstanceOf(FieldTypeMismatchException.class);
  }

  @Test
  void localMutationsTakeConsecutiveDotsOfTheWriter() {
    Document doc = Document.create("d");
    DocumentDelta first = doc.incrementGCounter(A, "likes", 1);
    DocumentDelta second = doc.addPNCounter(A, "stock", -3);
    DocumentDelta third = doc.incrementGCounter(B, "likes", 2);

    assertThat(first.context().singleDot()).contains(new Dot(A, 1));
    assertThat(second.context().singleDot()).contains(new Dot(A, 2));
    assertThat(third.context().singleDot()).contains(new Dot(B, 1));
    assertThat(doc.versionVector()).isEqualTo(VersionVector.of(Map.of(A, 2L, B, 1L)));
    assertThat(doc.counterValue("likes")).isEqualTo(3);
    assertThat(doc.counterValue("stock")).isEqualTo(-3);
  }

  @Test
  void incrementDeltaCarriesOnlyTheWritersNewCount() {
    Document doc = Document.create("d");
    doc.incrementGCounter(A, "likes", 5);
    doc.incrementGCounter(B, "likes", 7);
    DocumentDelta delta = doc.incrementGCounter(A, "likes", 1);

    GCounter carried = (GCounter) delta.fields().get("likes").state();
    assertThat(carried.counts()).containsExactly(Map.entry(A, 6L));
    assertThat(delta.fields().get("likes").touched()).isEqualTo(VersionVector.of(Map.of(A, 2L)));
  }

  @Test
  void mergingDeltasInAnyOrderAndMultiplicityGivesTheSameDocument() {
    Document source = Document.create("d");
    List<DocumentDelta> deltas =
        List.of(
            source.incrementGCounter(A, "n", 1),
            source.setRegister(A, "title", Value.of("x"), HlcTimestamp.of(10, 0)),
            source.incrementGCounter(B, "n", 4),
            source.setRegister(B, "title", Value.of("y"), HlcTimestamp.of(11, 0)),
            source.addPNCounter(C, "p", -2));

    Document forward = Document.create("d");
    deltas.forEach(forward::merge);
    Document backwardTwice = Document.create("d");
    for (int i = deltas.size() - 1; i >= 0; i--) {
      backwardTwice.merge(deltas.get(i));
      backwardTwice.merge(deltas.get(i));
    }

    assertThat(forward).isEqualTo(source);
    assertThat(backwardTwice).isEqualTo(source);
    assertThat(forward.registerValue("title")).contains(Value.of("y"));
  }

  @Test
  void outOfOrderDeltaIsHeldWithoutAdvancingTheVectorPastTheGap() {
    Document source = Document.create("d");
    DocumentDelta one = source.incrementGCounter(A, "n", 1);
    source.setRegister(A, "t", Value.of(1), HlcTimestamp.of(5, 0));
    DocumentDelta three = source.incrementGCounter(A, "n", 1);

    Document replica = Document.create("d");
    replica.merge(one);
    replica.merge(three);

    assertThat(replica.versionVector()).isEqualTo(VersionVector.of(Map.of(A, 1L)));
    assertThat(replica.contains(new Dot(A, 3))).isTrue();
    assertThat(replica.contains(new Dot(A, 2))).isFalse();
    // What the replica lacks is exactly the register write, dot A:2.
    DocumentDelta missing = source.deltaSince(replica.versionVector());
    replica.merge(missing);
    assertThat(replica).isEqualTo(source);
    assertThat(replica.versionVector()).isEqualTo(VersionVector.of(Map.of(A, 3L)));
  }

  @Test
  void deltaSinceEmptyVectorIsEverything() {
    Document source = Document.create("d");
    source.incrementGCounter(A, "n", 2);
    source.setRegister(B, "t", Value.of("hi"), HlcTimestamp.of(1, 0));
    source.addPNCounter(C, "p", 9);

    Document fresh = Document.create("d");
    fresh.merge(source.deltaSince(VersionVector.empty()));

    assertThat(fresh).isEqualTo(source);
  }

  @Test
  void deltaSinceSendsOnlyTheContributionsTheVectorHasNotSeen() {
    Document source = Document.create("d");
    source.incrementGCounter(A, "n", 2);
    source.incrementGCounter(B, "n", 3);
    source.setRegister(A, "old", Value.of(1), HlcTimestamp.of(1, 0));
    VersionVector peer = source.versionVector();
    source.incrementGCounter(B, "n", 4);

    DocumentDelta delta = source.deltaSince(peer);

    assertThat(delta.fields()).containsOnlyKeys("n");
    assertThat(((GCounter) delta.fields().get("n").state()).counts())
        .containsExactly(Map.entry(B, 7L));
    assertThat(delta.context().ranges()).containsExactly(new DotRange(B, 2, 2));
    assertThat(source.deltaSince(source.versionVector()).isEmpty()).isTrue();
  }

  @Test
  void overwrittenRegisterWriteIsNotResentToAPeerThatHasTheWinner() {
    Document source = Document.create("d");
    source.setRegister(A, "t", Value.of("loser"), HlcTimestamp.of(1, 0));
    source.setRegister(B, "t", Value.of("winner"), HlcTimestamp.of(2, 0));
    VersionVector peerHasOnlyWinner = VersionVector.of(Map.of(B, 1L));

    DocumentDelta delta = source.deltaSince(peerHasOnlyWinner);

    // Only the metadata of the lost write travels: no value, and the peer's winner stays.
    FieldState carried = delta.fields().get("t");
    assertThat(carried.state().isEmpty()).isTrue();
    assertThat(carried.touched()).isEqualTo(VersionVector.of(Map.of(A, 1L)));
    assertThat(delta.context().ranges()).containsExactly(new DotRange(A, 1, 1));
  }

  @Test
  void replicasHoldingTheSameDotsAreEqualAfterAntiEntropyAlone() {
    Document a = Document.create("d");
    Document b = Document.create("d");
    a.setRegister(A, "owner", Value.of("a"), HlcTimestamp.of(0, 1));
    b.setRegister(B, "owner", Value.of("b"), HlcTimestamp.of(0, 1));

    a.merge(b.deltaSince(a.versionVector()));
    b.merge(a.deltaSince(b.versionVector()));

    assertThat(a).isEqualTo(b);
    assertThat(a.registerValue("owner")).contains(Value.of("b"));
  }

  @Test
  void writeOfAnotherTypeToAnExistingFieldIsRefusedAndChangesNothing() {
    Document doc = Document.create("d");
    doc.incrementGCounter(A, "n", 1);
    Document before = doc.copy();

    assertThatThrownBy(() -> doc.setRegister(A, "n", Value.of(1), HlcTimestamp.of(1, 0)))
        .isInstanceOf(FieldTypeMismatchException.class)
        .hasMessageContaining("'n' is a G_COUNTER")
        .hasMessageContaining("LWW_REGISTER");
    assertThatThrownBy(() -> doc.addPNCounter(A, "n", 1))
        .isInstanceOf(FieldTypeMismatchException.class);
    assertThat(doc).isEqualTo(before);
  }

  @Test
  void deltaGivingAFieldAnotherTypeIsRefusedWhole() {
    Document doc = Document.create("d");
    doc.incrementGCounter(A, "n", 1);
    Document before = doc.copy();
    Document other = Document.create("d");
    other.incrementGCounter(B, "fine", 1);
    other.setRegister(B, "n", Value.of("x"), HlcTimestamp.of(1, 0));

    assertThatThrownBy(() -> doc.merge(other.deltaSince(VersionVector.empty())))
        .isInstanceOf(FieldTypeMismatchException.class);
    assertThat(doc).isEqualTo(before);
  }

  @Test
  void mergeReportsExactlyTheFieldsWhoseValueChanged() {
    Document source = Document.create("d");
    DocumentDelta inc = source.incrementGCounter(A, "n", 1);
    Document replica = Document.create("d");

    assertThat(replica.merge(inc)).containsExactly("n");
    assertThat(replica.merge(inc)).isEmpty();
  }

  @Test
  void restoredDocumentEqualsTheOriginal() {
    Document source = Document.create("d");
    source.incrementGCounter(A, "n", 1);
    source.setRegister(B, "t", Value.of(true), HlcTimestamp.of(3, 1));

    Document restored = Document.restore("d", source.context(), source.fields());

    assertThat(restored).isEqualTo(source);
  }

  @Test
  void deltaWhoseFieldNamesADotOutsideItsContextIsRejected() {
    FieldState field =
        new FieldState(GCounter.empty().increment(A, 1).state(), VersionVector.of(Map.of(A, 2L)));
    assertThatThrownBy(() -> DocumentDelta.of(DotSet.of(new Dot(A, 1)), Map.of("n", field)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("A:2".replace("A", A.toString()));
  }

  @Test
  void maxTimestampIsTheLatestRegisterWrite() {
    Document doc = Document.create("d");
    DocumentDelta a = doc.setRegister(A, "x", Value.of(1), HlcTimestamp.of(5, 0));
    DocumentDelta b = doc.setRegister(A, "y", Value.of(2), HlcTimestamp.of(9, 3));
    DocumentDelta c = doc.incrementGCounter(A, "n", 1);

    assertThat(a.join(b).join(c).maxTimestamp()).contains(HlcTimestamp.of(9, 3));
    assertThat(c.maxTimestamp()).isEmpty();
  }
}

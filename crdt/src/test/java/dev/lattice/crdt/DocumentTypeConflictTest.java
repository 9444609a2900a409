package dev.lattice.crdt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.hlc.HlcTimestamp;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The rule for one ordered history in which two writers gave a field different types. */
class DocumentTypeConflictTest {

  private static final ReplicaId ALICE = ReplicaId.of(1);
  private static final ReplicaId BOB = ReplicaId.of(2);

  @Test
  void aConflictingFieldIsLeftOutAndTheRestMergesWithItsContextWhole() {
    Document doc = Document.create("d");
    doc.incrementGCounter(ALICE, "x", 5);
    Document bobs = Document.create("d");
    DocumentDelta delta =
        bobs.setRegister(BOB, "x", Value.of("t"), HlcTimestamp.of(10, 0))
            .join(bobs.incrementGCounter(BOB, "y", 2));
    assertThatThrownBy(() -> copyOf(doc).merge(delta))
        .isInstanceOf(FieldTypeMismatchException.class);

    DocumentDelta kept = doc.withoutTypeConflicts(delta);
    assertThat(kept.fields()).containsOnlyKeys("y");
    assertThat(kept.context()).isEqualTo(delta.context());
    doc.merge(kept);
    assertThat(doc.counterValue("x")).isEqualTo(5);
    assertThat(doc.counterValue("y")).isEqualTo(2);
    assertThat(doc.contains(new Dot(BOB, 1))).isTrue();
  }

  @Test
  void aDeltaWithoutConflictsIsReturnedAsItIs() {
    Document doc = Document.create("d");
    DocumentDelta held = doc.incrementGCounter(ALICE, "x", 5);
    DocumentDelta more = Document.create("d").incrementGCounter(BOB, "x", 1);
    assertThat(doc.withoutTypeConflicts(more)).isSameAs(more);
    assertThat(held.withoutTypeConflicts(more)).isSameAs(more);
  }

  @Test
  void deltasJoinedInLogOrderKeepTheFirstType() {
    DocumentDelta counter = Document.create("d").incrementGCounter(ALICE, "x", 5);
    DocumentDelta register =
        Document.create("d").setRegister(BOB, "x", Value.of("t"), HlcTimestamp.of(10, 0));
    DocumentDelta joined = counter.join(counter.withoutTypeConflicts(register));
    assertThat(joined.fields().get("x").type()).isEqualTo(CrdtType.G_COUNTER);
    assertThat(joined.context().contains(new Dot(BOB, 1))).isTrue();
  }

  /**
   * Two replicas give one map key different kinds before either hears of the other, as two clients
   * on two servers can (docs/ARCHITECTURE.md, "Field types across servers"): both converge on the
   * first kind in {@link CrdtType} order, the other writer learns of it at its next edit of the
   * key, and a removal of the key, which observes both entries, frees it for any kind.
   */
  @Test
  void aMapKeyGivenTwoKindsConvergesOnTheFirstKindAndItsOtherWriterIsToldAtItsNextEdit() {
    CrdtKind<ORSet> set = CrdtKind.of(ORSet.class);
    CrdtKind<GCounter> counter = CrdtKind.of(GCounter.class);
    Document alice = Document.create("d");
    Document bob = Document.create("d");
    DocumentDelta tags =
        alice.updateMap(ALICE, "card", "k", set, (s, dot) -> s.add(dot, Value.of("a")));
    DocumentDelta votes = bob.updateMap(BOB, "card", "k", counter, (c, dot) -> c.increment(BOB, 2));
    assertThat(alice.keyTypeConflict(votes)).isPresent(); // what one server would refuse
    alice.merge(votes);
    bob.merge(tags);

    assertThat(alice).isEqualTo(bob);
    assertThat(CrdtType.G_COUNTER.ordinal()).isLessThan(CrdtType.OR_SET.ordinal());
    assertThat(alice.stateAt("card", List.of("k"), counter).orElseThrow().value()).isEqualTo(2L);
    assertThatThrownBy(
            () -> alice.updateMap(ALICE, "card", "k", set, (s, dot) -> s.add(dot, Value.of("b"))))
        .isInstanceOf(FieldTypeMismatchException.class)
        .hasMessageContaining("k");

    bob.merge(alice.removeFromMap(ALICE, "card", "k"));
    bob.updateMap(BOB, "card", "k", set, (s, dot) -> s.add(dot, Value.of("c")));
    assertThat(bob.stateAt("card", List.of("k"), set).orElseThrow().elements())
        .containsExactly(Value.of("c"));
  }

  private static Document copyOf(Document doc) {
    Document copy = Document.create(doc.id());
    copy.merge(doc.deltaSince(VersionVector.empty()));
    return copy;
  }
}

package dev.lattice.crdt;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.OwnDeltaCheck.Verdict;
import dev.lattice.hlc.HlcTimestamp;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The rules a server applies to a delta that a replica sends as its own. */
class OwnDeltaCheckTest {

  private static final ReplicaId A = ReplicaId.of(0xA);
  private static final ReplicaId B = ReplicaId.of(0xB);

  /** The server's replica of the document and the client's own, kept apart. */
  private final Document server = Document.create("d");

  private final Document client = Document.create("d");

  private Verdict check(ReplicaId replica, DocumentDelta delta) {
    return server.checkOwnDelta(replica, delta).verdict();
  }

  private DocumentDelta accepted(DocumentDelta delta) {
    assertThat(check(A, delta)).isEqualTo(Verdict.NEW);
    server.merge(delta);
    return delta;
  }

  @Test
  void newDotsContinuingTheHeldOnesAreNew() {
    accepted(client.incrementGCounter(A, "n", 1));
    DocumentDelta joined =
        client.incrementGCounter(A, "n", 1).join(client.incrementGCounter(A, "m", 2));
    assertThat(check(A, joined)).isEqualTo(Verdict.NEW);
  }

  @Test
  void dotsOfAnotherReplicaAreForeign() {
    DocumentDelta bs = client.incrementGCounter(B, "n", 1);
    assertThat(check(A, bs)).isEqualTo(Verdict.FOREIGN);
    assertThat(server.checkOwnDelta(A, bs).reason()).contains(B.toString());
    // A's own dot carrying B's contribution in its field state.
    DocumentDelta own = client.incrementGCounter(A, "n", 1);
    DocumentDelta smuggled =
        DocumentDelta.of(
            own.context(),
            Map.of(
                "n",
                new FieldState(
                    GCounter.of(Map.of(A, 1L, B, 99L)), own.fields().get("n").touched())));
    assertThat(check(A, smuggled)).isEqualTo(Verdict.FOREIGN);
  }

  @Test
  void anIdenticalResendIsADuplicateWhateverCameAfter() {
    DocumentDelta first = accepted(client.incrementGCounter(A, "n", 1));
    DocumentDelta second = accepted(client.incrementGCounter(A, "n", 1));
    assertThat(check(A, second)).isEqualTo(Verdict.DUPLICATE);
    assertThat(check(A, first))
        .as("older than the field's latest: changes nothing")
        .isEqualTo(Verdict.DUPLICATE);
    assertThat(check(A, first.join(second))).isEqualTo(Verdict.DUPLICATE);
    assertThat(check(A, DocumentDelta.empty())).isEqualTo(Verdict.DUPLICATE);
  }

  @Test
  void aHeldDotWithOtherContentIsReused() {
    Document backup = client.copy();
    accepted(client.incrementGCounter(A, "n", 1));
    accepted(client.incrementGCounter(A, "n", 1));
    // The restored replica gives seq 2 to a larger increment of the same field.
    backup.incrementGCounter(A, "n", 1);
    assertThat(check(A, backup.incrementGCounter(A, "n", 5))).isEqualTo(Verdict.REUSED);
    // Or seq 1 to another field.
    Document other = Document.create("d");
    assertThat(check(A, other.setRegister(A, "t", Value.of("x"), HlcTimestamp.of(1, 0))))
        .isEqualTo(Verdict.REUSED);
  }

  @Test
  void aRegisterResendHiddenByAnotherWritersLaterValueIsADuplicate() {
    DocumentDelta mine = accepted(client.setRegister(A, "t", Value.of("a"), HlcTimestamp.of(1, 0)));
    Document other = Document.create("d");
    server.merge(other.setRegister(B, "t", Value.of("b"), HlcTimestamp.of(2, 0)));
    assertThat(check(A, mine)).isEqualTo(Verdict.DUPLICATE);
  }

  @Test
  void aGapOrAMixOfHeldAndNewIsOutOfOrder() {
    DocumentDelta first = accepted(client.incrementGCounter(A, "n", 1));
    client.incrementGCounter(A, "n", 1);
    DocumentDelta third = client.incrementGCounter(A, "n", 1);
    assertThat(check(A, third)).as("seq 3 after 1: a gap").isEqualTo(Verdict.OUT_OF_ORDER);
    DocumentDelta fourth = client.incrementGCounter(A, "n", 1);
    assertThat(check(A, first.join(third).join(fourth))).isEqualTo(Verdict.OUT_OF_ORDER);
    DocumentDelta gapped =
        DocumentDelta.of(
            DotSet.of(List.of(new DotRange(A, 2, 2), new DotRange(A, 4, 4))),
            Map.of("n", fourth.fields().get("n")));
    assertThat(check(A, gapped)).as("new dots in two runs").isEqualTo(Verdict.OUT_OF_ORDER);
  }

  @Test
  void aRefusedEditsDotComesBackAsAnEmptyChangeAndClosesTheGap() {
    accepted(client.incrementGCounter(A, "n", 1));
    DocumentDelta refused = client.incrementGCounter(A, "n", 1);
    DocumentDelta later = client.incrementGCounter(A, "n", 1);
    accepted(DocumentDelta.of(refused.context(), Map.of()));
    assertThat(check(A, later)).isEqualTo(Verdict.NEW);
  }

  @Test
  void aRemoveMayNameObservedDotsOfOtherReplicasAndItsResendIsADuplicate() {
    Document other = Document.create("d");
    DocumentDelta bAdds = other.addToSet(B, "tags", Value.of("x"));
    server.merge(bAdds);
    client.merge(bAdds);

    DocumentDelta remove = accepted(client.removeFromSet(A, "tags", Value.of("x")));

    assertThat(check(A, remove)).isEqualTo(Verdict.DUPLICATE);
    assertThat(((ORSet) server.field("tags").orElseThrow().state()).elements()).isEmpty();
  }

  @Test
  void aRemoveClaimingDotsTheServerNeverHeldIsForeign() {
    // A's replica pretends to have seen B's future add, which would retract it before it exists.
    Document forged = Document.create("d");
    forged.merge(Document.create("d").addToSet(B, "tags", Value.of("x")));
    DocumentDelta remove = forged.removeFromSet(A, "tags", Value.of("x"));

    assertThat(check(A, remove)).isEqualTo(Verdict.FOREIGN);
    assertThat(server.checkOwnDelta(A, remove).reason()).contains("does not hold");
  }

  @Test
  void aSetEntryOfAnotherReplicaIsForeign() {
    DocumentDelta bAdds = Document.create("d").addToSet(B, "tags", Value.of("x"));
    DocumentDelta own = client.addToSet(A, "tags", Value.of("y"));
    DocumentDelta smuggled =
        DocumentDelta.of(
            own.context(),
            Map.of(
                "tags",
                new FieldState(
                    ((ORSet) own.fields().get("tags").state())
                        .merge((ORSet) bAdds.fields().get("tags").state()),
                    own.fields().get("tags").touched())));

    assertThat(check(A, smuggled)).isEqualTo(Verdict.FOREIGN);
  }
}

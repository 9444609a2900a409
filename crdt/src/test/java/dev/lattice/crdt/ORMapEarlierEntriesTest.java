package dev.lattice.crdt;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.OwnDeltaCheck.Verdict;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * OR-Map entries in the form of earlier builds (a nested set held as its writer's whole part, with
 * the removals it observed in the nested context): a server takes them, keeps reading the key as
 * the join of its entries, and updates of such a key keep the earlier form, so that a removal
 * reaches an element held inside another writer's entry; once those entries are gone, updates are
 * single leaves again.
 */
class ORMapEarlierEntriesTest {

  private static final ReplicaId A = ReplicaId.of(0xA);
  private static final ReplicaId B = ReplicaId.of(0xB);
  private static final CrdtKind<ORSet> SET = CrdtKind.of(ORSet.class);
  private static final Value X = Value.of("x");
  private static final Value Y = Value.of("y");

  private static Dot dot(ReplicaId r, long seq) {
    return new Dot(r, seq);
  }

  private static DotSet dots(Dot... dots) {
    return DotSet.of(
        java.util.Arrays.stream(dots)
            .map(d -> new DotRange(d.replica(), d.sequence(), d.sequence()))
            .toList());
  }

  /** A's second add as an earlier build sent it: its whole part {x, y}, superseding A:1. */
  private static DocumentDelta earlierForm(long seq, Map<Dot, Map.Entry<String, Crdt<?>>> entry) {
    DotSet mapContext = seq == 1 ? dots(dot(A, 1)) : dots(dot(A, 1), dot(A, 2));
    return DocumentDelta.of(
        dots(dot(A, seq)),
        Map.of("m", new FieldState(ORMap.of(entry, mapContext), VersionVector.of(Map.of(A, seq)))));
  }

  @Test
  void entriesOfAnEarlierBuildAreTakenReadAndRemovedFrom() {
    Document server = Document.create("d");
    DocumentDelta first =
        earlierForm(
            1,
            Map.of(
                dot(A, 1),
                Map.entry("tags", ORSet.of(Map.of(X, List.of(dot(A, 1))), dots(dot(A, 1))))));
    DocumentDelta second =
        earlierForm(
            2,
            Map.of(
                dot(A, 2),
                Map.entry(
                    "tags",
                    ORSet.of(
                        Map.of(X, List.of(dot(A, 1)), Y, List.of(dot(A, 2))),
                        dots(dot(A, 1), dot(A, 2))))));
    // Not refused: the join handles them, and refusing would lock out clients of earlier builds.
    assertThat(server.checkOwnDelta(A, first).verdict()).isEqualTo(Verdict.NEW);
    server.merge(first);
    assertThat(server.checkOwnDelta(A, second).verdict()).isEqualTo(Verdict.NEW);
    server.merge(second);
    ORMap held = server.stateAt("m", List.of(), ORMapKind.INSTANCE).orElseThrow();
    assertThat(held.isSingleLeaf(dot(A, 2))).isFalse();
    assertThat(server.stateAt("m", List.of("tags"), SET).orElseThrow().elements())
        .containsExactly(X, Y);

    // B removes x, which lives inside A's entry at A:2: the update keeps the earlier form, whose
    // nested context carries the removal, so x goes and y stays.
    DocumentDelta remove = server.mutateAt(B, "m", List.of("tags"), SET, (s, d) -> s.remove(d, X));
    assertThat(server.stateAt("m", List.of("tags"), SET).orElseThrow().elements())
        .containsExactly(Y);
    Document other = Document.create("d");
    other.merge(remove);
    other.merge(second);
    other.merge(first);
    assertThat(other.stateAt("m", List.of("tags"), SET).orElseThrow().elements())
        .containsExactly(Y);
    assertThat(other.fields()).isEqualTo(server.fields());

    // With the key removed, its earlier entries are gone, and an add is a single leaf again.
    server.removeFromMap(B, "m", "tags");
    DocumentDelta add =
        server.mutateAt(B, "m", List.of("tags"), SET, (s, d) -> s.add(d, Value.of("z")));
    ORMap addMap = (ORMap) add.fields().get("m").state();
    Dot addDot = add.context().singleDot().orElseThrow();
    assertThat(addMap.isSingleLeaf(addDot)).isTrue();
    assertThat(server.stateAt("m", List.of("tags"), SET).orElseThrow().elements())
        .containsExactly(Value.of("z"));
  }
}

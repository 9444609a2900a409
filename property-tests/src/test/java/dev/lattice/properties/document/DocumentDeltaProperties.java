package dev.lattice.properties.document;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.LWWRegister;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.properties.gen.DocumentHistories;
import dev.lattice.properties.gen.DocumentHistories.History;
import dev.lattice.properties.gen.DocumentHistories.Replay;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * {@link DocumentDelta#join} is a join-semilattice on the deltas that real document mutations and
 * syncs produce (histories over fields of fixed types, so no two deltas conflict), and joining
 * deltas before merging them is the same as merging them one by one.
 */
class DocumentDeltaProperties {

  /** Three deltas out of one history. */
  record Deltas(History history, DocumentDelta a, DocumentDelta b, DocumentDelta c) {
    @Override
    public String toString() {
      return history + "\n  a = " + a + "\n  b = " + b + "\n  c = " + c;
    }
  }

  @Provide
  Arbitrary<Deltas> deltas() {
    return DocumentHistories.histories()
        .flatMap(
            history -> {
              List<DocumentDelta> all = history.replay().allDeltas;
              if (all.isEmpty()) {
                return Arbitraries.just(
                    new Deltas(
                        history,
                        DocumentDelta.empty(),
                        DocumentDelta.empty(),
                        DocumentDelta.empty()));
              }
              return Arbitraries.of(all)
                  .tuple3()
                  .map(t -> new Deltas(history, t.get1(), t.get2(), t.get3()));
            });
  }

  @Provide
  Arbitrary<History> histories() {
    return DocumentHistories.histories();
  }

  @Property
  void joinIsCommutative(@ForAll("deltas") Deltas d) {
    assertThat(d.a().join(d.b())).isEqualTo(d.b().join(d.a()));
    assertThat(d.a().join(d.b()).hashCode()).isEqualTo(d.b().join(d.a()).hashCode());
  }

  @Property
  void joinIsAssociative(@ForAll("deltas") Deltas d) {
    assertThat(d.a().join(d.b()).join(d.c())).isEqualTo(d.a().join(d.b().join(d.c())));
  }

  @Property
  void joinIsIdempotent(@ForAll("deltas") Deltas d) {
    assertThat(d.a().join(d.a())).isEqualTo(d.a());
  }

  @Property
  void emptyDeltaIsTheIdentityOfJoin(@ForAll("deltas") Deltas d) {
    assertThat(d.a().join(DocumentDelta.empty())).isEqualTo(d.a());
    assertThat(DocumentDelta.empty().join(d.a())).isEqualTo(d.a());
    assertThat(DocumentDelta.empty().isEmpty()).isTrue();
  }

  @Property
  void joinCarriesTheDotsOfBoth(@ForAll("deltas") Deltas d) {
    DocumentDelta joined = d.a().join(d.b());
    assertThat(joined.context()).isEqualTo(d.a().context().union(d.b().context()));
    assertThat(joined.fields().keySet())
        .containsAll(d.a().fields().keySet())
        .containsAll(d.b().fields().keySet());
  }

  @Property
  void mergingAJoinEqualsMergingItsPartsInTurn(
      @ForAll("deltas") Deltas d, @ForAll @IntRange(max = 3) int replica) {
    Document base = DocumentProperties.pick(d.history().replay().docs, replica);
    Document oneByOne = base.copy();
    oneByOne.merge(d.a());
    oneByOne.merge(d.b());
    Document joined = base.copy();
    joined.merge(d.a().join(d.b()));
    DocumentProperties.assertSameDocument(joined, oneByOne);
  }

  @Property
  void maxTimestampOfAJoinIsTheGreaterOfBoth(@ForAll("deltas") Deltas d) {
    Optional<HlcTimestamp> a = d.a().maxTimestamp();
    Optional<HlcTimestamp> b = d.b().maxTimestamp();
    Optional<HlcTimestamp> expected =
        a.isEmpty()
            ? b
            : b.isEmpty() ? a : Optional.of(a.get().isAfter(b.get()) ? a.get() : b.get());
    assertThat(d.a().join(d.b()).maxTimestamp()).isEqualTo(expected);
  }

  @Property
  void maxTimestampIsTheGreatestRegisterTimestamp(@ForAll("deltas") Deltas d) {
    Optional<HlcTimestamp> expected =
        d.a().fields().values().stream()
            .map(FieldState::state)
            .filter(LWWRegister.class::isInstance)
            .map(s -> ((LWWRegister) s).timestamp())
            .flatMap(Optional::stream)
            .max(HlcTimestamp::compareTo);
    assertThat(d.a().maxTimestamp()).isEqualTo(expected);
  }

  @Property
  void mutationDeltasCarryOneDotAndOneField(@ForAll("histories") History history) {
    Replay replay = history.replay();
    for (DocumentDelta delta : replay.mutationDeltas) {
      Optional<Dot> dot = delta.context().singleDot();
      assertThat(dot).as("single dot of %s", delta).isPresent();
      assertThat(delta.fields()).hasSize(1);
      FieldState field = delta.fields().values().iterator().next();
      assertThat(field.touched())
          .isEqualTo(VersionVector.of(Map.of(dot.get().replica(), dot.get().sequence())));
    }
  }

  @Property
  void deltasWhoseFieldsNameDotsOutsideTheirContextAreRefused(@ForAll("deltas") Deltas d) {
    for (Map.Entry<String, FieldState> e : d.a().fields().entrySet()) {
      ReplicaId writer = e.getValue().touched().entries().firstKey();
      DotSet without =
          DotSet.of(
              d.a().context().ranges().stream().filter(r -> !r.replica().equals(writer)).toList());
      assertThatThrownBy(() -> DocumentDelta.of(without, Map.of(e.getKey(), e.getValue())))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(e.getKey());
    }
    assertThat(DocumentDelta.of(d.a().context(), d.a().fields())).isEqualTo(d.a());
  }
}

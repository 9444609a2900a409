package dev.lattice.properties.document;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.DotRange;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.FieldTypeMismatchException;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.properties.gen.DocumentHistories;
import dev.lattice.properties.gen.DocumentHistories.History;
import dev.lattice.properties.gen.DocumentHistories.Replay;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * Properties of {@link Document} on replicas that generated histories of writes and syncs reach:
 * deltas merge in any order and multiplicity, {@link Document#deltaSince} hands a replica exactly
 * what it lacks, and a write or delta of the wrong type is refused without a trace.
 */
class DocumentProperties {

  @Provide
  Arbitrary<History> histories() {
    return DocumentHistories.histories();
  }

  @Provide
  Arbitrary<History> historiesWithZeroAmounts() {
    return DocumentHistories.histories(24, true);
  }

  @Provide
  Arbitrary<String> fields() {
    return DocumentHistories.fieldNames();
  }

  @Property
  void mergingDeltasInAnyOrderAndMultiplicityGivesEqualDocuments(
      @ForAll("histories") History history, @ForAll long shuffleSeed) {
    assertDeltasMergeInAnyOrder(history.replay().allDeltas, new Random(shuffleSeed));
  }

  /** The same, with counter increments of zero among the writes. */
  @Property
  void mergingDeltasInAnyOrderGivesEqualDocumentsEvenWithZeroIncrements(
      @ForAll("historiesWithZeroAmounts") History history, @ForAll long shuffleSeed) {
    assertDeltasMergeInAnyOrder(history.replay().allDeltas, new Random(shuffleSeed));
  }

  private static void assertDeltasMergeInAnyOrder(List<DocumentDelta> deltas, Random random) {
    Document first = Document.create(DocumentHistories.DOC_ID);
    for (DocumentDelta d : withRepeatsShuffled(deltas, random)) {
      first.merge(d);
    }
    Document second = Document.create(DocumentHistories.DOC_ID);
    for (DocumentDelta d : withRepeatsShuffled(deltas, random)) {
      second.merge(d);
    }
    DocumentDelta joined = DocumentDelta.empty();
    for (DocumentDelta d : deltas) {
      joined = joined.join(d);
    }
    Document fromJoin = Document.create(DocumentHistories.DOC_ID);
    fromJoin.merge(joined);
    List<DocumentDelta> shuffled = new ArrayList<>(withRepeatsShuffled(deltas, random));
    DocumentDelta joinedAll = DocumentDelta.joinAll(shuffled);
    assertSameDocument(second, first);
    assertSameDocument(fromJoin, first);
    // The balanced join of the deltas, shuffled and repeated, is the one-by-one join.
    assertThat(joinedAll).isEqualTo(joined);
  }

  @Property
  void mergingEveryDeltaGivesTheJoinOfEveryReplicasFullState(@ForAll("histories") History history) {
    Replay replay = history.replay();
    Document fromDeltas = Document.create(DocumentHistories.DOC_ID);
    replay.allDeltas.forEach(fromDeltas::merge);
    Document fromStates = Document.create(DocumentHistories.DOC_ID);
    for (Document doc : replay.docs) {
      fromStates.merge(doc.deltaSince(VersionVector.empty()));
    }
    assertSameDocument(fromStates, fromDeltas);
  }

  @Property
  void deltaSinceTheEmptyVectorMergedIntoAFreshDocumentGivesAnEqualDocument(
      @ForAll("histories") History history, @ForAll @IntRange(max = 3) int replica) {
    Document source = pick(history.replay().docs, replica);
    Document fresh = Document.create(DocumentHistories.DOC_ID);
    fresh.merge(source.deltaSince(VersionVector.empty()));
    assertThat(fresh.context()).isEqualTo(source.context());
    assertThat(fresh.fields()).isEqualTo(source.fields());
    assertThat(fresh).isEqualTo(source);
  }

  @Property
  void deltaSinceAnotherReplicasVectorGivesItEverythingTheSourceHolds(
      @ForAll("histories") History history,
      @ForAll @IntRange(max = 3) int source,
      @ForAll @IntRange(max = 3) int target) {
    Replay replay = history.replay();
    Document from = pick(replay.docs, source);
    Document to = pick(replay.docs, target).copy();
    boolean sourceHoldsAllTheTargetHolds = from.context().containsAll(to.context());

    to.merge(from.deltaSince(to.versionVector()));

    assertThat(to.context().containsAll(from.context()))
        .as("target context %s holds source context %s", to.context(), from.context())
        .isTrue();
    from.fields()
        .forEach(
            (name, field) -> {
              FieldState mine = to.field(name).orElseThrow();
              assertThat(mergedState(mine, field)).as("field %s", name).isEqualTo(mine.state());
            });
    if (sourceHoldsAllTheTargetHolds) {
      // The source dominates: the target becomes an exact copy, metadata included.
      assertThat(to.fields()).isEqualTo(from.fields());
      assertThat(to).isEqualTo(from);
    }
  }

  @Property
  void deltaSinceTheReplicasOwnVectorHoldsOnlyWhatArrivedAheadOfAGap(
      @ForAll("histories") History history, @ForAll @IntRange(max = 3) int replica) {
    Document doc = pick(history.replay().docs, replica);
    VersionVector own = doc.versionVector();
    DocumentDelta delta = doc.deltaSince(own);
    assertThat(delta.context()).isEqualTo(doc.context().notIn(own));
    if (doc.context().equals(DotSet.of(own))) {
      assertThat(delta.fields()).isEmpty();
      assertThat(delta.isEmpty()).isTrue();
    }
  }

  @Property
  void deltaSinceIsWellFormedAndPartOfTheDocument(
      @ForAll("histories") History history,
      @ForAll @IntRange(max = 3) int source,
      @ForAll @IntRange(max = 3) int target) {
    Replay replay = history.replay();
    Document from = pick(replay.docs, source);
    DocumentDelta delta = from.deltaSince(pick(replay.docs, target).versionVector());
    // Rebuilding through the checked factory refuses touched dots outside the context.
    assertThat(DocumentDelta.of(delta.context(), delta.fields())).isEqualTo(delta);
    Document copy = from.copy();
    assertThat(copy.merge(delta)).isEmpty();
    assertThat(copy).isEqualTo(from);
  }

  @Property
  void writingAFieldWithADifferentTypeThrowsAndLeavesTheDocumentUnchanged(
      @ForAll("histories") History history,
      @ForAll @IntRange(max = 3) int replica,
      @ForAll("fields") String field,
      @ForAll boolean firstOtherType) {
    Document doc = pick(history.replay().docs, replica);
    ReplicaId writer = DocumentHistories.replica(replica % 2);
    CrdtType type = DocumentHistories.FIELDS.get(field);
    if (doc.typeOf(field).isEmpty()) {
      write(doc, writer, field, type);
    }
    CrdtType wrong = otherTypes(type).get(firstOtherType ? 0 : 1);
    Document before = doc.copy();

    assertThatThrownBy(() -> write(doc, writer, field, wrong))
        .isInstanceOfSatisfying(
            FieldTypeMismatchException.class,
            e -> {
              assertThat(e.field()).isEqualTo(field);
              assertThat(e.existing()).isEqualTo(type);
              assertThat(e.attempted()).isEqualTo(wrong);
            });
    assertThat(doc).isEqualTo(before);
    assertThat(doc.nextSequence(writer)).isEqualTo(before.nextSequence(writer));
  }

  @Property
  void mergingADeltaThatGivesAFieldAnotherTypeThrowsAndLeavesTheDocumentUnchanged(
      @ForAll("histories") History history,
      @ForAll @IntRange(max = 3) int replica,
      @ForAll("fields") String field,
      @ForAll boolean firstOtherType) {
    Document doc = pick(history.replay().docs, replica);
    ReplicaId writer = DocumentHistories.replica(0);
    CrdtType type = DocumentHistories.FIELDS.get(field);
    if (doc.typeOf(field).isEmpty()) {
      write(doc, writer, field, type);
    }
    // A foreign replica (another application version, say) that typed the field differently,
    // and also wrote a field the document does not have.
    Document foreign = Document.create(DocumentHistories.DOC_ID);
    ReplicaId stranger = ReplicaId.of(0x5eed);
    DocumentDelta conflicting =
        write(foreign, stranger, "zz-new-field", CrdtType.PN_COUNTER)
            .join(write(foreign, stranger, field, otherTypes(type).get(firstOtherType ? 0 : 1)));
    Document before = doc.copy();

    assertThatThrownBy(() -> doc.merge(conflicting)).isInstanceOf(FieldTypeMismatchException.class);
    assertThat(doc).isEqualTo(before);
    assertThat(doc.typeOf("zz-new-field")).isEmpty();
  }

  @Property
  void mergeReportsExactlyTheFieldsWhoseStateChanged(
      @ForAll("histories") History history,
      @ForAll @IntRange(max = 3) int replica,
      @ForAll @IntRange(max = 40) int deltaIndex) {
    Replay replay = history.replay();
    Document doc = pick(replay.docs, replica);
    DocumentDelta delta =
        replay.allDeltas.isEmpty()
            ? DocumentDelta.empty()
            : replay.allDeltas.get(deltaIndex % replay.allDeltas.size());
    Document before = doc.copy();

    Set<String> changed = doc.merge(delta);

    Set<String> expected = new TreeSet<>();
    for (String name : DocumentHistories.FIELDS.keySet()) {
      Optional<Object> was = before.field(name).map(FieldState::state);
      Optional<Object> is = doc.field(name).map(FieldState::state);
      if (!was.equals(is)) {
        expected.add(name);
      }
    }
    assertThat(changed).isEqualTo(expected);
    Document afterOnce = doc.copy();
    assertThat(doc.merge(delta)).as("merging the same delta again").isEmpty();
    assertThat(doc).isEqualTo(afterOnce);
  }

  @Property
  void versionVectorIsTheGapFreePrefixOfTheContext(@ForAll("histories") History history) {
    for (Document doc : history.replay().docs) {
      VersionVector vv = doc.versionVector();
      assertThat(vv).isEqualTo(doc.context().versionVector());
      assertThat(doc.context().containsAll(DotSet.of(vv))).isTrue();
      for (DotRange range : doc.context().ranges()) {
        assertThat(doc.contains(new Dot(range.replica(), range.first()))).isTrue();
        assertThat(doc.contains(new Dot(range.replica(), range.last()))).isTrue();
      }
      for (int r = 0; r < 4; r++) {
        ReplicaId id = DocumentHistories.replica(r);
        long max =
            doc.context().ranges().stream()
                .filter(range -> range.replica().equals(id))
                .mapToLong(DotRange::last)
                .max()
                .orElse(0);
        assertThat(doc.nextSequence(id)).isEqualTo(max + 1);
      }
    }
  }

  @Property
  void everyFieldHasItsFixedTypeAndTouchedDotsInTheContext(@ForAll("histories") History history) {
    for (Document doc : history.replay().docs) {
      doc.fields()
          .forEach(
              (name, field) -> {
                assertThat(field.type()).isEqualTo(DocumentHistories.FIELDS.get(name));
                field
                    .touched()
                    .entries()
                    .forEach(
                        (replica, seq) ->
                            assertThat(doc.contains(new Dot(replica, seq)))
                                .as("touched %s:%d of %s", replica, seq, name)
                                .isTrue());
              });
    }
  }

  @Property
  void copyIsEqualAndIndependent(
      @ForAll("histories") History history, @ForAll @IntRange(max = 3) int replica) {
    Document doc = pick(history.replay().docs, replica);
    Document copy = doc.copy();
    assertThat(copy).isEqualTo(doc);
    assertThat(copy.hashCode()).isEqualTo(doc.hashCode());
    Document snapshot = doc.copy();
    copy.addPNCounter(ReplicaId.of(0x77), "balance", 1);
    assertThat(doc).isEqualTo(snapshot);
    assertThat(copy).isNotEqualTo(doc);
  }

  // ---------------------------------------------------------------- helpers

  static Document pick(List<Document> docs, int index) {
    return docs.get(index % docs.size());
  }

  /** The join of two states of one field. */
  @SuppressWarnings({"unchecked", "rawtypes"})
  static Crdt<?> mergedState(FieldState mine, FieldState theirs) {
    return (Crdt<?>) ((Crdt) mine.state()).merge((Crdt) theirs.state());
  }

  static DocumentDelta write(Document doc, ReplicaId writer, String field, CrdtType type) {
    return switch (type) {
      case G_COUNTER -> doc.incrementGCounter(writer, field, 1);
      case PN_COUNTER -> doc.addPNCounter(writer, field, -1);
      case LWW_REGISTER ->
          doc.setRegister(writer, field, Value.of("x"), HlcTimestamp.of(1_000_000, 0));
      case OR_SET -> doc.addToSet(writer, field, Value.of("x"));
      case MV_REGISTER -> doc.writeMVRegister(writer, field, Value.of("x"));
      case OR_MAP ->
          doc.updateMap(
              writer, field, "k", CrdtKind.of(GCounter.class), (g, dot) -> g.increment(writer, 1));
    };
  }

  static List<CrdtType> otherTypes(CrdtType type) {
    List<CrdtType> others = new ArrayList<>(List.of(CrdtType.values()));
    others.remove(type);
    return others;
  }

  private static List<DocumentDelta> withRepeatsShuffled(List<DocumentDelta> deltas, Random r) {
    List<DocumentDelta> out = new ArrayList<>();
    for (DocumentDelta d : deltas) {
      int copies = 1 + r.nextInt(3);
      for (int i = 0; i < copies; i++) {
        out.add(d);
      }
    }
    Collections.shuffle(out, r);
    return out;
  }

  static void assertSameDocument(Document actual, Document expected) {
    assertThat(actual.context()).as("context").isEqualTo(expected.context());
    assertThat(actual.fields()).as("fields").isEqualTo(expected.fields());
    assertThat(actual).isEqualTo(expected);
  }
}

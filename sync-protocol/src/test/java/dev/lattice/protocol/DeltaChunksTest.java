package dev.lattice.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.crdt.codec.CrdtCodecs;
import dev.lattice.hlc.HlcTimestamp;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class DeltaChunksTest {

  private static final CrdtCodecs CODECS = CrdtCodecs.defaults();

  /**
   * A document written by several replicas, with fields written many times each, so that most dots
   * are not the latest contribution to their field: the case that makes whole-context parts unsafe.
   */
  private static Document busyDocument(long seed, int fields, int writes) {
    Random random = new Random(seed);
    Document doc = Document.create("d");
    for (int i = 0; i < writes; i++) {
      ReplicaId writer = ReplicaId.of(1 + random.nextInt(4));
      int f = random.nextInt(fields);
      if (f % 3 == 0) {
        doc.incrementGCounter(writer, "counter-" + f, 1 + random.nextInt(5));
      } else if (f % 3 == 1) {
        doc.addPNCounter(writer, "pn-" + f, random.nextInt(11) - 5);
      } else {
        doc.setRegister(
            writer,
            "title-" + f,
            Value.of("value " + random.nextInt(1_000_000) + " ".repeat(random.nextInt(40))),
            HlcTimestamp.of(1_700_000_000_000L + i, 0));
      }
    }
    return doc;
  }

  @Test
  void aDeltaThatFitsIsOnePartUnchanged() {
    DocumentDelta delta = busyDocument(1, 5, 20).deltaSince(VersionVector.empty());
    DeltaChunks.Split split = DeltaChunks.split(delta, 1 << 20);

    assertThat(split.whole()).isTrue();
    assertThat(split.parts()).containsExactly(delta);
  }

  @Test
  void everyPartFitsAndAllPartsThenTheContextRebuildTheDocument() {
    for (long seed = 1; seed <= 20; seed++) {
      Document source = busyDocument(seed, 60, 600);
      DocumentDelta delta = source.deltaSince(VersionVector.empty());
      int budget = 400 + (int) (seed * 37);

      DeltaChunks.Split split = DeltaChunks.split(delta, budget);

      assertThat(split.whole()).isFalse();
      assertThat(split.parts()).hasSizeGreaterThan(1);
      Document receiver = Document.create("d");
      for (DocumentDelta part : split.parts()) {
        assertThat(CODECS.documentDelta().encode(part).length).isLessThanOrEqualTo(budget);
        receiver.merge(part);
      }
      receiver.merge(DocumentDelta.of(split.context(), java.util.Map.of()));
      assertThat(receiver).as("seed %d", seed).isEqualTo(source);
    }
  }

  @Test
  void aReceiverOfOnlySomePartsNeverClaimsWhatItLacks() {
    for (long seed = 1; seed <= 20; seed++) {
      Document source = busyDocument(seed, 40, 400);
      DeltaChunks.Split split = DeltaChunks.split(source.deltaSince(VersionVector.empty()), 500);
      for (int received = 0; received < split.parts().size(); received++) {
        Document receiver = Document.create("d");
        for (int i = 0; i < received; i++) {
          receiver.merge(split.parts().get(i));
        }
        // The connection dropped; the next catch-up is driven by what the receiver claims.
        receiver.merge(source.deltaSince(receiver.versionVector()));
        assertThat(receiver).as("seed %d after %d parts", seed, received).isEqualTo(source);
      }
    }
  }

  @Test
  void forUpdatesLeavesRoomForTheFrameAroundTheDelta() {
    Document source = busyDocument(7, 60, 600);
    DocumentDelta delta = source.deltaSince(VersionVector.empty());
    int maxFrame = 2_000;
    MessageCodec codec =
        MessageCodec.create(ProtocolLimits.builder().maxFrameBytes(maxFrame).build());

    DeltaChunks.Split split = DeltaChunks.forUpdates("a-document-id", delta, maxFrame);

    for (DocumentDelta part : split.parts()) {
      assertThat(codec.encode(Update.request(Long.MAX_VALUE, "a-document-id", part)).length)
          .isLessThanOrEqualTo(maxFrame);
    }
  }

  @Test
  void aFieldTooLargeForAnyFrameIsRefusedByName() {
    Document doc = Document.create("d");
    doc.setRegister(
        ReplicaId.of(1), "huge", Value.of("x".repeat(5_000)), HlcTimestamp.of(1_000, 0));
    doc.incrementGCounter(ReplicaId.of(1), "small", 1);

    assertThatThrownBy(() -> DeltaChunks.split(doc.deltaSince(VersionVector.empty()), 1_000))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'huge'");
  }

  /** A register write of "r" whose fan-out UPDATE of "doc" is exactly {@code bytes}. */
  private static DocumentDelta registerWriteOfFanOutSize(int bytes) {
    MessageCodec codec = MessageCodec.defaults();
    int pad = 1;
    DocumentDelta delta = null;
    for (int round = 0; round < 3; round++) {
      delta =
          Document.create("doc")
              .setRegister(
                  ReplicaId.of(7), "r", Value.of(new byte[pad]), HlcTimestamp.of(1_000, 0));
      pad += bytes - codec.encode(Update.fanOut("doc", delta)).length;
    }
    assertThat(codec.encode(Update.fanOut("doc", delta))).hasSize(bytes);
    return delta;
  }

  @Test
  void forFanOutUsesTheWholeFrameAndUnsendableFieldIsItsExactEdge() {
    int maxFrame = 4_096;
    MessageCodec codec =
        MessageCodec.create(ProtocolLimits.builder().maxFrameBytes(maxFrame).build());
    DocumentDelta atLimit = registerWriteOfFanOutSize(maxFrame);
    DocumentDelta overLimit = registerWriteOfFanOutSize(maxFrame + 1);

    assertThat(DeltaChunks.unsendableField("doc", atLimit, maxFrame)).isEmpty();
    assertThat(DeltaChunks.forFanOut("doc", atLimit, maxFrame).parts()).hasSize(1);
    assertThat(DeltaChunks.unsendableField("doc", overLimit, maxFrame)).contains("r");
    assertThat(DeltaChunks.forFanOut("doc", overLimit, maxFrame).skipped()).containsExactly("r");
    // A long document id costs its own length, with a longer str header.
    String longId = "x".repeat(300);
    assertThat(DeltaChunks.fanOutOverheadBytes(longId))
        .isEqualTo(
            codec.encode(Update.fanOut(longId, DocumentDelta.empty())).length
                - CODECS.documentDelta().encode(DocumentDelta.empty()).length);
  }

  @Test
  void aFieldTouchedByManyReplicasIsCutByReplicaAndNeverStopsACatchUp() {
    Document source = Document.create("d");
    for (int r = 1; r <= 300; r++) {
      source.incrementGCounter(ReplicaId.of(r * 1_000_003L), "likes", r);
      source.setRegister(
          ReplicaId.of(r * 1_000_003L),
          "title",
          Value.of("by " + r),
          HlcTimestamp.of(1_000 + r, 0));
    }
    DocumentDelta delta = source.deltaSince(VersionVector.empty());
    int budget = 600;

    DeltaChunks.Split split = DeltaChunks.split(delta, budget);

    Document receiver = Document.create("d");
    for (DocumentDelta part : split.parts()) {
      assertThat(CODECS.documentDelta().encode(part).length).isLessThanOrEqualTo(budget);
      receiver.merge(part);
    }
    receiver.merge(DocumentDelta.of(split.context(), java.util.Map.of()));
    assertThat(receiver).isEqualTo(source);
    assertThat(receiver.counterValue("likes")).isEqualTo(300 * 301 / 2);
    // Any prefix of the parts then a catch-up still converges.
    Document partial = Document.create("d");
    for (int i = 0; i < split.parts().size() / 2; i++) {
      partial.merge(split.parts().get(i));
    }
    partial.merge(source.deltaSince(partial.versionVector()));
    assertThat(partial).isEqualTo(source);
  }

  @Test
  void aFanOutSplitLeavesOutAFieldNoFrameCanCarryAndTheReceiverNeverClaimsIt() {
    Document source = busyDocument(3, 30, 200);
    ReplicaId writer = ReplicaId.of(9);
    source.setRegister(
        writer, "huge", Value.of("x".repeat(5_000)), HlcTimestamp.of(1_800_000_000_000L, 0));
    source.incrementGCounter(writer, "after", 1); // a later dot of the same replica
    DocumentDelta delta = source.deltaSince(VersionVector.empty());

    DeltaChunks.Split split = DeltaChunks.forFanOut("d", delta, 1_000);

    assertThat(split.skipped()).containsExactly("huge");
    assertThat(split.whole()).isFalse();
    Document receiver = Document.create("d");
    for (DocumentDelta part : split.parts()) {
      assertThat(part.fields()).doesNotContainKey("huge");
      receiver.merge(part);
    }
    receiver.merge(DocumentDelta.of(split.context(), java.util.Map.of()));
    // Everything else arrived; the huge field's dot is a gap, so the next catch-up offers it.
    assertThat(receiver.fields()).doesNotContainKey("huge").containsKey("after");
    assertThat(receiver.versionVector().get(writer)).isLessThan(source.versionVector().get(writer));
    assertThat(source.deltaSince(receiver.versionVector()).fields()).containsKey("huge");
    Document rest = receiver.copy();
    rest.merge(source.deltaSince(receiver.versionVector()));
    assertThat(rest).isEqualTo(source);
  }

  @Test
  void aFieldSharingTheLeftOutDotIsLeftOutTooSoNoPartClaimsIt() {
    Document source = Document.create("d");
    ReplicaId writer = ReplicaId.of(9);
    source.incrementGCounter(ReplicaId.of(1), "other", 1);
    // One update of two fields with one dot: the huge register and a counter.
    Document scratch = source.copy();
    DocumentDelta both =
        scratch
            .setRegister(writer, "huge", Value.of("x".repeat(5_000)), HlcTimestamp.of(1_000, 0))
            .join(scratch.incrementGCounter(writer, "shared", 1));
    TreeMap<String, FieldState> oneDot = new TreeMap<>();
    both.fields()
        .forEach(
            (n, f) ->
                oneDot.put(n, new FieldState(f.state(), VersionVector.empty().with(writer, 1))));
    source.merge(DocumentDelta.of(DotSet.of(new Dot(writer, 1)), oneDot));

    DeltaChunks.Split split =
        DeltaChunks.forFanOut("d", source.deltaSince(VersionVector.empty()), 1_000);

    assertThat(split.skipped()).containsExactly("huge", "shared");
    Document receiver = Document.create("d");
    split.parts().forEach(receiver::merge);
    receiver.merge(DocumentDelta.of(split.context(), java.util.Map.of()));
    assertThat(receiver.versionVector().get(writer)).isZero();
    assertThat(receiver.counterValue("other")).isEqualTo(1);
  }
}

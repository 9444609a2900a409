package dev.lattice.protocol;

import static dev.lattice.protocol.Samples.CODEC;
import static dev.lattice.protocol.Samples.R;
import static dev.lattice.protocol.Samples.T1;
import static dev.lattice.protocol.Samples.bytes;
import static dev.lattice.protocol.Samples.hex;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import java.util.Arrays;
import java.util.Optional;
import java.util.OptionalInt;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Protocol version 2: SUBSCRIBE's alias and UPDATE_OWN, their sizes, and hostile input. */
class VersionTwoFramesTest {

  private static final ReplicaId OTHER = ReplicaId.of(0x0a);

  private static AbstractThrowableAssert<?, ? extends Throwable> assertMalformed(
      String hex, int version) {
    return assertThatThrownBy(() -> CODEC.decode(bytes(hex), version))
        .isInstanceOf(ProtocolException.class)
        .satisfies(
            e -> assertThat(((ProtocolException) e).code()).isEqualTo(ErrorCode.MALFORMED_MESSAGE));
  }

  // ---------------------------------------------------------------- sizes

  @Test
  void anIncrementOfAOneLetterFieldIsAtMost14BytesWithSmallNumbers() {
    // Request id, alias, seq and count below 128 are positive fixints: one byte each.
    for (long small : new long[] {1, 127}) {
      OwnUpdate increment =
          new OwnUpdate(small, (int) small, small, "g", new OwnUpdate.GCount(small));
      byte[] frame = CODEC.encode(increment);
      assertThat(frame.length).as("%s: %s", increment, hex(frame)).isEqualTo(9).isLessThan(15);
      // A client frame under 126 bytes has a 6-byte WebSocket header: 2 + a 4-byte mask.
      assertThat(frame.length + 6).isLessThanOrEqualTo(20);
    }
  }

  @Test
  void theSameIncrementAsVersionOneUpdateIsLessThanHalfTheBytes() {
    DocumentDelta delta = Document.create("doc-0").incrementGCounter(R, "g", 1);
    byte[] v1 = CODEC.encode(Update.request(1, "doc-0", delta));
    byte[] v2 = CODEC.encode(OwnUpdate.of(1, 0, R, delta).orElseThrow());
    assertThat(v1.length).isEqualTo(26); // 32 on the wire
    assertThat(v2.length).isEqualTo(9); // 15 on the wire
    assertThat(hex(v2)).isEqualTo("970c010001a1670201");
  }

  @Test
  void theWorkedExamplesHaveTheSizesThePageStates() {
    // docs/PROTOCOL.md, "Version 2 examples": message bytes of UPDATE_OWN and of the same UPDATE.
    Document doc = Document.create("d");
    DocumentDelta likes = doc.incrementGCounter(R, "likes", 1);
    DocumentDelta title = doc.setRegister(R, "title", Value.of("hi"), T1);
    DocumentDelta stock = doc.addPNCounter(R, "stock", -3);
    assertThat(CODEC.encode(Update.request(2, "d", likes))).hasSize(26);
    assertThat(CODEC.encode(OwnUpdate.of(2, 0, R, likes).orElseThrow())).hasSize(13);
    assertThat(CODEC.encode(Update.request(3, "d", title))).hasSize(38);
    assertThat(CODEC.encode(OwnUpdate.of(3, 0, R, title).orElseThrow())).hasSize(25);
    assertThat(CODEC.encode(Update.request(4, "d", stock))).hasSize(28);
    assertThat(CODEC.encode(OwnUpdate.of(4, 0, R, stock).orElseThrow())).hasSize(15);
    assertThat(CODEC.encode(OwnUpdate.of(4, 0, R, stock).orElseThrow()))
        .isEqualTo(Samples.goldens().get("UPDATE_OWN_PN").frame());
    assertThat(CODEC.encode(OwnUpdate.of(3, 0, R, title).orElseThrow()))
        .isEqualTo(Samples.goldens().get("UPDATE_OWN_REGISTER").frame());
  }

  @Test
  void sizeGrowsWithTheNumbersAsMessagePackInts() {
    // Request id, seq and count of 200 take uint8 (2 bytes), 70000 uint32 (5 bytes).
    assertThat(CODEC.encode(new OwnUpdate(200, 0, 200, "g", new OwnUpdate.GCount(200))))
        .hasSize(12);
    assertThat(CODEC.encode(new OwnUpdate(70_000, 0, 70_000, "g", new OwnUpdate.GCount(70_000))))
        .hasSize(21);
    // docs/PROTOCOL.md, "Size": a few hundred increments in, 15 bytes (21 on the wire)...
    assertThat(CODEC.encode(new OwnUpdate(300, 0, 300, "g", new OwnUpdate.GCount(300))))
        .hasSize(15);
    // ...and with small numbers any name of up to 6 bytes stays within 14 (20 on the wire).
    assertThat(CODEC.encode(new OwnUpdate(1, 0, 1, "abcdef", new OwnUpdate.GCount(1)))).hasSize(14);
  }

  // ---------------------------------------------------------------- OwnUpdate <-> delta

  @Test
  void ownUpdateCarriesExactlyTheCompactDeltaOfItsReplica() {
    Document doc = Document.create("d");
    DocumentDelta increment = doc.incrementGCounter(R, "likes", 1);
    DocumentDelta again = doc.incrementGCounter(R, "likes", 4);
    DocumentDelta subtract = doc.addPNCounter(R, "stock", -3);
    DocumentDelta write = doc.setRegister(R, "title", Value.of("hi"), T1);
    for (DocumentDelta delta : new DocumentDelta[] {increment, again, subtract, write}) {
      OwnUpdate own = OwnUpdate.of(9, 1, R, delta).orElseThrow();
      assertThat(own.delta(R)).isEqualTo(delta);
      OwnUpdate decoded = (OwnUpdate) CODEC.decode(CODEC.encode(own), 2);
      assertThat(decoded.delta(R)).isEqualTo(delta);
    }
    assertThat(OwnUpdate.of(9, 1, R, again).orElseThrow().state())
        .isEqualTo(new OwnUpdate.GCount(5)); // the running count, not the amount added
    assertThat(OwnUpdate.of(9, 1, R, again).orElseThrow().seq()).isEqualTo(2);
  }

  @Test
  void deltasWithoutACompactFormOfTheReplicaHaveNoOwnUpdate() {
    Document doc = Document.create("d");
    DocumentDelta mine = doc.incrementGCounter(R, "a", 1);
    DocumentDelta theirs = doc.incrementGCounter(OTHER, "a", 1);
    assertThat(OwnUpdate.of(1, 0, OTHER, mine)).isEmpty(); // another replica's dot
    assertThat(OwnUpdate.of(1, 0, R, mine.join(doc.incrementGCounter(R, "b", 1)))).isEmpty();
    assertThat(OwnUpdate.of(1, 0, R, mine.join(theirs))).isEmpty(); // two replicas
    assertThat(OwnUpdate.of(1, 0, R, DocumentDelta.empty())).isEmpty();
    assertThat(OwnUpdate.of(1, 0, R, doc.deltaSince(VersionVector.empty()))).isEmpty();
  }

  // ---------------------------------------------------------------- negotiation of the codec

  @Test
  void versionOneRefusesUpdateOwnNamingTheVersion() {
    assertMalformed("97 0c 02 00 01 a56c696b6573 02 01", 1)
        .hasMessage(
            "frame.type: expected a message type code from 1 (HELLO) to 11 (ERROR) of protocol"
                + " version 1, got 12 (UPDATE_OWN), which needs protocol version 2 at byte 1");
    assertThatThrownBy(() -> CODEC.decode(bytes("97 0c 02 00 01 a56c696b6573 02 01")))
        .isInstanceOf(ProtocolException.class)
        .hasMessageContaining("needs protocol version 2");
  }

  @Test
  void versionOneIgnoresTheAliasLikeAnyUnknownTrailingField() {
    byte[] frame = bytes("95 03 01 a164 93 05 01 80 00");
    assertThat(CODEC.decode(frame, 1)).isEqualTo(new Subscribe(1, "d", VersionVector.empty()));
    assertThat(CODEC.decode(frame, 2))
        .isEqualTo(Subscribe.withAlias(1, "d", VersionVector.empty(), 0));
    // Version 1 accepts anything there; version 2 wants an int or nil.
    assertThat(CODEC.decode(bytes("95 03 01 a164 93 05 01 80 a178"), 1))
        .isEqualTo(new Subscribe(1, "d", VersionVector.empty()));
    assertMalformed("95 03 01 a164 93 05 01 80 a178", 2)
        .hasMessage("SUBSCRIBE.alias: expected a document alias, got fixstr at byte 9");
    // Nil is no alias; later trailing fields stay ignored.
    assertThat(CODEC.decode(bytes("96 03 01 a164 93 05 01 80 c0 a178"), 2))
        .isEqualTo(new Subscribe(1, "d", VersionVector.empty(), OptionalInt.empty()));
    assertThat(CODEC.decode(bytes("96 03 01 a164 93 05 01 80 05 a178"), 2))
        .isEqualTo(Subscribe.withAlias(1, "d", VersionVector.empty(), 5));
  }

  @Test
  void updateOwnIgnoresTrailingFields() {
    assertThat(CODEC.decode(bytes("98 0c 02 00 01 a167 02 01 81 a178 92 01 c0"), 2))
        .isEqualTo(new OwnUpdate(2, 0, 1, "g", new OwnUpdate.GCount(1)));
  }

  @Test
  void refusesVersionsThisBuildDoesNotSpeak() {
    assertThatThrownBy(() -> CODEC.decode(bytes("93 06 02 a164"), 3))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("protocol version 3");
    assertThatThrownBy(() -> CODEC.decode(bytes("93 06 02 a164"), 0))
        .isInstanceOf(IllegalArgumentException.class);
  }

  // ---------------------------------------------------------------- hostile input

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "alias negative, 95 03 01 a164 93 05 01 80 ff, 'SUBSCRIBE.alias: expected a document alias"
        + " from 0 to 2147483647, got -1 at byte 9'",
    "alias past int, 95 03 01 a164 93 05 01 80 ce80000000, 'SUBSCRIBE.alias: expected a document"
        + " alias from 0 to 2147483647, got 2147483648 at byte 9'",
    "own request id zero, 97 0c 00 00 01 a167 02 01, 'UPDATE_OWN.requestId: expected a request id"
        + " (positive int), got 0 at byte 2'",
    "own request id nil, 97 0c c0 00 01 a167 02 01, 'UPDATE_OWN.requestId: expected a request id"
        + " (positive int), got nil at byte 2'",
    "own alias negative, 97 0c 02 ff 01 a167 02 01, 'UPDATE_OWN.alias: expected a document alias"
        + " from 0 to 2147483647, got -1 at byte 3'",
    "own alias a string, 97 0c 02 a130 01 a167 02 01, 'UPDATE_OWN.alias: expected a document"
        + " alias, got fixstr at byte 3'",
    "own alias uint64, 97 0c 02 cfffffffffffffffff 01 a167 02 01, 'UPDATE_OWN.alias: expected a"
        + " document alias, got 18446744073709551615, past the signed 64-bit range at byte 3'",
  })
  void refusesBadAliasesAndRequestIds(String what, String hex, String message) {
    assertMalformed(hex, 2).hasMessage(message);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "seq zero, 97 0c 02 00 00 a167 02 01, DocumentDelta.sequence",
    "seq negative, 97 0c 02 00 ff a167 02 01, DocumentDelta.sequence",
    "seq uint64 past int64, 97 0c 02 00 cfffffffffffffffff a167 02 01, DocumentDelta.sequence",
    "seq a string, 97 0c 02 00 a131 a167 02 01, DocumentDelta.sequence",
    "field an int, 97 0c 02 00 01 05 02 01, DocumentDelta.name",
    "field malformed UTF-8, 97 0c 02 00 01 a2c0af 02 01, DocumentDelta.name",
    "field type 5, 97 0c 02 00 01 a167 05 01, DocumentDelta.type",
    "count negative, 97 0c 02 00 01 a167 02 ff, DocumentDelta.state",
    "count a float, 97 0c 02 00 01 a167 02 cb3ff0000000000000, DocumentDelta.state",
    "PN state of three, 97 0c 02 00 01 a167 03 93 00 01 02, DocumentDelta.state",
    "PN state a map, 97 0c 02 00 01 a167 03 81 00 01, DocumentDelta.state",
    "register of one, 97 0c 02 00 01 a167 04 91 01, DocumentDelta.state",
    "register ts negative, 97 0c 02 00 01 a167 04 92 01 ff, DocumentDelta.state.timestamp",
  })
  void refusesBadCompactParts(String what, String hex, String where) {
    assertMalformed(hex, 2)
        .hasMessageStartingWith("UPDATE_OWN.seq..state (the tail of a compact delta at byte 4")
        .hasMessageContaining(where);
  }

  @Test
  void refusesMissingFieldsAndForgedLengths() {
    assertMalformed("96 0c 02 00 01 a167 02", 2)
        .hasMessage(
            "UPDATE_OWN.header: expected 6 fields [requestId, alias, seq, field, fieldType, state]"
                + " after the type, got 5: missing [state] at byte 0");
    assertMalformed("97 0c 02 00 01 db ffffffff 02 01", 2).hasMessageContaining("UPDATE_OWN.field");
    assertMalformed("97 0c 02 00 01 a167 04 dd 7fffffff", 2)
        .hasMessageContaining("UPDATE_OWN.state")
        .hasMessageContaining("declaring 2147483647");
    // A field name over the codec's maxStringBytes.
    MessageCodec small =
        MessageCodec.create(
            ProtocolLimits.builder()
                .codecLimits(
                    dev.lattice.crdt.codec.CodecLimits.defaults().toBuilder()
                        .maxStringBytes(4)
                        .build())
                .build());
    assertThatThrownBy(() -> small.decode(bytes("97 0c 02 00 01 a56c696b6573 02 01"), 2))
        .isInstanceOf(ProtocolException.class)
        .hasMessageContaining("maxStringBytes");
    assertThatThrownBy(() -> small.encode(new OwnUpdate(2, 0, 1, "likes", new OwnUpdate.GCount(1))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("cannot encode UPDATE_OWN");
  }

  @Test
  void refusesDeepRegisterValues() {
    byte[] deep = new byte[10_000];
    Arrays.fill(deep, (byte) 0x91);
    deep[deep.length - 1] = 0x01;
    byte[] head = bytes("97 0c 02 00 01 a167 04 92");
    byte[] frame = Arrays.copyOf(head, head.length + deep.length + 1);
    System.arraycopy(deep, 0, frame, head.length, deep.length);
    assertThatThrownBy(() -> CODEC.decode(frame, 2))
        .isInstanceOf(ProtocolException.class)
        .hasMessageContaining("maxDepth");
  }

  @Test
  void recordsRefuseBadComponents() {
    assertThatThrownBy(() -> new OwnUpdate(0, 0, 1, "g", new OwnUpdate.GCount(1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new OwnUpdate(1, -1, 1, "g", new OwnUpdate.GCount(1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new OwnUpdate(1, 0, 0, "g", new OwnUpdate.GCount(1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new OwnUpdate.GCount(-1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new OwnUpdate.PNCount(0, -1))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Subscribe.withAlias(1, "d", VersionVector.empty(), -1))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(new OwnUpdate(1, 0, 1, "g", new OwnUpdate.RegisterWrite(Value.nil(), T1)).state())
        .isEqualTo(new OwnUpdate.RegisterWrite(Value.nil(), T1));
    assertThat(Optional.of(new OwnUpdate.EmptyRegister().fieldType())).contains(4);
  }
}

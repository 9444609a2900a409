package dev.lattice.server.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.codec.CrdtCodecs;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.protocol.Presence;
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.StoreCursor;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.msgpack.core.MessageBufferPacker;
import org.msgpack.core.MessagePack;

class ReplicationMessageTest {

  private final CrdtCodecs codecs = CrdtCodecs.defaults();
  private final MessageCodec protocol = MessageCodec.defaults();

  private ReplicationMessage roundTrip(ReplicationMessage m) throws Exception {
    return ReplicationMessage.decode(
        ReplicationMessage.encode(m, codecs, protocol), codecs, protocol);
  }

  @Test
  void aRoundKeepsItsDeltaAndBothPositions() throws Exception {
    Document doc = Document.create("d");
    DocumentDelta delta =
        doc.incrementGCounter(ReplicaId.of(7), "likes", 3)
            .join(doc.setRegister(ReplicaId.of(7), "title", Value.of("hi"), HlcTimestamp.of(5, 1)));
    Appended appended =
        new Appended(
            new StoreCursor(1_700_000_000_000L, 3), new StoreCursor(1_700_000_000_001L, 0));

    ReplicationMessage back =
        roundTrip(new ReplicationMessage.Delta(42, 1_700_000_000_002L, delta, appended));

    assertThat(back)
        .isEqualTo(new ReplicationMessage.Delta(42, 1_700_000_000_002L, delta, appended));
  }

  @Test
  void anUnknownPreviousPositionTravelsAsNil() throws Exception {
    DocumentDelta delta = Document.create("d").incrementGCounter(ReplicaId.of(1), "n", 1);
    Appended appended = new Appended(null, StoreCursor.of(9));

    ReplicationMessage back = roundTrip(new ReplicationMessage.Delta(-1, 0, delta, appended));

    assertThat(((ReplicationMessage.Delta) back).appended()).isEqualTo(appended);
    assertThat(back.origin()).isEqualTo(-1);
  }

  @Test
  void aPresenceKeepsEverything() throws Exception {
    Presence p = new Presence("d", ReplicaId.of(3), 5_000, Optional.of(Value.of("typing")));

    assertThat(roundTrip(new ReplicationMessage.PresenceChange(9, p)))
        .isEqualTo(new ReplicationMessage.PresenceChange(9, p));
    Presence leave = Presence.leave("d", ReplicaId.of(3));
    assertThat(roundTrip(new ReplicationMessage.PresenceChange(9, leave)))
        .isEqualTo(new ReplicationMessage.PresenceChange(9, leave));
  }

  @Test
  void aNewerVersionOrDamagedBytesAreUnreadableNotFatal() throws Exception {
    MessageBufferPacker p = MessagePack.newDefaultBufferPacker();
    p.packArrayHeader(3).packInt(2).packInt(0).packLong(1);
    byte[] newer = p.toByteArray();

    assertThatThrownBy(() -> ReplicationMessage.decode(newer, codecs, protocol))
        .isInstanceOf(ReplicationMessage.UnreadableMessageException.class)
        .hasMessageContaining("version 2");
    assertThatThrownBy(() -> ReplicationMessage.decode(new byte[] {(byte) 0xc1}, codecs, protocol))
        .isInstanceOf(ReplicationMessage.UnreadableMessageException.class);
    byte[] good =
        ReplicationMessage.encode(
            new ReplicationMessage.Delta(
                1,
                2,
                Document.create("d").incrementGCounter(ReplicaId.of(1), "n", 1),
                new Appended(null, StoreCursor.of(1))),
            codecs,
            protocol);
    byte[] cut = java.util.Arrays.copyOf(good, good.length - 2);
    assertThatThrownBy(() -> ReplicationMessage.decode(cut, codecs, protocol))
        .isInstanceOf(ReplicationMessage.UnreadableMessageException.class);
  }
}

package dev.lattice.server.redis;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.codec.CrdtCodecs;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.protocol.Presence;
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.StoreCursor;
import java.io.IOException;
import org.msgpack.core.MessageBufferPacker;
import org.msgpack.core.MessagePack;
import org.msgpack.core.MessageUnpacker;

/**
 * What server processes publish to a document's Redis channel, in MessagePack: {@code [1, 0,
 * origin, sentAt, previous | nil, position, delta]} for a durable round ({@code delta} the store's
 * own encoding of a document delta, positions as {@code millis-sequence} strings) and {@code [1, 1,
 * origin, presence]} for a presence ({@code presence} a protocol PRESENCE frame). The leading 1 is
 * the format version: a server that reads a version it does not know repairs from the store
 * instead. {@code origin} is the publishing server's replica id, so a server skips its own
 * messages; {@code sentAt} its wall clock in milliseconds when it published, for the replication
 * lag metric.
 *
 * <p>Immutable values; the static codec is thread-safe.
 */
sealed interface ReplicationMessage {

  int VERSION = 1;

  /** The publishing server's replica id. */
  long origin();

  /** A durable round of a document. */
  record Delta(long origin, long sentAtMillis, DocumentDelta delta, Appended appended)
      implements ReplicationMessage {}

  /** A presence change of a subscriber of the publishing server. */
  record PresenceChange(long origin, Presence presence) implements ReplicationMessage {}

  /** A message this server cannot read: written by a newer version, or damaged. */
  final class UnreadableMessageException extends Exception {
    UnreadableMessageException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  static byte[] encode(ReplicationMessage message, CrdtCodecs codecs, MessageCodec protocol) {
    try (MessageBufferPacker p = MessagePack.newDefaultBufferPacker()) {
      if (message instanceof Delta d) {
        byte[] delta = codecs.documentDelta().encode(d.delta);
        p.packArrayHeader(7).packInt(VERSION).packInt(0).packLong(d.origin);
        p.packLong(d.sentAtMillis);
        if (d.appended.previousKnown()) {
          p.packString(d.appended.previous().toString());
        } else {
          p.packNil();
        }
        p.packString(d.appended.position().toString());
        p.packBinaryHeader(delta.length).writePayload(delta);
      } else if (message instanceof PresenceChange c) {
        byte[] frame = protocol.encode(c.presence);
        p.packArrayHeader(4).packInt(VERSION).packInt(1).packLong(c.origin);
        p.packBinaryHeader(frame.length).writePayload(frame);
      }
      return p.toByteArray();
    } catch (IOException e) {
      throw new IllegalStateException("cannot encode a replication message", e);
    }
  }

  static ReplicationMessage decode(byte[] bytes, CrdtCodecs codecs, MessageCodec protocol)
      throws UnreadableMessageException {
    try (MessageUnpacker u = MessagePack.newDefaultUnpacker(bytes)) {
      int size = u.unpackArrayHeader();
      int version = u.unpackInt();
      if (version != VERSION || size < 3) {
        throw new UnreadableMessageException("replication message of version " + version, null);
      }
      int kind = u.unpackInt();
      long origin = u.unpackLong();
      if (kind == 0 && size == 7) {
        long sentAt = u.unpackLong();
        StoreCursor previous = u.tryUnpackNil() ? null : StoreCursor.parse(u.unpackString());
        StoreCursor position = StoreCursor.parse(u.unpackString());
        byte[] delta = u.readPayload(u.unpackBinaryHeader());
        return new Delta(
            origin, sentAt, codecs.documentDelta().decode(delta), new Appended(previous, position));
      }
      if (kind == 1 && size == 4) {
        Message m = protocol.decode(u.readPayload(u.unpackBinaryHeader()));
        if (m instanceof Presence presence) {
          return new PresenceChange(origin, presence);
        }
      }
      throw new UnreadableMessageException("replication message of kind " + kind, null);
    } catch (IOException | RuntimeException e) {
      throw new UnreadableMessageException("damaged replication message: " + e.getMessage(), e);
    }
  }
}

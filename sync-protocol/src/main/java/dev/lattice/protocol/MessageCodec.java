package dev.lattice.protocol;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.codec.CrdtCodecs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import org.msgpack.core.MessageBufferPacker;
import org.msgpack.core.MessageInsufficientBufferException;
import org.msgpack.core.MessagePack;
import org.msgpack.core.MessagePacker;

/**
 * Encodes {@link Message}s to frames and decodes frames back: one MessagePack array {@code [type,
 * ...fields]} per frame, as specified in {@code docs/PROTOCOL.md}. CRDT payloads are embedded with
 * the {@link CrdtCodecs} of {@link ProtocolLimits#codecLimits()}, header and all.
 *
 * <p>Encoding is deterministic: equal messages give equal bytes (shortest integer forms, limits
 * sorted by name, CRDT payloads in their canonical form). Encoding refuses, with {@link
 * IllegalArgumentException}, a message that a peer with the same limits would refuse.
 *
 * <p>Decoding reads untrusted frames and throws only {@link ProtocolException}: a frame over {@code
 * maxFrameBytes} is refused before parsing; every declared length is checked against its limit and
 * against the bytes left before anything is allocated for it; fields after those this version knows
 * are skipped without recursion; bytes after the array are refused.
 *
 * <p>Stateless apart from its immutable limits; thread-safe. Share one per set of limits.
 */
public final class MessageCodec {

  private static final MessageCodec DEFAULTS = new MessageCodec(ProtocolLimits.defaults());

  /*
   * The default buffer packer starts every frame with an 8 KiB chunk: 8 KiB of garbage for a
   * 13-byte PING, which with 10,000 idle connections pinged every 15 s was most of what an idle
   * server allocated. Nearly every frame fits 256 bytes; a larger one takes more chunks of at least
   * that size and is copied once at the end, as before.
   */
  private static final MessagePack.PackerConfig PACKER =
      MessagePack.DEFAULT_PACKER_CONFIG.withBufferSize(256);

  private final ProtocolLimits limits;
  private final CrdtCodecs codecs;

  private MessageCodec(ProtocolLimits limits) {
    this.limits = limits;
    this.codecs = CrdtCodecs.create(limits.codecLimits());
  }

  /** A codec bounded by {@code limits}. */
  public static MessageCodec create(ProtocolLimits limits) {
    Objects.requireNonNull(limits, "limits");
    return limits.equals(ProtocolLimits.defaults()) ? DEFAULTS : new MessageCodec(limits);
  }

  /** A codec bounded by {@link ProtocolLimits#defaults()}. */
  public static MessageCodec defaults() {
    return DEFAULTS;
  }

  /** The limits this codec applies. */
  public ProtocolLimits limits() {
    return limits;
  }

  // ---------------------------------------------------------------- encoding

  /**
   * The frame of {@code message}.
   *
   * @throws IllegalArgumentException if a string, payload or the whole frame is over the limits, or
   *     a string has an unpaired surrogate (it has no UTF-8 form)
   */
  public byte[] encode(Message message) {
    Objects.requireNonNull(message, "message");
    MessageBufferPacker out = PACKER.newBufferPacker();
    try {
      out.packArrayHeader(1 + fieldCount(message));
      out.packInt(message.type());
      writeFields(out, message);
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e); // an in-memory buffer does not fail
    }
    byte[] frame = out.toByteArray();
    if (frame.length > limits.maxFrameBytes()) {
      throw new IllegalArgumentException(
          "cannot encode "
              + message.messageType()
              + ": the frame of "
              + frame.length
              + " bytes is more than maxFrameBytes "
              + limits.maxFrameBytes());
    }
    return frame;
  }

  /** The fields after the type: the type's own, and SUBSCRIBE's trailing alias when it has one. */
  private static int fieldCount(Message message) {
    int n = message.messageType().fieldCount();
    return message instanceof Subscribe s && s.alias().isPresent() ? n + 1 : n;
  }

  private void writeFields(MessagePacker out, Message message) throws IOException {
    // Java 17 has no pattern matching for switch; the sealed interface keeps this list complete.
    if (message instanceof Hello m) {
      out.packInt(m.minVersion());
      out.packInt(m.maxVersion());
      replica(out, m.replicaId());
      optionalString(out, m.credentials(), limits.maxCredentialsBytes(), "HELLO.credentials");
      optionalString(out, m.clientName(), limits.maxStringBytes(), "HELLO.clientName");
    } else if (message instanceof Welcome m) {
      out.packInt(m.version());
      replica(out, m.serverId());
      out.packLong(m.serverTime().toLong());
      if (m.limits().size() > limits.maxServerLimits()) {
        throw new IllegalArgumentException(
            "cannot encode WELCOME.limits of "
                + m.limits().size()
                + " entries: more than maxServerLimits "
                + limits.maxServerLimits());
      }
      out.packMapHeader(m.limits().size());
      for (Map.Entry<String, Long> e : m.limits().entrySet()) {
        string(out, e.getKey(), limits.maxStringBytes(), "WELCOME.limits name");
        out.packLong(e.getValue());
      }
      string(out, m.sessionId(), limits.maxStringBytes(), "WELCOME.sessionId");
    } else if (message instanceof Subscribe m) {
      out.packLong(m.requestId());
      documentId(out, m.documentId(), "SUBSCRIBE");
      codecs.versionVector().write(out, m.vector());
      if (m.alias().isPresent()) {
        out.packInt(m.alias().getAsInt());
      }
    } else if (message instanceof Sync m) {
      out.packLong(m.requestId());
      documentId(out, m.documentId(), "SYNC");
      codecs.documentDelta().write(out, m.delta());
      codecs.versionVector().write(out, m.vector());
    } else if (message instanceof Update m) {
      optionalLong(out, m.requestId());
      documentId(out, m.documentId(), "UPDATE");
      codecs.documentDelta().write(out, m.delta());
    } else if (message instanceof OwnUpdate m) {
      out.packLong(m.requestId());
      out.packInt(m.alias());
      // [seq, field, fieldType, state] are the tail of the tag-8 compact delta: written by the
      // delta codec (same canonical form, same limits), for a placeholder replica whose header
      // bytes are left out.
      byte[] payload;
      try {
        payload = codecs.documentDelta().encode(m.delta(FrameReader.OWN_PLACEHOLDER));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("cannot encode UPDATE_OWN: " + e.getMessage(), e);
      }
      int header = FrameReader.OWN_HEADER.length;
      out.writePayload(payload, header, payload.length - header);
    } else if (message instanceof Ack m) {
      out.packLong(m.requestId());
      documentId(out, m.documentId(), "ACK");
    } else if (message instanceof Unsubscribe m) {
      out.packLong(m.requestId());
      documentId(out, m.documentId(), "UNSUBSCRIBE");
    } else if (message instanceof Presence m) {
      documentId(out, m.documentId(), "PRESENCE");
      replica(out, m.replicaId());
      out.packLong(m.ttlMillis());
      if (m.value().isPresent()) {
        rawValue(out, m.value().get());
      } else {
        out.packNil();
      }
    } else if (message instanceof Ping m) {
      out.packLong(m.nonce());
      out.packLong(m.time().toLong());
    } else if (message instanceof Pong m) {
      out.packLong(m.nonce());
      out.packLong(m.time().toLong());
    } else if (message instanceof ErrorMessage m) {
      optionalLong(out, m.requestId());
      out.packInt(m.code());
      string(out, m.message(), limits.maxStringBytes(), "ERROR.message");
    } else {
      throw new IllegalArgumentException("cannot encode " + message.getClass().getName());
    }
  }

  /** A replica id as the signed 64-bit int with its bits, like docs/ENCODING.md's replicas. */
  private static void replica(MessagePacker out, ReplicaId replica) throws IOException {
    out.packLong(replica.value());
  }

  private static void optionalLong(MessagePacker out, OptionalLong v) throws IOException {
    if (v.isPresent()) {
      out.packLong(v.getAsLong());
    } else {
      out.packNil();
    }
  }

  private static void optionalString(
      MessagePacker out, Optional<String> s, int maxBytes, String what) throws IOException {
    if (s.isPresent()) {
      string(out, s.get(), maxBytes, what);
    } else {
      out.packNil();
    }
  }

  private void documentId(MessagePacker out, String id, String message) throws IOException {
    string(out, id, limits.maxDocumentIdBytes(), message + ".documentId");
  }

  /**
   * A strict UTF-8 string. {@code String.getBytes} would silently turn an unpaired surrogate into
   * '?', so two different ids could become one on the wire: refuse instead.
   */
  private static void string(MessagePacker out, String s, int maxBytes, String what)
      throws IOException {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c)
          && i + 1 < s.length()
          && Character.isLowSurrogate(s.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        throw new IllegalArgumentException(
            "cannot encode " + what + ": unpaired surrogate at index " + i + " has no UTF-8 form");
      }
    }
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    if (bytes.length > maxBytes) {
      throw new IllegalArgumentException(
          "cannot encode "
              + what
              + " of "
              + bytes.length
              + " UTF-8 bytes: more than the limit of "
              + maxBytes);
    }
    out.packRawStringHeader(bytes.length);
    out.writePayload(bytes);
  }

  /**
   * A value in its raw form (docs/ENCODING.md §3): the value codec's payload without its {@code [1,
   * 1, ...]} header, so the value gets exactly the canonical form and limits of CRDT values.
   */
  private void rawValue(MessagePacker out, Value value) throws IOException {
    byte[] payload = codecs.value().encode(value);
    // The header is always the three bytes 93 01 01: fixarray(3), tag 1, version 1.
    out.writePayload(payload, FrameReader.VALUE_HEADER.length, payload.length - 3);
  }

  // ---------------------------------------------------------------- decoding

  /**
   * Reads the message that fills {@code frame} by the rules of protocol version 1: {@link
   * #decode(byte[], int) decode(frame, 1)}. That is also what a server reads before HELLO (whose
   * layout every version shares) and what a client reads from any server (version 2 changed only
   * client-to-server messages).
   *
   * @throws ProtocolException with {@link ErrorCode#FRAME_TOO_LARGE} if the frame is longer than
   *     {@code maxFrameBytes}, else with {@link ErrorCode#MALFORMED_MESSAGE} if it is not exactly
   *     one well-formed message within the limits
   */
  public Message decode(byte[] frame) {
    return decode(frame, ProtocolVersion.MIN);
  }

  /**
   * Reads the message that fills {@code frame} by the rules of protocol {@code version}, the
   * version the connection negotiated: a message type of a later version ({@link
   * MessageType#sinceVersion()}, e.g. UPDATE_OWN on a version 1 session) is malformed, and
   * SUBSCRIBE's trailing alias is read from version 2 on (ignored, like any unknown trailing field,
   * in version 1).
   *
   * @throws IllegalArgumentException if this build does not speak {@code version}
   * @throws ProtocolException as {@link #decode(byte[])} does
   */
  public Message decode(byte[] frame, int version) {
    Objects.requireNonNull(frame, "frame");
    checkVersion(version);
    checkFrameSize(frame.length);
    return read(frame, version);
  }

  /**
   * Reads the message that fills the remaining bytes of {@code frame}, leaving its position
   * unchanged, by the rules of protocol version 1.
   *
   * @throws ProtocolException as {@link #decode(byte[])} does
   */
  public Message decode(ByteBuffer frame) {
    return decode(frame, ProtocolVersion.MIN);
  }

  /**
   * Reads the message that fills the remaining bytes of {@code frame}, leaving its position
   * unchanged, by the rules of protocol {@code version} (see {@link #decode(byte[], int)}).
   *
   * @throws IllegalArgumentException if this build does not speak {@code version}
   * @throws ProtocolException as {@link #decode(byte[])} does
   */
  public Message decode(ByteBuffer frame, int version) {
    Objects.requireNonNull(frame, "frame");
    checkVersion(version);
    // Checked before copying: an oversize frame costs nothing.
    checkFrameSize(frame.remaining());
    byte[] bytes = new byte[frame.remaining()];
    frame.duplicate().get(bytes);
    return read(bytes, version);
  }

  private static void checkVersion(int version) {
    if (version < ProtocolVersion.MIN || version > ProtocolVersion.MAX) {
      throw new IllegalArgumentException(
          "protocol version "
              + version
              + " is not spoken by this build ("
              + ProtocolVersion.MIN
              + " to "
              + ProtocolVersion.MAX
              + ")");
    }
  }

  private void checkFrameSize(int length) {
    if (length > limits.maxFrameBytes()) {
      throw new ProtocolException(
          ErrorCode.FRAME_TOO_LARGE,
          "expected a frame of at most "
              + limits.maxFrameBytes()
              + " bytes (maxFrameBytes), got "
              + length
              + " bytes");
    }
  }

  private Message read(byte[] frame, int version) {
    if (frame.length == 0) {
      throw new ProtocolException(
          ErrorCode.MALFORMED_MESSAGE,
          "expected a MessagePack array [type, ...fields], got an empty frame");
    }
    FrameReader reader = new FrameReader(frame, version, limits, codecs);
    try {
      return reader.readMessage();
    } catch (ProtocolException e) {
      throw e;
    } catch (MessageInsufficientBufferException e) {
      throw reader.malformed("truncated frame: the input ends at byte " + frame.length, e);
    } catch (IllegalArgumentException e) {
      // A record refusing a combination of fields, e.g. HELLO's maxVersion below minVersion.
      throw reader.malformed(e.getMessage(), e);
    } catch (IOException | RuntimeException e) {
      throw reader.malformed(
          "malformed frame at byte "
              + reader.position()
              + ": "
              + e.getClass().getSimpleName()
              + ": "
              + e.getMessage(),
          e);
    }
  }
}

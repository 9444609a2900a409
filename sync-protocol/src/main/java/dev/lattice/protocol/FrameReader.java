package dev.lattice.protocol;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.crdt.codec.Codec;
import dev.lattice.crdt.codec.CodecException;
import dev.lattice.crdt.codec.CrdtCodecs;
import dev.lattice.hlc.HlcTimestamp;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeMap;
import org.msgpack.core.MessageFormat;
import org.msgpack.core.MessageInsufficientBufferException;
import org.msgpack.core.MessageIntegerOverflowException;
import org.msgpack.core.MessagePack;
import org.msgpack.core.MessageSizeException;
import org.msgpack.core.MessageUnpacker;
import org.msgpack.value.ValueType;

/**
 * Reads one frame. Errors are {@link ProtocolException}s of the form {@code "<TYPE>.<field>:
 * expected <what>, got <what arrived> at byte <offset>"}. One reader per frame, one thread.
 */
final class FrameReader {

  /** The header of a standalone {@link Value} payload: fixarray(3), tag 1, version 1. */
  static final byte[] VALUE_HEADER = {(byte) 0x93, 0x01, 0x01};

  private static final MessagePack.UnpackerConfig UNPACKER_CONFIG =
      new MessagePack.UnpackerConfig()
          .withActionOnMalformedString(CodingErrorAction.REPORT)
          .withActionOnUnmappableString(CodingErrorAction.REPORT)
          .withAllowReadingBinaryAsString(false)
          .withAllowReadingStringAsBinary(false);

  /**
   * The replica an UPDATE_OWN's delta is encoded and decoded with inside the codec: the message
   * carries no replica, so its {@code [seq, field, fieldType, state]} are the tag-8 delta {@code
   * [8, 1, 0, seq, field, fieldType, state]} less its first four bytes, {@link #OWN_HEADER}.
   */
  static final ReplicaId OWN_PLACEHOLDER = ReplicaId.of(0);

  /** fixarray(7), tag 8 (compact DocumentDelta), version 1, replica 0. */
  static final byte[] OWN_HEADER = {(byte) 0x97, 0x08, 0x01, 0x00};

  private final byte[] frame;
  private final int version;
  private final MessageUnpacker in;
  private final ProtocolLimits limits;
  private final CrdtCodecs codecs;

  /** The message being read, for error messages; "frame" until its type is known. */
  private String name = "frame";

  FrameReader(byte[] frame, int version, ProtocolLimits limits, CrdtCodecs codecs) {
    this.frame = frame;
    this.version = version;
    this.in = UNPACKER_CONFIG.newUnpacker(frame);
    this.limits = limits;
    this.codecs = codecs;
  }

  long position() {
    return in.getTotalReadBytes();
  }

  ProtocolException malformed(String message, Throwable cause) {
    return new ProtocolException(ErrorCode.MALFORMED_MESSAGE, name + ": " + message, cause);
  }

  private ProtocolException error(String field, long pos, String message) {
    return new ProtocolException(
        ErrorCode.MALFORMED_MESSAGE, name + "." + field + ": " + message + " at byte " + pos);
  }

  private ProtocolException unexpected(String field, long pos, String expected, MessageFormat f) {
    return error(field, pos, "expected " + expected + ", got " + describe(f));
  }

  /** The MessagePack spec's name of a format, e.g. {@code map32} or {@code positive fixint}. */
  static String describe(MessageFormat f) {
    return switch (f) {
      case POSFIXINT -> "positive fixint";
      case NEGFIXINT -> "negative fixint";
      case NEVER_USED -> "the never-used byte 0xc1";
      case BOOLEAN -> "bool";
      default -> f.name().toLowerCase(Locale.ROOT);
    };
  }

  private static ValueType typeOf(MessageFormat f) {
    return f == MessageFormat.NEVER_USED ? null : f.getValueType();
  }

  private long remaining() {
    return frame.length - position();
  }

  private MessageFormat peek(String field, String expected) throws IOException {
    long pos = position();
    if (!in.hasNext()) {
      throw error(field, pos, "expected " + expected + ", got the end of the frame (truncated)");
    }
    return in.getNextFormat();
  }

  /** Checks a declared count of items, each at least {@code minBytesEach} long, before use. */
  private void checkDeclared(
      String field, long pos, String expected, MessageFormat f, long n, long max, String limit) {
    if (n > max) {
      throw error(
          field,
          pos,
          "expected "
              + expected
              + " of at most "
              + max
              + " ("
              + limit
              + "), got "
              + describe(f)
              + " declaring "
              + n);
    }
  }

  private void checkRemaining(
      String field, long pos, String expected, MessageFormat f, long needed, long n) {
    if (needed > remaining()) {
      throw error(
          field,
          pos,
          "expected "
              + expected
              + ", got "
              + describe(f)
              + " declaring "
              + n
              + " but only "
              + remaining()
              + " bytes remain in the frame");
    }
  }

  // ---------------------------------------------------------------- the message

  Message readMessage() throws IOException {
    long pos = position();
    String expected = "a message array [type, ...fields]";
    MessageFormat f = peek("header", expected);
    if (typeOf(f) != ValueType.ARRAY) {
      throw unexpected("header", pos, expected, f);
    }
    long n = arrayHeader();
    // Each element takes at least one byte: a forged count fails here, before any work.
    checkRemaining("header", pos, expected, f, n, n);
    if (n == 0) {
      throw error("header", pos, "expected " + expected + ", got an empty array");
    }
    long typePos = position();
    long code = readLong("type", "a message type code");
    MessageType last = MessageType.HELLO;
    for (MessageType t : MessageType.values()) {
      if (t.sinceVersion() <= version && t.code() > last.code()) {
        last = t;
      }
    }
    String codes = "a message type code from 1 (HELLO) to " + last.code() + " (" + last + ")";
    MessageType type =
        MessageType.fromCode(code)
            .orElseThrow(
                () -> error("type", typePos, "expected " + codes + ", got unknown type " + code));
    if (type.sinceVersion() > version) {
      throw error(
          "type",
          typePos,
          "expected "
              + codes
              + " of protocol version "
              + version
              + ", got "
              + code
              + " ("
              + type
              + "), which needs protocol version "
              + type.sinceVersion());
    }
    name = type.name();
    long fields = n - 1;
    if (fields < type.fieldCount()) {
      throw error(
          "header",
          pos,
          "expected "
              + type.fieldCount()
              + " fields "
              + type.fieldNames()
              + " after the type, got "
              + fields
              + ": missing "
              + type.fieldNames().subList((int) fields, type.fieldCount()));
    }
    Message message = readFields(type);
    long known = type.fieldCount();
    if (message instanceof Subscribe subscribe && version >= 2 && fields > known) {
      // Version 2's document alias; nil is the same as none.
      known++;
      if (peek("alias", "a document alias (int from 0) or nil") == MessageFormat.NIL) {
        in.unpackNil();
      } else {
        int alias = readInt("alias", "a document alias", 0);
        message =
            Subscribe.withAlias(
                subscribe.requestId(), subscribe.documentId(), subscribe.vector(), alias);
      }
    }
    // Fields a later minor revision added: skipped, so older peers keep working.
    for (long i = known; i < fields; i++) {
      skipValue("field[" + (i + 1) + "] (unknown, ignored)");
    }
    if (position() != frame.length) {
      throw error(
          "end",
          position(),
          "expected the message to fill the frame, got " + remaining() + " trailing bytes");
    }
    return message;
  }

  private long arrayHeader() throws IOException {
    try {
      return in.unpackArrayHeader();
    } catch (MessageSizeException e) {
      return e.getSize(); // array32 above 2^31-1: reported by the caller's size check
    }
  }

  private Message readFields(MessageType type) throws IOException {
    String docIdLimit = "maxDocumentIdBytes";
    int maxDocId = limits.maxDocumentIdBytes();
    switch (type) {
      case HELLO:
        {
          int min = readInt("minVersion", "a protocol version", 1);
          int max = readInt("maxVersion", "a protocol version", 1);
          ReplicaId replica = readReplica("replicaId");
          Optional<String> credentials =
              readOptionalString(
                  "credentials", limits.maxCredentialsBytes(), "maxCredentialsBytes");
          Optional<String> clientName =
              readOptionalString("clientName", limits.maxStringBytes(), "maxStringBytes");
          return new Hello(min, max, replica, credentials, clientName);
        }
      case WELCOME:
        {
          int version = readInt("version", "a protocol version", 1);
          ReplicaId server = readReplica("serverId");
          HlcTimestamp time = readTimestamp("serverTime");
          TreeMap<String, Long> serverLimits = readLimits("limits");
          String session = readString("sessionId", limits.maxStringBytes(), "maxStringBytes");
          return new Welcome(version, server, time, serverLimits, session);
        }
      case SUBSCRIBE:
        {
          long request = readRequestId("requestId");
          String doc = readDocumentId("documentId", maxDocId, docIdLimit);
          VersionVector vector = readPayload("vector", codecs.versionVector());
          return new Subscribe(request, doc, vector);
        }
      case SYNC:
        {
          long request = readRequestId("requestId");
          String doc = readDocumentId("documentId", maxDocId, docIdLimit);
          DocumentDelta delta = readPayload("delta", codecs.documentDelta());
          VersionVector vector = readPayload("vector", codecs.versionVector());
          return new Sync(request, doc, delta, vector);
        }
      case UPDATE:
        {
          OptionalLong request = readOptionalRequestId("requestId");
          String doc = readDocumentId("documentId", maxDocId, docIdLimit);
          DocumentDelta delta = readPayload("delta", codecs.documentDelta());
          return new Update(request, doc, delta);
        }
      case ACK:
        {
          long request = readRequestId("requestId");
          return new Ack(request, readDocumentId("documentId", maxDocId, docIdLimit));
        }
      case UNSUBSCRIBE:
        {
          long request = readRequestId("requestId");
          return new Unsubscribe(request, readDocumentId("documentId", maxDocId, docIdLimit));
        }
      case PRESENCE:
        {
          String doc = readDocumentId("documentId", maxDocId, docIdLimit);
          ReplicaId replica = readReplica("replicaId");
          long ttl = readNonNegative("ttlMillis", "a TTL in milliseconds");
          Optional<Value> value = readPresenceValue("value");
          return new Presence(doc, replica, ttl, value);
        }
      case PING:
        {
          long nonce = readLong("nonce", "a nonce (int)");
          return new Ping(nonce, readTimestamp("time"));
        }
      case PONG:
        {
          long nonce = readLong("nonce", "a nonce (int)");
          return new Pong(nonce, readTimestamp("time"));
        }
      case UPDATE_OWN:
        {
          long request = readRequestId("requestId");
          int alias = readInt("alias", "a document alias", 0);
          return readOwnUpdate(request, alias);
        }
      case ERROR:
        {
          OptionalLong request = readOptionalRequestId("requestId");
          int code = readInt("code", "an error code", 1);
          String message = readString("message", limits.maxStringBytes(), "maxStringBytes");
          return new ErrorMessage(request, code, message);
        }
      default:
        throw new IllegalStateException("unhandled message type " + type);
    }
  }

  // ---------------------------------------------------------------- scalars

  /** Reads an int in the signed 64-bit range. */
  private long readLong(String field, String expected) throws IOException {
    long pos = position();
    MessageFormat f = peek(field, expected);
    if (typeOf(f) != ValueType.INTEGER) {
      throw unexpected(field, pos, expected, f);
    }
    try {
      return in.unpackLong();
    } catch (MessageIntegerOverflowException e) {
      throw error(
          field,
          pos,
          "expected " + expected + ", got " + e.getBigInteger() + ", past the signed 64-bit range");
    }
  }

  private long readNonNegative(String field, String expected) throws IOException {
    long pos = position();
    long v = readLong(field, expected);
    if (v < 0) {
      throw error(field, pos, "expected " + expected + " (at least 0), got " + v);
    }
    return v;
  }

  /** Reads an int from {@code min} to {@link Integer#MAX_VALUE}. */
  private int readInt(String field, String expected, int min) throws IOException {
    long pos = position();
    long v = readLong(field, expected);
    if (v < min || v > Integer.MAX_VALUE) {
      throw error(
          field,
          pos,
          "expected " + expected + " from " + min + " to " + Integer.MAX_VALUE + ", got " + v);
    }
    return (int) v;
  }

  private long readRequestId(String field) throws IOException {
    long pos = position();
    long v = readLong(field, "a request id (positive int)");
    if (v < 1) {
      throw error(field, pos, "expected a request id (positive int), got " + v);
    }
    return v;
  }

  private OptionalLong readOptionalRequestId(String field) throws IOException {
    if (peek(field, "a request id (positive int) or nil") == MessageFormat.NIL) {
      in.unpackNil();
      return OptionalLong.empty();
    }
    return OptionalLong.of(readRequestId(field));
  }

  /** A replica id: any int in the signed or unsigned 64-bit range, as in docs/ENCODING.md. */
  private ReplicaId readReplica(String field) throws IOException {
    long pos = position();
    String expected = "a replica id (int)";
    MessageFormat f = peek(field, expected);
    if (typeOf(f) != ValueType.INTEGER) {
      throw unexpected(field, pos, expected, f);
    }
    try {
      return ReplicaId.of(in.unpackLong());
    } catch (MessageIntegerOverflowException e) {
      // A uint64 of 2^63 or more: the same 64 bits as the negative long.
      return ReplicaId.of(e.getBigInteger().longValue());
    }
  }

  private HlcTimestamp readTimestamp(String field) throws IOException {
    return HlcTimestamp.fromLong(readNonNegative(field, "a packed HLC timestamp"));
  }

  private String readDocumentId(String field, int max, String limit) throws IOException {
    long pos = position();
    String id = readString(field, max, limit);
    if (id.isEmpty()) {
      throw error(field, pos, "expected a non-empty document id, got an empty string");
    }
    return id;
  }

  private Optional<String> readOptionalString(String field, int max, String limit)
      throws IOException {
    if (peek(field, "a string or nil") == MessageFormat.NIL) {
      in.unpackNil();
      return Optional.empty();
    }
    return Optional.of(readString(field, max, limit));
  }

  /** Reads a strictly valid UTF-8 string of at most {@code max} bytes. */
  private String readString(String field, int max, String limit) throws IOException {
    long pos = position();
    String expected = "a string";
    MessageFormat f = peek(field, expected);
    if (typeOf(f) != ValueType.STRING) {
      throw unexpected(field, pos, expected, f);
    }
    long n;
    try {
      n = in.unpackRawStringHeader();
    } catch (MessageSizeException e) {
      n = e.getSize();
    }
    checkDeclared(field, pos, "a string", f, n, max, limit + " bytes");
    checkRemaining(field, pos, "a string", f, n, n);
    byte[] bytes = in.readPayload((int) n);
    try {
      // The JDK's decoder refuses overlong forms, encoded surrogates and code points past
      // U+10FFFF; REPORT makes it throw instead of substituting U+FFFD.
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes))
          .toString();
    } catch (CharacterCodingException e) {
      throw error(field, pos, "expected a string in valid UTF-8, got malformed UTF-8");
    }
  }

  private TreeMap<String, Long> readLimits(String field) throws IOException {
    long pos = position();
    String expected = "a map of limit name to int";
    MessageFormat f = peek(field, expected);
    if (typeOf(f) != ValueType.MAP) {
      throw unexpected(field, pos, expected, f);
    }
    long n;
    try {
      n = in.unpackMapHeader();
    } catch (MessageSizeException e) {
      n = e.getSize();
    }
    checkDeclared(field, pos, expected, f, n, limits.maxServerLimits(), "maxServerLimits");
    checkRemaining(field, pos, expected, f, 2 * n, n);
    TreeMap<String, Long> result = new TreeMap<>();
    for (long i = 0; i < n; i++) {
      long keyPos = position();
      String key = readString(field + " name", limits.maxStringBytes(), "maxStringBytes");
      if (key.isEmpty()) {
        throw error(field, keyPos, "expected a non-empty limit name, got an empty string");
      }
      long value = readNonNegative(field + "['" + key + "']", "a limit value");
      if (result.put(key, value) != null) {
        throw error(field, keyPos, "expected distinct limit names, got '" + key + "' twice");
      }
    }
    return result;
  }

  // ---------------------------------------------------------------- embedded values

  /**
   * Reads a CRDT payload. It is first skipped, boundedly, then decoded from exactly its own bytes:
   * so the codec checks every declared length against the bytes the payload really has, not against
   * the {@code maxPayloadBytes} budget that {@link Codec#read} has to assume.
   */
  private <T> T readPayload(String field, Codec<T> codec) throws IOException {
    int start = (int) position();
    skipValue(field);
    byte[] payload = Arrays.copyOfRange(frame, start, (int) position());
    try {
      return codec.decode(payload);
    } catch (CodecException e) {
      throw new ProtocolException(
          ErrorCode.MALFORMED_MESSAGE,
          name
              + "."
              + field
              + " (a payload at byte "
              + start
              + "; inner offsets count from there): "
              + e.getMessage(),
          e);
    }
  }

  /**
   * Reads UPDATE_OWN's {@code [seq, field, fieldType, state]}: skipped, boundedly, then decoded by
   * the delta codec as the tag-8 compact delta {@code [8, 1, 0, seq, field, fieldType, state]}, so
   * they obey exactly the rules (and limits) of docs/ENCODING.md §5's compact form.
   */
  private OwnUpdate readOwnUpdate(long requestId, int alias) throws IOException {
    int start = (int) position();
    for (String field : new String[] {"seq", "field", "fieldType", "state"}) {
      skipValue(field);
    }
    int end = (int) position();
    byte[] payload = new byte[OWN_HEADER.length + end - start];
    System.arraycopy(OWN_HEADER, 0, payload, 0, OWN_HEADER.length);
    System.arraycopy(frame, start, payload, OWN_HEADER.length, end - start);
    DocumentDelta delta;
    try {
      delta = codecs.documentDelta().decode(payload);
    } catch (CodecException e) {
      throw new ProtocolException(
          ErrorCode.MALFORMED_MESSAGE,
          name
              + ".seq..state (the tail of a compact delta at byte "
              + start
              + "; inner offsets count from 4 bytes before it): "
              + e.getMessage(),
          e);
    }
    return OwnUpdate.of(requestId, alias, OWN_PLACEHOLDER, delta)
        .orElseThrow(() -> new IllegalStateException("a compact delta without a compact form"));
  }

  /** Reads a raw value, or nil for none: decoded as the payload {@code [1, 1, value]}. */
  private Optional<Value> readPresenceValue(String field) throws IOException {
    if (peek(field, "a value or nil") == MessageFormat.NIL) {
      in.unpackNil();
      return Optional.empty();
    }
    int start = (int) position();
    skipValue(field);
    int end = (int) position();
    byte[] payload = new byte[VALUE_HEADER.length + end - start];
    System.arraycopy(VALUE_HEADER, 0, payload, 0, VALUE_HEADER.length);
    System.arraycopy(frame, start, payload, VALUE_HEADER.length, end - start);
    try {
      return Optional.of(codecs.value().decode(payload));
    } catch (CodecException e) {
      throw new ProtocolException(
          ErrorCode.MALFORMED_MESSAGE,
          name
              + "."
              + field
              + " (a value at byte "
              + start
              + "; inner offsets count from 3 bytes before it): "
              + e.getMessage(),
          e);
    }
  }

  /**
   * Skips one MessagePack value of any shape without recursion, so any nesting depth costs no
   * stack; every declared length is checked against the bytes left, so the work is bounded by the
   * frame's size. (MessageUnpacker.skipValue keeps its pending count in an int, which a forged
   * header can overflow.)
   */
  private void skipValue(String field) throws IOException {
    long pending = 1;
    while (pending > 0) {
      long pos = position();
      MessageFormat f = peek(field, "a value");
      ValueType type = typeOf(f);
      if (type == null) {
        throw unexpected(field, pos, "a value", f);
      }
      if (type == ValueType.ARRAY) {
        long n = arrayHeader();
        checkRemaining(field, pos, "an array", f, n + pending - 1, n);
        pending += n;
      } else if (type == ValueType.MAP) {
        long n;
        try {
          n = in.unpackMapHeader();
        } catch (MessageSizeException e) {
          n = e.getSize();
        }
        checkRemaining(field, pos, "a map", f, 2 * n + pending - 1, n);
        pending += 2 * n;
      } else {
        // A scalar, string, binary or extension: its header says how long it is, and
        // skipValue checks that against the input without allocating.
        try {
          in.skipValue();
        } catch (MessageSizeException e) {
          throw error(
              field,
              pos,
              "expected a value, got " + describe(f) + " declaring " + e.getSize() + " bytes");
        } catch (MessageInsufficientBufferException e) {
          throw error(
              field,
              pos,
              "expected a value, got " + describe(f) + " past the end of the frame (truncated)");
        }
      }
      pending--;
    }
  }
}

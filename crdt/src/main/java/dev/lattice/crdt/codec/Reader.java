package dev.lattice.crdt.codec;

import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.DotRange;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.LWWRegister;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HlcTimestamp;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.msgpack.core.MessageFormat;
import org.msgpack.core.MessageInsufficientBufferException;
import org.msgpack.core.MessageIntegerOverflowException;
import org.msgpack.core.MessageSizeException;
import org.msgpack.core.MessageUnpacker;
import org.msgpack.value.ValueType;

/**
 * Reads one payload from an unpacker, checking every declared length against the limits and against
 * the bytes left before allocating anything for it. Errors are {@link CodecException}s of the form
 * {@code "<where>: expected <what>, got <what arrived> at byte <offset>"}.
 *
 * <p>One reader serves one payload on one thread; it keeps a scratch buffer for strings and a small
 * cache of replica ids.
 */
final class Reader {

  private static final int SMALL_INT_MIN = -32;
  private static final int SMALL_INT_MAX = 127;
  private static final Value[] SMALL_INTS = new Value[SMALL_INT_MAX - SMALL_INT_MIN + 1];
  private static final Value EMPTY_STRING = Value.of("");
  private static final Value EMPTY_ARRAY = Value.array();
  private static final Value EMPTY_MAP = Value.map(Map.of());

  static {
    for (int i = SMALL_INT_MIN; i <= SMALL_INT_MAX; i++) {
      SMALL_INTS[i - SMALL_INT_MIN] = Value.of((long) i);
    }
  }

  private final MessageUnpacker in;
  private final CodecLimits limits;
  private final long end;
  private final boolean endOfInput;
  private byte[] scratch = new byte[64];

  /** Replica ids read so far, by hash; made once a payload has read a few. */
  private ReplicaId[] replicas;

  private int replicaReads;

  /**
   * @param end the offset in {@code in} past which the payload may not extend
   * @param endOfInput whether {@code end} is the end of the input (else it is the payload budget)
   */
  Reader(MessageUnpacker in, CodecLimits limits, long end, boolean endOfInput) {
    this.in = in;
    this.limits = limits;
    this.end = end;
    this.endOfInput = endOfInput;
  }

  CodecLimits limits() {
    return limits;
  }

  /** The offset of the next byte in the unpacker's input. */
  long position() {
    return in.getTotalReadBytes();
  }

  // ---------------------------------------------------------------- errors

  static CodecException error(String where, long pos, String message) {
    return new CodecException(where + ": " + message + " at byte " + pos);
  }

  private static CodecException unexpected(
      String where, long pos, String expected, MessageFormat f) {
    return error(where, pos, "expected " + expected + ", got " + describe(f));
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

  /** {@code s}, cut to 64 characters for an error message. */
  static String abbreviate(String s) {
    return s.length() <= 64 ? s : s.substring(0, 61) + "...";
  }

  private static ValueType typeOf(MessageFormat f) {
    return f == MessageFormat.NEVER_USED ? null : f.getValueType();
  }

  private MessageFormat peek(String where, String expected) throws IOException {
    long pos = position();
    try {
      return in.getNextFormat();
    } catch (MessageInsufficientBufferException e) {
      throw error(where, pos, "expected " + expected + ", got the end of the input (truncated)");
    }
  }

  /** Checks a declared length, positioned after its header, against a limit and the bytes left. */
  private void checkLength(
      String where,
      long pos,
      String expected,
      MessageFormat f,
      long declared,
      long max,
      String unit,
      String limitName,
      int minBytesEach) {
    if (declared > max) {
      throw error(
          where,
          pos,
          "expected "
              + expected
              + " of at most "
              + max
              + " "
              + unit
              + " ("
              + limitName
              + "), got "
              + describe(f)
              + " declaring "
              + declared);
    }
    long remaining = end - position();
    if (declared * minBytesEach > remaining) {
      throw error(
          where,
          pos,
          "expected "
              + expected
              + ", got "
              + describe(f)
              + " declaring "
              + declared
              + " "
              + unit
              + " but only "
              + Math.max(remaining, 0)
              + (endOfInput
                  ? " bytes remain in the input"
                  : " bytes remain within maxPayloadBytes"));
    }
  }

  // ---------------------------------------------------------------- structure

  /**
   * Reads an array header declaring at most {@code max} elements, each taking at least one byte.
   */
  int arrayHeader(String where, String expected, long max, String limitName) throws IOException {
    long pos = position();
    MessageFormat f = peek(where, expected);
    if (typeOf(f) != ValueType.ARRAY) {
      throw unexpected(where, pos, expected, f);
    }
    long n;
    try {
      n = in.unpackArrayHeader();
    } catch (MessageSizeException e) {
      n = e.getSize();
    }
    checkLength(where, pos, expected, f, n, max, "elements", limitName, 1);
    return (int) n;
  }

  /** Reads an array header that must declare exactly {@code size} elements. */
  void arrayOf(String where, String expected, int size) throws IOException {
    long pos = position();
    int n = arrayHeader(where, expected, size, "fixed by the format");
    if (n != size) {
      throw error(where, pos, "expected " + expected + ", got an array of " + n + " elements");
    }
  }

  /** Reads a map header declaring at most {@code max} entries, each taking at least two bytes. */
  int mapHeader(String where, String expected, long max, String limitName) throws IOException {
    long pos = position();
    MessageFormat f = peek(where, expected);
    if (typeOf(f) != ValueType.MAP) {
      throw unexpected(where, pos, expected, f);
    }
    long n;
    try {
      n = in.unpackMapHeader();
    } catch (MessageSizeException e) {
      n = e.getSize();
    }
    checkLength(where, pos, expected, f, n, max, "entries", limitName, 2);
    return (int) n;
  }

  // ---------------------------------------------------------------- scalars

  /** Reads an integer that fits a signed 64-bit long. */
  long readLong(String where, String expected) throws IOException {
    long pos = position();
    MessageFormat f = peek(where, expected);
    if (typeOf(f) != ValueType.INTEGER) {
      throw unexpected(where, pos, expected, f);
    }
    try {
      return in.unpackLong();
    } catch (MessageIntegerOverflowException e) {
      throw error(
          where,
          pos,
          "expected "
              + expected
              + ", got uint64 "
              + e.getBigInteger()
              + ", past the signed 64-bit range");
    }
  }

  /** Reads an integer of at least 1. */
  long readPositive(String where, String expected) throws IOException {
    long pos = position();
    long v = readLong(where, expected);
    if (v < 1) {
      throw error(where, pos, "expected " + expected + " (at least 1), got " + v);
    }
    return v;
  }

  /** Reads an integer of at least 0. */
  long readNonNegative(String where, String expected) throws IOException {
    long pos = position();
    long v = readLong(where, expected);
    if (v < 0) {
      throw error(where, pos, "expected " + expected + " (at least 0), got " + v);
    }
    return v;
  }

  /** Reads a type tag, which must be one of {@code a} and {@code b}. */
  int readTag(String where, int a, int b) throws IOException {
    long pos = position();
    long tag = readLong(where, "a type tag");
    if (tag != a && tag != b) {
      String expected = a + " (" + TypeTags.nameOf(a) + ")";
      if (b != a) {
        expected += " or " + b + " (" + TypeTags.nameOf(b) + ")";
      }
      throw error(
          where,
          pos,
          "expected type tag " + expected + ", got " + tag + " (" + TypeTags.nameOf(tag) + ")");
    }
    return (int) tag;
  }

  /** Reads a field type tag: one that {@link StateCodecs} knows. */
  StateCodec readFieldType(String where) throws IOException {
    long pos = position();
    long tag = readLong(where, "a field type tag");
    StateCodec codec = StateCodecs.ofTag(tag);
    if (codec == null) {
      throw error(
          where,
          pos,
          "expected a field type tag, one of "
              + StateCodecs.known()
              + ", got "
              + tag
              + " ("
              + TypeTags.nameOf(tag)
              + ")");
    }
    return codec;
  }

  /** Reads a replica id: any int in the signed or the unsigned 64-bit range. */
  ReplicaId readReplica(String where) throws IOException {
    long pos = position();
    MessageFormat f = peek(where, "a replica id (int)");
    if (typeOf(f) != ValueType.INTEGER) {
      throw unexpected(where, pos, "a replica id (int)", f);
    }
    long v;
    try {
      v = in.unpackLong();
    } catch (MessageIntegerOverflowException e) {
      // A uint64 above Long.MAX_VALUE: the same 64 bits as the negative long.
      v = e.getBigInteger().longValue();
    }
    // Documents repeat a few writers' ids across many fields: share one instance per id.
    if (replicas == null) {
      if (++replicaReads <= 8) {
        return ReplicaId.of(v);
      }
      replicas = new ReplicaId[64];
    }
    int slot = (int) ((v * 0x9E3779B97F4A7C15L) >>> 58);
    ReplicaId cached = replicas[slot];
    if (cached != null && cached.value() == v) {
      return cached;
    }
    ReplicaId id = ReplicaId.of(v);
    replicas[slot] = id;
    return id;
  }

  /** Reads a packed HLC timestamp: a non-negative int. */
  HlcTimestamp readTimestamp(String where) throws IOException {
    return HlcTimestamp.fromLong(readNonNegative(where, "a packed HLC timestamp"));
  }

  /** Reads a valid UTF-8 string of at most {@code maxStringBytes}. */
  String readString(String where, String expected) throws IOException {
    long pos = position();
    MessageFormat f = peek(where, expected);
    if (typeOf(f) != ValueType.STRING) {
      throw unexpected(where, pos, expected, f);
    }
    long n;
    try {
      n = in.unpackRawStringHeader();
    } catch (MessageSizeException e) {
      n = e.getSize();
    }
    checkLength(where, pos, expected, f, n, limits.maxStringBytes(), "bytes", "maxStringBytes", 1);
    int len = (int) n;
    if (len == 0) {
      return "";
    }
    byte[] buf = scratch;
    if (buf.length < len) {
      buf = new byte[Math.max(len, Math.min(2 * buf.length, limits.maxStringBytes()))];
      scratch = buf;
    }
    in.readPayload(buf, 0, len);
    int bad = Utf8.firstMalformed(buf, 0, len);
    if (bad >= 0) {
      throw error(
          where,
          pos,
          "expected "
              + expected
              + " in valid UTF-8, got "
              + describe(f)
              + " of "
              + len
              + " bytes, malformed from string offset "
              + bad);
    }
    return new String(buf, 0, len, StandardCharsets.UTF_8);
  }

  // ---------------------------------------------------------------- values

  /** Reads a value enclosed in {@code depth} arrays or maps. */
  Value readValue(String where, int depth) throws IOException {
    long pos = position();
    MessageFormat f = peek(where, "a value");
    ValueType type = typeOf(f);
    if (type == null) {
      throw unexpected(where, pos, "a value", f);
    }
    switch (type) {
      case NIL:
        in.unpackNil();
        return Value.nil();
      case BOOLEAN:
        return Value.of(in.unpackBoolean());
      case INTEGER:
        {
          long v = readLong(where, "an integer in the signed 64-bit range");
          return v >= SMALL_INT_MIN && v <= SMALL_INT_MAX
              ? SMALL_INTS[(int) v - SMALL_INT_MIN]
              : Value.of(v);
        }
      case FLOAT:
        return Value.of(in.unpackDouble());
      case STRING:
        {
          String s = readString(where, "a string");
          return s.isEmpty() ? EMPTY_STRING : Value.of(s);
        }
      case BINARY:
        {
          long n;
          try {
            n = in.unpackBinaryHeader();
          } catch (MessageSizeException e) {
            n = e.getSize();
          }
          checkLength(
              where, pos, "a binary", f, n, limits.maxBinaryBytes(), "bytes", "maxBinaryBytes", 1);
          return Value.of(in.readPayload((int) n));
        }
      case ARRAY:
        {
          checkDepth(where, pos, depth, f);
          int n = arrayHeader(where, "an array", limits.maxCollectionSize(), "maxCollectionSize");
          if (n == 0) {
            return EMPTY_ARRAY;
          }
          Value[] elements = new Value[n];
          for (int i = 0; i < n; i++) {
            elements[i] = readValue(where, depth + 1);
          }
          return Value.array(elements);
        }
      case MAP:
        {
          checkDepth(where, pos, depth, f);
          int n = mapHeader(where, "a map", limits.maxCollectionSize(), "maxCollectionSize");
          if (n == 0) {
            return EMPTY_MAP;
          }
          TreeMap<Value, Value> entries = new TreeMap<>();
          for (int i = 0; i < n; i++) {
            long keyPos = position();
            Value key = readValue(where, depth + 1);
            Value value = readValue(where, depth + 1);
            if (entries.put(key, value) != null) {
              throw error(
                  where,
                  keyPos,
                  "expected distinct map keys, got the key "
                      + abbreviate(key.toString())
                      + " twice");
            }
          }
          return Value.map(entries);
        }
      case EXTENSION:
      default:
        throw unexpected(where, pos, "a value (extension types are not allowed)", f);
    }
  }

  private void checkDepth(String where, long pos, int depth, MessageFormat f) {
    if (depth >= limits.maxDepth()) {
      throw error(
          where,
          pos,
          "expected values nested at most "
              + limits.maxDepth()
              + " deep (maxDepth), got "
              + describe(f)
              + " at depth "
              + (depth + 1));
    }
  }

  // ---------------------------------------------------------------- CRDT bodies

  /** Reads {@code {replica: count}}: replicas strictly ascending (unsigned), counts positive. */
  GCounter readCounts(String where) throws IOException {
    int n = mapHeader(where, "a map of replica to count", limits.maxReplicas(), "maxReplicas");
    if (n == 0) {
      return GCounter.empty();
    }
    if (n == 1) {
      return counter(readReplica(where), readPositive(where, "a count"));
    }
    return GCounter.of(readEntries(where, n, "a count"));
  }

  /**
   * Reads {@code {replica: sequence}}: replicas strictly ascending (unsigned), sequences positive.
   */
  VersionVector readVector(String where) throws IOException {
    int n =
        mapHeader(
            where, "a map of replica to sequence number", limits.maxReplicas(), "maxReplicas");
    if (n == 0) {
      return VersionVector.empty();
    }
    if (n == 1) {
      ReplicaId replica = readReplica(where);
      return VersionVector.empty().with(replica, readPositive(where, "a sequence number"));
    }
    return VersionVector.of(readEntries(where, n, "a sequence number"));
  }

  /**
   * The counter {@code {replica: count}}, or the empty one for a count of 0. Most counters on the
   * wire have one replica; an increment's delta ("only that replica's new count") builds that
   * without the factory's sorted copy.
   */
  static GCounter counter(ReplicaId replica, long count) {
    return count == 0 ? GCounter.empty() : GCounter.empty().increment(replica, count).delta();
  }

  private Map<ReplicaId, Long> readEntries(String where, int n, String expectedValue)
      throws IOException {
    Object[] keys = new Object[n];
    Object[] values = new Object[n];
    ReplicaId previous = null;
    for (int i = 0; i < n; i++) {
      long pos = position();
      ReplicaId replica = readReplica(where);
      if (previous != null && previous.compareTo(replica) >= 0) {
        throw error(
            where,
            pos,
            previous.equals(replica)
                ? "expected distinct replica keys, got " + replica + " twice"
                : "expected replica keys in ascending order, got "
                    + replica
                    + " after "
                    + previous);
      }
      keys[i] = replica;
      values[i] = readPositive(where, expectedValue);
      previous = replica;
    }
    return new ArrayMap<>(keys, values, n);
  }

  /**
   * Reads {@code [replica, first, last, ...]} in canonical order: sorted, disjoint, non-adjacent.
   */
  DotSet readDots(String where) throws IOException {
    long pos = position();
    int n =
        arrayHeader(
            where,
            "an array of (replica, first, last) triples",
            3L * limits.maxDotRanges(),
            "3 x maxDotRanges");
    if (n % 3 != 0) {
      throw error(
          where,
          pos,
          "expected an array of (replica, first, last) triples, got "
              + n
              + " elements, not a multiple of 3");
    }
    if (n == 0) {
      return DotSet.empty();
    }
    List<DotRange> ranges = new ArrayList<>(n / 3);
    ReplicaId previous = null;
    long previousLast = 0;
    for (int i = 0; i < n; i += 3) {
      long rangePos = position();
      ReplicaId replica = readReplica(where);
      long first = readPositive(where, "a first sequence number");
      long lastPos = position();
      long last = readLong(where, "a last sequence number");
      if (last < first) {
        throw error(
            where, lastPos, "expected a last sequence number >= first " + first + ", got " + last);
      }
      if (previous != null) {
        int c = previous.compareTo(replica);
        if (c > 0) {
          throw error(
              where,
              rangePos,
              "expected ranges sorted by replica, got " + replica + " after " + previous);
        }
        if (c == 0 && first - 1 <= previousLast) {
          throw error(
              where,
              rangePos,
              "expected disjoint, non-adjacent ranges in ascending order, got "
                  + replica
                  + ":"
                  + first
                  + ".."
                  + last
                  + " after .."
                  + previousLast);
        }
      }
      ranges.add(new DotRange(replica, first, last));
      previous = replica;
      previousLast = last;
    }
    return DotSet.of(ranges);
  }

  /**
   * Reads the header of a flat array of a causal CRDT's entries, {@code width} elements each, at
   * most {@code maxCausalEntries} entries.
   */
  int entriesHeader(String where, String expected, int width) throws IOException {
    long pos = position();
    int n =
        arrayHeader(
            where,
            "an array of " + expected,
            (long) width * limits.maxCausalEntries(),
            width + " x maxCausalEntries");
    if (n % width != 0) {
      throw error(
          where,
          pos,
          "expected an array of "
              + expected
              + ", got "
              + n
              + " elements, not a multiple of "
              + width);
    }
    return n;
  }

  /** Reads a dot {@code replica, sequence}. */
  Dot readDot(String where) throws IOException {
    ReplicaId replica = readReplica(where);
    return new Dot(replica, readPositive(where, "a sequence number"));
  }

  /** Reads {@code value, timestamp, writer}: the three elements of a written register. */
  LWWRegister readWrite(String whereValue, String whereTimestamp, String whereWriter)
      throws IOException {
    Value value = readValue(whereValue, 0);
    HlcTimestamp timestamp = readTimestamp(whereTimestamp);
    ReplicaId writer = readReplica(whereWriter);
    return LWWRegister.of(value, timestamp, writer);
  }

  /** Reads {@code {name: [type, state, touched]}}, names strictly ascending. */
  Map<String, FieldState> readFields(String where) throws IOException {
    int n = mapHeader(where, "a map of fields", limits.maxFields(), "maxFields");
    if (n == 0) {
      return Map.of();
    }
    Object[] names = new Object[n];
    Object[] fields = new Object[n];
    String previous = null;
    for (int i = 0; i < n; i++) {
      long pos = position();
      String name = readString(where, "a field name");
      if (previous != null && previous.compareTo(name) >= 0) {
        throw error(
            where,
            pos,
            previous.equals(name)
                ? "expected distinct field names, got '" + abbreviate(name) + "' twice"
                : "expected field names in ascending order, got '"
                    + abbreviate(name)
                    + "' after '"
                    + abbreviate(previous)
                    + "'");
      }
      try {
        fields[i] = readField();
      } catch (CodecException e) {
        throw new CodecException(where + "['" + abbreviate(name) + "']." + e.getMessage(), e);
      }
      names[i] = name;
      previous = name;
    }
    return new ArrayMap<>(names, fields, n);
  }

  /** Reads {@code [type, state, touched]}; errors name the part relative to the field. */
  FieldState readField() throws IOException {
    arrayOf("field", "a field [type, state, touched]", 3);
    Crdt<?> state = readFieldType("type").read(this, "state", 0);
    VersionVector touched = readVector("touched");
    return new FieldState(state, touched);
  }

  /**
   * Reads a nested state {@code [type, state]} enclosed in {@code depth} CRDTs, refusing it past
   * {@link CodecLimits#maxCrdtDepth()} before reading its body.
   */
  Crdt<?> readNested(String where, int depth) throws IOException {
    long pos = position();
    if (depth > limits.maxCrdtDepth()) {
      throw error(
          where,
          pos,
          "expected CRDTs nested at most "
              + limits.maxCrdtDepth()
              + " deep (maxCrdtDepth), got one at depth "
              + depth);
    }
    arrayOf(where, "a nested CRDT [type, state]", 2);
    return readFieldType(where + ".type").read(this, where + ".state", depth);
  }
}

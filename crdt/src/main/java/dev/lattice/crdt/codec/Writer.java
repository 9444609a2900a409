package dev.lattice.crdt.codec;

import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.DotRange;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.LWWRegister;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import org.msgpack.core.MessagePacker;

/**
 * Writes the bodies shared by several payloads. Refuses, with {@link IllegalArgumentException},
 * what a decoder with the same limits would refuse. Stateless apart from the limits; thread-safe.
 */
final class Writer {

  private final CodecLimits limits;

  Writer(CodecLimits limits) {
    this.limits = limits;
  }

  /** Opens a payload: {@code [tag, version, ...]} with {@code bodyElements} to follow. */
  static void header(MessagePacker out, int tag, int bodyElements) throws IOException {
    out.packArrayHeader(2 + bodyElements);
    out.packInt(tag);
    out.packInt(TypeTags.FORMAT_VERSION);
  }

  /** A replica id: the signed long, in its shortest MessagePack int form. */
  static void replica(MessagePacker out, ReplicaId replica) throws IOException {
    out.packLong(replica.value());
  }

  /** A UTF-8 string; {@code what} names it in errors. */
  void string(MessagePacker out, String s, String what) throws IOException {
    int bad = Utf8.firstUnpairedSurrogate(s);
    if (bad >= 0) {
      throw new IllegalArgumentException(
          "cannot encode "
              + what
              + ": unpaired surrogate at index "
              + bad
              + " has no UTF-8 form, in '"
              + Reader.abbreviate(s)
              + "'");
    }
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    if (bytes.length > limits.maxStringBytes()) {
      throw tooMany(what, bytes.length, "UTF-8 bytes", "maxStringBytes", limits.maxStringBytes());
    }
    out.packRawStringHeader(bytes.length);
    out.writePayload(bytes);
  }

  /** A value in its raw MessagePack form; {@code depth} containers enclose it. */
  void value(MessagePacker out, Value value, int depth) throws IOException {
    switch (value.kind()) {
      case 0 -> out.packNil();
      case 1 -> out.packBoolean(((Value.BooleanValue) value).value());
      case 2 -> out.packLong(((Value.IntegerValue) value).value());
      case 3 -> {
        double d = ((Value.FloatValue) value).value();
        // Every NaN is equal as a Value, so every NaN encodes as the one canonical NaN.
        out.packDouble(Double.isNaN(d) ? Double.NaN : d);
      }
      case 4 -> string(out, ((Value.StringValue) value).value(), "a string value");
      case 5 -> {
        byte[] bytes = ((Value.BinaryValue) value).bytes();
        if (bytes.length > limits.maxBinaryBytes()) {
          throw tooMany(
              "a binary value", bytes.length, "bytes", "maxBinaryBytes", limits.maxBinaryBytes());
        }
        out.packBinaryHeader(bytes.length);
        out.writePayload(bytes);
      }
      case 6 -> {
        List<Value> elements = ((Value.ArrayValue) value).elements();
        checkContainer("an array value", elements.size(), "elements", depth);
        out.packArrayHeader(elements.size());
        for (Value element : elements) {
          value(out, element, depth + 1);
        }
      }
      case 7 -> {
        SortedMap<Value, Value> entries = ((Value.MapValue) value).entries();
        checkContainer("a map value", entries.size(), "entries", depth);
        out.packMapHeader(entries.size());
        for (Map.Entry<Value, Value> e : entries.entrySet()) {
          value(out, e.getKey(), depth + 1);
          value(out, e.getValue(), depth + 1);
        }
      }
      default ->
          throw new IllegalArgumentException("cannot encode a value of kind " + value.kind());
    }
  }

  private void checkContainer(String what, int size, String unit, int depth) {
    if (depth >= limits.maxDepth()) {
      throw new IllegalArgumentException(
          "cannot encode "
              + what
              + " at nesting depth "
              + (depth + 1)
              + ": more than maxDepth "
              + limits.maxDepth());
    }
    if (size > limits.maxCollectionSize()) {
      throw tooMany(what, size, unit, "maxCollectionSize", limits.maxCollectionSize());
    }
  }

  /** {@code {replica: count}} of the positive counts, sorted by replica. */
  void counts(MessagePacker out, GCounter counter, String what) throws IOException {
    // GCounter keeps only positive counts, so every entry is written.
    int n = counter.replicaCount();
    if (n > limits.maxReplicas()) {
      throw tooMany(what, n, "replicas", "maxReplicas", limits.maxReplicas());
    }
    out.packMapHeader(n);
    for (int i = 0; i < n; i++) {
      replica(out, counter.replicaAt(i));
      out.packLong(counter.countAt(i));
    }
  }

  /** {@code {replica: sequence}}, sorted by replica. */
  void vector(MessagePacker out, VersionVector vector, String what) throws IOException {
    int n = vector.size();
    if (n > limits.maxReplicas()) {
      throw tooMany(what, n, "replicas", "maxReplicas", limits.maxReplicas());
    }
    out.packMapHeader(n);
    for (int i = 0; i < n; i++) {
      replica(out, vector.replicaAt(i));
      out.packLong(vector.sequenceAt(i));
    }
  }

  /** {@code [replica, first, last, ...]}, the ranges in {@link DotSet#ranges()} order. */
  void dots(MessagePacker out, DotSet dots) throws IOException {
    List<DotRange> ranges = dots.ranges();
    if (ranges.size() > limits.maxDotRanges()) {
      throw tooMany("a dot set", ranges.size(), "ranges", "maxDotRanges", limits.maxDotRanges());
    }
    out.packArrayHeader(3 * ranges.size());
    for (DotRange range : ranges) {
      replica(out, range.replica());
      out.packLong(range.first());
      out.packLong(range.last());
    }
  }

  /** The three elements {@code value, timestamp, writer} of a written register. */
  void write(MessagePacker out, LWWRegister register) throws IOException {
    value(out, register.value().orElseThrow(), 0);
    out.packLong(register.timestamp().orElseThrow().toLong());
    replica(out, register.writer().orElseThrow());
  }

  /** {@code {name: [type, state, touched]}}, sorted by name. */
  void fields(MessagePacker out, SortedMap<String, FieldState> fields) throws IOException {
    if (fields.size() > limits.maxFields()) {
      throw tooMany("a field map", fields.size(), "fields", "maxFields", limits.maxFields());
    }
    out.packMapHeader(fields.size());
    for (Map.Entry<String, FieldState> e : fields.entrySet()) {
      string(out, e.getKey(), "a field name");
      field(out, e.getValue());
    }
  }

  /** {@code [type, state, touched]}. */
  void field(MessagePacker out, FieldState field) throws IOException {
    out.packArrayHeader(3);
    StateCodec codec = StateCodecs.of(field.type());
    out.packInt(codec.tag());
    codec.write(this, out, field.state());
    vector(out, field.touched(), "a touched vector");
  }

  /** Checks the number of live entries of a causal CRDT against {@code maxCausalEntries}. */
  void checkEntries(String what, int entries) {
    if (entries > limits.maxCausalEntries()) {
      throw tooMany(what, entries, "entries", "maxCausalEntries", limits.maxCausalEntries());
    }
  }

  /** A nested state {@code [type, state]}; {@code depth} CRDTs enclose it. */
  void nested(MessagePacker out, Crdt<?> state, int depth) throws IOException {
    if (depth > limits.maxCrdtDepth()) {
      throw new IllegalArgumentException(
          "cannot encode a "
              + state.type()
              + " nested "
              + depth
              + " deep: more than maxCrdtDepth "
              + limits.maxCrdtDepth());
    }
    StateCodec codec = StateCodecs.of(state.type());
    out.packArrayHeader(2);
    out.packInt(codec.tag());
    codec.write(this, out, state, depth);
  }

  private static IllegalArgumentException tooMany(
      String what, long size, String unit, String limitName, int limit) {
    return new IllegalArgumentException(
        "cannot encode "
            + what
            + " of "
            + size
            + " "
            + unit
            + ": more than "
            + limitName
            + " "
            + limit);
  }
}

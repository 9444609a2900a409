package dev.lattice.crdt.codec;

import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.ORMap;
import java.io.IOException;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.msgpack.core.MessagePacker;

/**
 * An OR-Map state {@code [context, [replica, sequence, key, [type, state], ...]]}: the causal
 * context as a dot set, then one quadruple per live entry, sorted by dot, each holding the nested
 * state with its field type tag. Nesting deeper than {@link CodecLimits#maxCrdtDepth()} is refused
 * before the nested body is read.
 */
final class ORMapState extends StateCodec {

  ORMapState() {
    super(CrdtType.OR_MAP, TypeTags.OR_MAP);
  }

  @Override
  void write(Writer writer, MessagePacker out, Crdt<?> state) throws IOException {
    write(writer, out, state, 0);
  }

  @Override
  void write(Writer writer, MessagePacker out, Crdt<?> state, int depth) throws IOException {
    ORMap map = (ORMap) state;
    SortedMap<Dot, Map.Entry<String, Crdt<?>>> entries = map.entries();
    out.packArrayHeader(2);
    writer.dots(out, map.context());
    writer.checkEntries("an OR-Map", entries.size());
    out.packArrayHeader(4 * entries.size());
    for (Map.Entry<Dot, Map.Entry<String, Crdt<?>>> e : entries.entrySet()) {
      Writer.replica(out, e.getKey().replica());
      out.packLong(e.getKey().sequence());
      writer.string(out, e.getValue().getKey(), "an OR-Map key");
      writer.nested(out, e.getValue().getValue(), depth + 1);
    }
  }

  @Override
  Crdt<?> read(Reader in, String where, int depth) throws IOException {
    in.arrayOf(where, "an OR-Map state [context, entries]", 2);
    var context = in.readDots(where + ".context");
    String whereEntries = where + ".entries";
    int n = in.entriesHeader(whereEntries, "(replica, sequence, key, [type, state]) quadruples", 4);
    TreeMap<Dot, Map.Entry<String, Crdt<?>>> entries = new TreeMap<>();
    Dot previous = null;
    for (int i = 0; i < n; i += 4) {
      long pos = in.position();
      Dot dot = in.readDot(whereEntries);
      if (previous != null && dot.compareTo(previous) <= 0) {
        throw Reader.error(
            whereEntries,
            pos,
            "expected entries in ascending dot order, got " + dot + " after " + previous);
      }
      String key = in.readString(whereEntries, "an OR-Map key");
      Crdt<?> nested =
          in.readNested(whereEntries + "['" + Reader.abbreviate(key) + "']", depth + 1);
      entries.put(dot, Map.entry(key, nested));
      previous = dot;
    }
    try {
      return ORMap.of(entries, context);
    } catch (IllegalArgumentException e) {
      throw Reader.error(
          where, in.position(), "expected a well-formed OR-Map, got " + e.getMessage());
    }
  }
}

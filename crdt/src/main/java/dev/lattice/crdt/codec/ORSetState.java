package dev.lattice.crdt.codec;

import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.Value;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.msgpack.core.MessagePacker;

/**
 * An OR-Set state {@code [context, [element, replica, sequence, ...]]}: the causal context as a dot
 * set, then one triple per live dot, sorted by element then dot.
 */
final class ORSetState extends StateCodec {

  ORSetState() {
    super(CrdtType.OR_SET, TypeTags.OR_SET);
  }

  @Override
  void write(Writer writer, MessagePacker out, Crdt<?> state) throws IOException {
    ORSet set = (ORSet) state;
    out.packArrayHeader(2);
    writer.dots(out, set.context());
    writer.checkEntries("an OR-Set", set.dotCount());
    out.packArrayHeader(3 * set.dotCount());
    for (Map.Entry<Value, List<Dot>> e : set.entries().entrySet()) {
      for (Dot dot : e.getValue()) {
        writer.value(out, e.getKey(), 0);
        Writer.replica(out, dot.replica());
        out.packLong(dot.sequence());
      }
    }
  }

  @Override
  Crdt<?> read(Reader in, String where, int depth) throws IOException {
    in.arrayOf(where, "an OR-Set state [context, entries]", 2);
    var context = in.readDots(where + ".context");
    String whereEntries = where + ".entries";
    int n = in.entriesHeader(whereEntries, "(element, replica, sequence) triples", 3);
    LinkedHashMap<Value, List<Dot>> elements = new LinkedHashMap<>();
    Value previous = null;
    Dot previousDot = null;
    for (int i = 0; i < n; i += 3) {
      long pos = in.position();
      Value element = in.readValue(whereEntries, 0);
      Dot dot = in.readDot(whereEntries);
      int c = previous == null ? 1 : element.compareTo(previous);
      if (c < 0 || (c == 0 && dot.compareTo(previousDot) <= 0)) {
        throw Reader.error(
            whereEntries,
            pos,
            "expected entries in ascending (element, dot) order, got "
                + Reader.abbreviate(element.toString())
                + "@"
                + dot
                + " after "
                + Reader.abbreviate(previous.toString())
                + "@"
                + previousDot);
      }
      elements.computeIfAbsent(element, k -> new ArrayList<>()).add(dot);
      previous = element;
      previousDot = dot;
    }
    try {
      return ORSet.of(elements, context);
    } catch (IllegalArgumentException e) {
      throw Reader.error(
          where, in.position(), "expected a well-formed OR-Set, got " + e.getMessage());
    }
  }
}

package dev.lattice.crdt.codec;

import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.MVRegister;
import dev.lattice.crdt.Value;
import java.io.IOException;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.msgpack.core.MessagePacker;

/**
 * An MV-Register state {@code [context, [replica, sequence, value, ...]]}: the causal context as a
 * dot set, then one triple per live write, sorted by dot.
 */
final class MVRegisterState extends StateCodec {

  MVRegisterState() {
    super(CrdtType.MV_REGISTER, TypeTags.MV_REGISTER);
  }

  @Override
  void write(Writer writer, MessagePacker out, Crdt<?> state) throws IOException {
    MVRegister register = (MVRegister) state;
    SortedMap<Dot, Value> writes = register.writes();
    out.packArrayHeader(2);
    writer.dots(out, register.context());
    writer.checkEntries("an MV-Register", writes.size());
    out.packArrayHeader(3 * writes.size());
    for (Map.Entry<Dot, Value> e : writes.entrySet()) {
      Writer.replica(out, e.getKey().replica());
      out.packLong(e.getKey().sequence());
      writer.value(out, e.getValue(), 0);
    }
  }

  @Override
  Crdt<?> read(Reader in, String where, int depth) throws IOException {
    in.arrayOf(where, "an MV-Register state [context, writes]", 2);
    var context = in.readDots(where + ".context");
    String whereWrites = where + ".writes";
    int n = in.entriesHeader(whereWrites, "(replica, sequence, value) triples", 3);
    TreeMap<Dot, Value> writes = new TreeMap<>();
    Dot previous = null;
    for (int i = 0; i < n; i += 3) {
      long pos = in.position();
      Dot dot = in.readDot(whereWrites);
      if (previous != null && dot.compareTo(previous) <= 0) {
        throw Reader.error(
            whereWrites,
            pos,
            "expected writes in ascending dot order, got " + dot + " after " + previous);
      }
      writes.put(dot, in.readValue(whereWrites, 0));
      previous = dot;
    }
    try {
      return MVRegister.of(writes, context);
    } catch (IllegalArgumentException e) {
      throw Reader.error(
          where, in.position(), "expected a well-formed MV-Register, got " + e.getMessage());
    }
  }
}

package dev.lattice.crdt.codec;

import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.PNCounter;
import dev.lattice.crdt.ReplicaId;
import java.io.IOException;
import org.msgpack.core.MessagePacker;

/**
 * A PN-Counter state {@code [{replica: count}, {replica: count}]}, increments then decrements;
 * compact: the writer's {@code [increments, decrements]}.
 */
final class PNCounterState extends StateCodec {

  PNCounterState() {
    super(CrdtType.PN_COUNTER, TypeTags.PN_COUNTER);
  }

  @Override
  void write(Writer writer, MessagePacker out, Crdt<?> state) throws IOException {
    PNCounter pn = (PNCounter) state;
    out.packArrayHeader(2);
    writer.counts(out, pn.increments(), "a PN-Counter's increments");
    writer.counts(out, pn.decrements(), "a PN-Counter's decrements");
  }

  @Override
  Crdt<?> read(Reader in, String where, int depth) throws IOException {
    in.arrayOf(where, "a PN-Counter state [increments, decrements]", 2);
    GCounter p = in.readCounts(where + ".increments");
    GCounter n = in.readCounts(where + ".decrements");
    return PNCounter.of(p, n);
  }

  @Override
  void writeCompact(Writer writer, MessagePacker out, Crdt<?> state, ReplicaId replica)
      throws IOException {
    PNCounter pn = (PNCounter) state;
    out.packArrayHeader(2);
    out.packLong(pn.increments().countOf(replica));
    out.packLong(pn.decrements().countOf(replica));
  }

  @Override
  Crdt<?> readCompact(Reader in, String where, ReplicaId replica) throws IOException {
    in.arrayOf(where, "a compact PN-Counter state [increments, decrements]", 2);
    GCounter p = Reader.counter(replica, in.readNonNegative(where, "an increments count"));
    GCounter n = Reader.counter(replica, in.readNonNegative(where, "a decrements count"));
    return PNCounter.of(p, n);
  }
}

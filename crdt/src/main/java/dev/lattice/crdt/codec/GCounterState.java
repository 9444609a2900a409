package dev.lattice.crdt.codec;

import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.ReplicaId;
import java.io.IOException;
import org.msgpack.core.MessagePacker;

/** A G-Counter state {@code {replica: count}}; compact: the writer's count. */
final class GCounterState extends StateCodec {

  GCounterState() {
    super(CrdtType.G_COUNTER, TypeTags.G_COUNTER);
  }

  @Override
  void write(Writer writer, MessagePacker out, Crdt<?> state) throws IOException {
    writer.counts(out, (GCounter) state, "a G-Counter");
  }

  @Override
  Crdt<?> read(Reader in, String where, int depth) throws IOException {
    return in.readCounts(where);
  }

  @Override
  void writeCompact(Writer writer, MessagePacker out, Crdt<?> state, ReplicaId replica)
      throws IOException {
    out.packLong(((GCounter) state).countOf(replica));
  }

  @Override
  Crdt<?> readCompact(Reader in, String where, ReplicaId replica) throws IOException {
    return Reader.counter(replica, in.readNonNegative(where, "a count"));
  }
}

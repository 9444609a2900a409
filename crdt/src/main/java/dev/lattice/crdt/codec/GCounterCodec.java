package dev.lattice.crdt.codec;

import dev.lattice.crdt.GCounter;
import java.io.IOException;
import org.msgpack.core.MessagePacker;

/** {@code [2, 1, {replica: count}]}, replicas ascending (unsigned), counts positive. */
final class GCounterCodec extends AbstractCodec<GCounter> {

  GCounterCodec(CodecLimits limits) {
    super(limits, "GCounter", TypeTags.G_COUNTER, TypeTags.G_COUNTER);
  }

  @Override
  void writePayload(MessagePacker out, GCounter value) throws IOException {
    Writer.header(out, TypeTags.G_COUNTER, 1);
    writer.counts(out, value, "a G-Counter");
  }

  @Override
  GCounter readBody(Reader in, int tag, int elements, long start) throws IOException {
    expectElements(tag, elements, 1, start, "[2, 1, counts]");
    return in.readCounts("GCounter.counts");
  }
}

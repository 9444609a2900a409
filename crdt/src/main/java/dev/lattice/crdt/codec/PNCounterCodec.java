package dev.lattice.crdt.codec;

import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.PNCounter;
import java.io.IOException;
import org.msgpack.core.MessagePacker;

/** {@code [3, 1, {replica: increments}, {replica: decrements}]}. */
final class PNCounterCodec extends AbstractCodec<PNCounter> {

  PNCounterCodec(CodecLimits limits) {
    super(limits, "PNCounter", TypeTags.PN_COUNTER, TypeTags.PN_COUNTER);
  }

  @Override
  void writePayload(MessagePacker out, PNCounter value) throws IOException {
    Writer.header(out, TypeTags.PN_COUNTER, 2);
    writer.counts(out, value.increments(), "a PN-Counter's increments");
    writer.counts(out, value.decrements(), "a PN-Counter's decrements");
  }

  @Override
  PNCounter readBody(Reader in, int tag, int elements, long start) throws IOException {
    expectElements(tag, elements, 2, start, "[3, 1, increments, decrements]");
    GCounter p = in.readCounts("PNCounter.increments");
    GCounter n = in.readCounts("PNCounter.decrements");
    return PNCounter.of(p, n);
  }
}

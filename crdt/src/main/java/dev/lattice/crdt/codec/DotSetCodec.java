package dev.lattice.crdt.codec;

import dev.lattice.crdt.DotSet;
import java.io.IOException;
import org.msgpack.core.MessagePacker;

/** {@code [6, 1, [replica, first, last, ...]]}, the ranges as flat triples in canonical order. */
final class DotSetCodec extends AbstractCodec<DotSet> {

  DotSetCodec(CodecLimits limits) {
    super(limits, "DotSet", TypeTags.DOT_SET, TypeTags.DOT_SET);
  }

  @Override
  void writePayload(MessagePacker out, DotSet value) throws IOException {
    Writer.header(out, TypeTags.DOT_SET, 1);
    writer.dots(out, value);
  }

  @Override
  DotSet readBody(Reader in, int tag, int elements, long start) throws IOException {
    expectElements(tag, elements, 1, start, "[6, 1, ranges]");
    return in.readDots("DotSet.ranges");
  }
}

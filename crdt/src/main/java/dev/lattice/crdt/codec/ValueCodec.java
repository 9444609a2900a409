package dev.lattice.crdt.codec;

import dev.lattice.crdt.Value;
import java.io.IOException;
import org.msgpack.core.MessagePacker;

/** {@code [1, 1, value]}, the value in its raw MessagePack form. */
final class ValueCodec extends AbstractCodec<Value> {

  ValueCodec(CodecLimits limits) {
    super(limits, "Value", TypeTags.VALUE, TypeTags.VALUE);
  }

  @Override
  void writePayload(MessagePacker out, Value value) throws IOException {
    Writer.header(out, TypeTags.VALUE, 1);
    writer.value(out, value, 0);
  }

  @Override
  Value readBody(Reader in, int tag, int elements, long start) throws IOException {
    expectElements(tag, elements, 1, start, "[1, 1, value]");
    return in.readValue("Value", 0);
  }
}

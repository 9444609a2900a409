package dev.lattice.crdt.codec;

import dev.lattice.crdt.LWWRegister;
import java.io.IOException;
import org.msgpack.core.MessagePacker;

/** {@code [4, 1]} when never written, else {@code [4, 1, value, timestamp, writer]}. */
final class LWWRegisterCodec extends AbstractCodec<LWWRegister> {

  LWWRegisterCodec(CodecLimits limits) {
    super(limits, "LWWRegister", TypeTags.LWW_REGISTER, TypeTags.LWW_REGISTER);
  }

  @Override
  void writePayload(MessagePacker out, LWWRegister value) throws IOException {
    if (value.isEmpty()) {
      Writer.header(out, TypeTags.LWW_REGISTER, 0);
    } else {
      Writer.header(out, TypeTags.LWW_REGISTER, 3);
      writer.write(out, value);
    }
  }

  @Override
  LWWRegister readBody(Reader in, int tag, int elements, long start) throws IOException {
    if (elements == 0) {
      return LWWRegister.empty();
    }
    expectElements(tag, elements, 3, start, "[4, 1] or [4, 1, value, timestamp, writer]");
    return in.readWrite("LWWRegister.value", "LWWRegister.timestamp", "LWWRegister.writer");
  }
}

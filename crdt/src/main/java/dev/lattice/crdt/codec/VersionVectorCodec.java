package dev.lattice.crdt.codec;

import dev.lattice.crdt.VersionVector;
import java.io.IOException;
import org.msgpack.core.MessagePacker;

/** {@code [5, 1, {replica: sequence}]}, replicas ascending (unsigned), sequences positive. */
final class VersionVectorCodec extends AbstractCodec<VersionVector> {

  VersionVectorCodec(CodecLimits limits) {
    super(limits, "VersionVector", TypeTags.VERSION_VECTOR, TypeTags.VERSION_VECTOR);
  }

  @Override
  void writePayload(MessagePacker out, VersionVector value) throws IOException {
    Writer.header(out, TypeTags.VERSION_VECTOR, 1);
    writer.vector(out, value, "a version vector");
  }

  @Override
  VersionVector readBody(Reader in, int tag, int elements, long start) throws IOException {
    expectElements(tag, elements, 1, start, "[5, 1, entries]");
    return in.readVector("VersionVector.entries");
  }
}

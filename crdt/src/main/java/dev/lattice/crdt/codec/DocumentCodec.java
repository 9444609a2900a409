package dev.lattice.crdt.codec;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.FieldState;
import java.io.IOException;
import java.util.Map;
import org.msgpack.core.MessagePacker;

/** {@code [9, 1, id, [replica, first, last, ...], {name: [type, state, touched]}]}. */
final class DocumentCodec extends AbstractCodec<Document> {

  DocumentCodec(CodecLimits limits) {
    super(limits, "Document", TypeTags.DOCUMENT, TypeTags.DOCUMENT);
  }

  @Override
  int sizeHint(Document document) {
    return (int) Math.min(1 << 26, 64 + 40L * document.fieldCount());
  }

  @Override
  void writePayload(MessagePacker out, Document document) throws IOException {
    Writer.header(out, TypeTags.DOCUMENT, 3);
    writer.string(out, document.id(), "a document id");
    writer.dots(out, document.context());
    writer.fields(out, document.fields());
  }

  @Override
  Document readBody(Reader in, int tag, int elements, long start) throws IOException {
    expectElements(tag, elements, 3, start, "[9, 1, id, context, fields]");
    String id = in.readString("Document.id", "a document id");
    DotSet context = in.readDots("Document.context");
    Map<String, FieldState> fields = in.readFields("Document.fields");
    try {
      return Document.restore(id, context, fields);
    } catch (IllegalArgumentException e) {
      throw new CodecException(
          "Document: expected every touched dot to be in the context, got "
              + e.getMessage()
              + " (payload at byte "
              + start
              + ")",
          e);
    }
  }
}

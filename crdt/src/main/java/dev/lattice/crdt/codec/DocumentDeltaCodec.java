package dev.lattice.crdt.codec;

import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.VersionVector;
import java.io.IOException;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import org.msgpack.core.MessagePacker;

/**
 * A delta in one of two forms, chosen deterministically: the compact {@code [8, 1, replica,
 * sequence, name, type, compactState]} whenever {@link #compactDot} applies, else the general
 * {@code [7, 1, context, fields]}. The decoder refuses the general form for a delta that has a
 * compact one, so each delta has exactly one encoding.
 */
final class DocumentDeltaCodec extends AbstractCodec<DocumentDelta> {

  DocumentDeltaCodec(CodecLimits limits) {
    super(limits, "DocumentDelta", TypeTags.DOCUMENT_DELTA, TypeTags.DOCUMENT_DELTA_SINGLE);
  }

  /**
   * The dot {@code r:s} if the delta has the compact form: its context is exactly that dot, it has
   * exactly one field, the field's touched vector is exactly {@code {r: s}}, and its state has
   * contributions from {@code r} only ({@code state.contributionsOf(r).equals(state)}); else null.
   */
  static Dot compactDot(DocumentDelta delta) {
    SortedMap<String, FieldState> fields = delta.fields();
    if (fields.size() != 1) {
      return null;
    }
    Optional<Dot> single = delta.context().singleDot();
    if (single.isEmpty()) {
      return null;
    }
    Dot dot = single.get();
    FieldState field = fields.get(fields.firstKey());
    VersionVector touched = field.touched();
    if (touched.size() != 1
        || !touched.replicaAt(0).equals(dot.replica())
        || touched.sequenceAt(0) != dot.sequence()) {
      return null;
    }
    return onlyFrom(field.state(), dot.replica()) ? dot : null;
  }

  /** {@code state.contributionsOf(replica).equals(state)}, without building the contributions. */
  private static boolean onlyFrom(Crdt<?> state, ReplicaId replica) {
    return state.type().kind().onlyFromAny(state, replica);
  }

  @Override
  int sizeHint(DocumentDelta delta) {
    return (int) Math.min(1 << 26, 64 + 40L * delta.fields().size());
  }

  @Override
  void writePayload(MessagePacker out, DocumentDelta delta) throws IOException {
    Dot dot = compactDot(delta);
    if (dot == null) {
      Writer.header(out, TypeTags.DOCUMENT_DELTA, 2);
      writer.dots(out, delta.context());
      writer.fields(out, delta.fields());
      return;
    }
    ReplicaId replica = dot.replica();
    String name = delta.fields().firstKey();
    Crdt<?> state = delta.fields().get(name).state();
    Writer.header(out, TypeTags.DOCUMENT_DELTA_SINGLE, 5);
    Writer.replica(out, replica);
    out.packLong(dot.sequence());
    writer.string(out, name, "a field name");
    StateCodec codec = StateCodecs.of(state.type());
    out.packInt(codec.tag());
    codec.writeCompact(writer, out, state, replica);
  }

  @Override
  DocumentDelta readBody(Reader in, int tag, int elements, long start) throws IOException {
    if (tag == TypeTags.DOCUMENT_DELTA_SINGLE) {
      expectElements(tag, elements, 5, start, "[8, 1, replica, sequence, name, type, state]");
      return readSingle(in, start);
    }
    expectElements(tag, elements, 2, start, "[7, 1, context, fields]");
    DotSet context = in.readDots("DocumentDelta.context");
    Map<String, FieldState> fields = in.readFields("DocumentDelta.fields");
    DocumentDelta delta = of(context, fields, start);
    if (compactDot(delta) != null) {
      throw Reader.error(
          "DocumentDelta",
          start,
          "expected the compact form [8, ...] for a delta of one dot and one field that only"
              + " this dot touched, got the general form [7, ...]");
    }
    return delta;
  }

  private DocumentDelta readSingle(Reader in, long start) throws IOException {
    CodecLimits limits = in.limits();
    if (limits.maxFields() < 1 || limits.maxReplicas() < 1 || limits.maxDotRanges() < 1) {
      throw Reader.error(
          "DocumentDelta",
          start,
          "expected no delta at all under " + limits + ", got a delta of one dot and one field");
    }
    ReplicaId replica = in.readReplica("DocumentDelta.replica");
    long sequence = in.readPositive("DocumentDelta.sequence", "a sequence number");
    String name = in.readString("DocumentDelta.name", "a field name");
    Crdt<?> state =
        in.readFieldType("DocumentDelta.type").readCompact(in, "DocumentDelta.state", replica);
    FieldState field = new FieldState(state, VersionVector.empty().with(replica, sequence));
    return of(DotSet.of(new Dot(replica, sequence)), Map.of(name, field), start);
  }

  private static DocumentDelta of(DotSet context, Map<String, FieldState> fields, long start) {
    try {
      return DocumentDelta.of(context, fields);
    } catch (IllegalArgumentException e) {
      throw new CodecException(
          "DocumentDelta: expected every touched dot to be in the context, got "
              + e.getMessage()
              + " (payload at byte "
              + start
              + ")",
          e);
    }
  }
}

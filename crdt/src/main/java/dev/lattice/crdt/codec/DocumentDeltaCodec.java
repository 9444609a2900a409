package dev.lattice.crdt.codec;

import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.LWWRegister;
import dev.lattice.crdt.PNCounter;
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
    if (state instanceof GCounter g) {
      return onlyFrom(g, replica);
    }
    if (state instanceof PNCounter pn) {
      return onlyFrom(pn.increments(), replica) && onlyFrom(pn.decrements(), replica);
    }
    if (state instanceof LWWRegister register) {
      return register.writer().map(replica::equals).orElse(true);
    }
    return state.contributionsOf(replica::equals).equals(state);
  }

  private static boolean onlyFrom(GCounter counter, ReplicaId replica) {
    int n = counter.replicaCount();
    return n == 0 || (n == 1 && counter.replicaAt(0).equals(replica));
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
    if (state instanceof GCounter g) {
      out.packInt(TypeTags.G_COUNTER);
      out.packLong(g.countOf(replica));
    } else if (state instanceof PNCounter pn) {
      out.packInt(TypeTags.PN_COUNTER);
      out.packArrayHeader(2);
      out.packLong(pn.increments().countOf(replica));
      out.packLong(pn.decrements().countOf(replica));
    } else if (state instanceof LWWRegister register) {
      out.packInt(TypeTags.LWW_REGISTER);
      if (register.isEmpty()) {
        out.packArrayHeader(0);
      } else {
        out.packArrayHeader(2);
        writer.value(out, register.value().orElseThrow(), 0);
        out.packLong(register.timestamp().orElseThrow().toLong());
      }
    } else {
      throw new IllegalArgumentException("cannot encode a field of type " + state.type());
    }
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
    int type = in.readFieldType("DocumentDelta.type");
    Crdt<?> state;
    switch (type) {
      case TypeTags.G_COUNTER ->
          state = Reader.counter(replica, in.readNonNegative("DocumentDelta.state", "a count"));
      case TypeTags.PN_COUNTER -> {
        in.arrayOf("DocumentDelta.state", "a compact PN-Counter state [increments, decrements]", 2);
        GCounter p =
            Reader.counter(
                replica, in.readNonNegative("DocumentDelta.state", "an increments count"));
        GCounter n =
            Reader.counter(
                replica, in.readNonNegative("DocumentDelta.state", "a decrements count"));
        state = PNCounter.of(p, n);
      }
      default -> {
        long pos = in.position();
        int n =
            in.arrayHeader(
                "DocumentDelta.state",
                "a compact register state [] or [value, timestamp]",
                2,
                "fixed by the format");
        if (n == 0) {
          state = LWWRegister.empty();
        } else if (n == 2) {
          state =
              LWWRegister.of(
                  in.readValue("DocumentDelta.state.value", 0),
                  in.readTimestamp("DocumentDelta.state.timestamp"),
                  replica);
        } else {
          throw Reader.error(
              "DocumentDelta.state",
              pos,
              "expected a compact register state [] or [value, timestamp], got an array of "
                  + n
                  + " elements");
        }
      }
    }
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

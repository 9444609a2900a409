package dev.lattice.crdt.codec;

import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.ReplicaId;
import java.io.IOException;
import org.msgpack.core.MessagePacker;

/**
 * The wire form of one CRDT type's state inside a field {@code [type, state, touched]} and inside
 * the compact single-mutation delta {@code [8, 1, replica, sequence, name, type, compactState]}.
 * One subclass per type, registered in {@link StateCodecs}; {@code docs/ENCODING.md} specifies
 * each. Stateless; thread-safe.
 */
abstract class StateCodec {

  private final CrdtType type;
  private final int tag;

  StateCodec(CrdtType type, int tag) {
    this.type = type;
    this.tag = tag;
  }

  /** The type whose states this codec writes. */
  final CrdtType type() {
    return type;
  }

  /** The field type tag (see {@link TypeTags}). */
  final int tag() {
    return tag;
  }

  /** Writes the state of a field, as the next MessagePack value. */
  abstract void write(Writer writer, MessagePacker out, Crdt<?> state) throws IOException;

  /** Writes a state that {@code depth} CRDTs enclose; types that nest override it. */
  void write(Writer writer, MessagePacker out, Crdt<?> state, int depth) throws IOException {
    write(writer, out, state);
  }

  /**
   * Reads the state of a field.
   *
   * @param depth how many CRDTs enclose this one (0 for a document field), for types that nest
   */
  abstract Crdt<?> read(Reader in, String where, int depth) throws IOException;

  /**
   * Writes the compact state of a delta of one mutation by {@code replica}, whose contributions are
   * those of {@code replica} only ({@link dev.lattice.crdt.CrdtKind#onlyFrom}). The default is the
   * full state: types that gain nothing from dropping the writer leave it.
   */
  void writeCompact(Writer writer, MessagePacker out, Crdt<?> state, ReplicaId replica)
      throws IOException {
    write(writer, out, state);
  }

  /** Reads what {@link #writeCompact} wrote, for the mutation of {@code replica}. */
  Crdt<?> readCompact(Reader in, String where, ReplicaId replica) throws IOException {
    return read(in, where, 0);
  }
}

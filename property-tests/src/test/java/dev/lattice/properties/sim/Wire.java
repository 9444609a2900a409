package dev.lattice.properties.sim;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.VersionVector;
import dev.lattice.crdt.codec.Codec;
import dev.lattice.crdt.codec.CrdtCodecs;

/**
 * How simulated messages carry deltas and version vectors: as MessagePack bytes through the real
 * codecs ({@link #codecs}), or as the objects themselves ({@link #objects}), which only helps to
 * tell a codec bug from a merge bug while debugging. The simulation defaults to bytes; {@code
 * -Dlattice.sim.wire=objects} switches.
 */
interface Wire {

  Object encode(DocumentDelta delta);

  DocumentDelta decodeDelta(Object payload);

  Object encode(VersionVector vector);

  VersionVector decodeVector(Object payload);

  /** Size of a payload in bytes, for traces; -1 if it is not bytes. */
  default int size(Object payload) {
    return payload instanceof byte[] bytes ? bytes.length : -1;
  }

  /** The wire the system property selects; bytes through the default codecs unless told. */
  static Wire standard() {
    return "objects".equals(System.getProperty("lattice.sim.wire"))
        ? objects()
        : codecs(CrdtCodecs.defaults());
  }

  /** Payloads are the objects themselves. */
  static Wire objects() {
    return new Wire() {
      @Override
      public Object encode(DocumentDelta delta) {
        return delta;
      }

      @Override
      public DocumentDelta decodeDelta(Object payload) {
        return (DocumentDelta) payload;
      }

      @Override
      public Object encode(VersionVector vector) {
        return vector;
      }

      @Override
      public VersionVector decodeVector(Object payload) {
        return (VersionVector) payload;
      }

      @Override
      public String toString() {
        return "objects";
      }
    };
  }

  /** Payloads are the codecs' bytes; every hop encodes and decodes. */
  static Wire codecs(CrdtCodecs codecs) {
    Codec<DocumentDelta> deltas = codecs.documentDelta();
    Codec<VersionVector> vectors = codecs.versionVector();
    return new Wire() {
      @Override
      public Object encode(DocumentDelta delta) {
        return deltas.encode(delta);
      }

      @Override
      public DocumentDelta decodeDelta(Object payload) {
        return deltas.decode((byte[]) payload);
      }

      @Override
      public Object encode(VersionVector vector) {
        return vectors.encode(vector);
      }

      @Override
      public VersionVector decodeVector(Object payload) {
        return vectors.decode((byte[]) payload);
      }

      @Override
      public String toString() {
        return "MessagePack bytes";
      }
    };
  }
}

/**
 * The delta-state CRDTs, documents and version vectors ({@code dev.lattice.crdt}) and their
 * MessagePack codecs ({@code dev.lattice.crdt.codec}, used by the wire protocol, the server and the
 * SDK to read and write payloads). Both packages are API.
 *
 * <p>{@code msgpack.core} is the name the JDK derives from msgpack-core's file name: its jar
 * declares no {@code Automatic-Module-Name}. It is read transitively because {@link
 * dev.lattice.crdt.codec.Codec} takes msgpack-core's packer and unpacker.
 */
@SuppressWarnings({"requires-transitive-automatic", "requires-automatic"})
module dev.lattice.crdt {
  requires transitive dev.lattice.hlc;
  requires transitive msgpack.core;

  exports dev.lattice.crdt;
  exports dev.lattice.crdt.codec;
}

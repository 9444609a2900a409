/**
 * The wire protocol of docs/PROTOCOL.md: the messages, {@link dev.lattice.protocol.MessageCodec},
 * error and close codes, and the protocol's limits. The one package is the API.
 */
module dev.lattice.protocol {
  requires transitive dev.lattice.crdt;

  exports dev.lattice.protocol;
}

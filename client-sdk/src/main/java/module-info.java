/**
 * The Java client SDK: {@link dev.lattice.client.LatticeClient} and what it hands out. Only {@code
 * dev.lattice.client} is API; the SDK logs through {@link System.Logger}.
 */
module dev.lattice.client {
  requires transitive dev.lattice.protocol;
  requires java.net.http;

  exports dev.lattice.client;
}

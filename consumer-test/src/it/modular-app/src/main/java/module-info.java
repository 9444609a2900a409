/** A modular application using Lattice through its exported packages only. */
module com.example.modular {
  requires dev.lattice.client;
  requires dev.lattice.server;

  exports com.example.modular;
}

/**
 * The hybrid logical clock: {@link dev.lattice.hlc.HybridLogicalClock} and the packed timestamp it
 * issues. The one package is the API.
 */
module dev.lattice.hlc {
  exports dev.lattice.hlc;
}

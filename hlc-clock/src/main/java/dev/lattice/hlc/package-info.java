/**
 * Hybrid logical clocks: {@link dev.lattice.hlc.HlcTimestamp}, a 64-bit packed timestamp of
 * physical milliseconds and a logical counter, and {@link dev.lattice.hlc.HybridLogicalClock}, the
 * lock-free clock that issues them and merges remote ones. No dependencies.
 */
package dev.lattice.hlc;

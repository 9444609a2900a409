package dev.lattice.crdt;

/**
 * How two version vectors, and so the states they describe, relate causally.
 *
 * <p>Immutable and thread-safe.
 */
public enum Causality {
  /** The first has seen strictly less than the second. */
  BEFORE,
  /** The first has seen strictly more than the second. */
  AFTER,
  /** Both have seen exactly the same dots. */
  EQUAL,
  /** Each has seen something the other has not. */
  CONCURRENT
}

package dev.lattice.crdt;

import java.util.Objects;

/**
 * The dots {@code replica:first} through {@code replica:last}, both included.
 *
 * <p>Immutable and thread-safe.
 */
public record DotRange(ReplicaId replica, long first, long last) {

  /**
   * @throws IllegalArgumentException unless {@code 1 <= first <= last}
   */
  public DotRange {
    Objects.requireNonNull(replica, "replica");
    if (first < 1 || last < first) {
      throw new IllegalArgumentException(
          "dot range must satisfy 1 <= first <= last, was " + first + ".." + last);
    }
  }

  /** How many dots the range holds. */
  public long size() {
    return last - first + 1;
  }

  @Override
  public String toString() {
    return replica + ":" + first + ".." + last;
  }
}

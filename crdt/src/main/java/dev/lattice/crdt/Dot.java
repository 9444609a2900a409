package dev.lattice.crdt;

import java.util.Objects;

/**
 * The identity of one mutation: the replica that made it and that replica's sequence number for it,
 * counting from 1 without gaps.
 *
 * <p>Immutable and thread-safe.
 */
public record Dot(ReplicaId replica, long sequence) implements Comparable<Dot> {

  /**
   * @throws IllegalArgumentException if {@code sequence} is not positive
   */
  public Dot {
    Objects.requireNonNull(replica, "replica");
    if (sequence < 1) {
      throw new IllegalArgumentException("dot sequence must be >= 1, was " + sequence);
    }
  }

  @Override
  public int compareTo(Dot other) {
    int byReplica = replica.compareTo(other.replica);
    return byReplica != 0 ? byReplica : Long.compare(sequence, other.sequence);
  }

  @Override
  public String toString() {
    return replica + ":" + sequence;
  }
}

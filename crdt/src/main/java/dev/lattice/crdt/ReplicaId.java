package dev.lattice.crdt;

import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * The identity of one writer: an SDK instance or a server process.
 *
 * <p>A replica id is a random 64-bit number, printed as 16 hexadecimal digits. A replica keeps its
 * id for as long as it keeps its state; a replica whose state is lost must take a {@link #random()
 * fresh id}, never reuse an old one, or the increments it made under the old id would be shadowed
 * by the new ones (the riak_kv#679 failure). Replica ids order as unsigned numbers, which is the
 * order of their printed form, so every sorted structure keyed by them is deterministic.
 *
 * <p>Immutable and thread-safe.
 */
public record ReplicaId(long value) implements Comparable<ReplicaId> {

  private static final SecureRandom RANDOM = new SecureRandom();

  /** Returns the replica id with this numeric value. */
  public static ReplicaId of(long value) {
    return new ReplicaId(value);
  }

  /** Returns a fresh random replica id, drawn from a cryptographically strong source. */
  public static ReplicaId random() {
    return new ReplicaId(RANDOM.nextLong());
  }

  /**
   * Reads the 16-hex-digit form that {@link #toString()} prints.
   *
   * @throws IllegalArgumentException if {@code hex} is not exactly 16 hexadecimal digits
   */
  public static ReplicaId parse(String hex) {
    if (hex.length() != 16) {
      throw new IllegalArgumentException(
          "replica id must be 16 hexadecimal digits, got '" + hex + "'");
    }
    try {
      return new ReplicaId(Long.parseUnsignedLong(hex, 16));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "replica id must be 16 hexadecimal digits, got '" + hex + "'", e);
    }
  }

  @Override
  public int compareTo(ReplicaId other) {
    return Long.compareUnsigned(value, other.value);
  }

  /** Sixteen lower-case hexadecimal digits. */
  @Override
  public String toString() {
    return HexFormat.of().toHexDigits(value);
  }
}

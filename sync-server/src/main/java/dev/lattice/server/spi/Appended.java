package dev.lattice.server.spi;

import java.util.Objects;

/**
 * Where one append landed in its document's history, as its future reports once it is durable.
 *
 * <p>{@code previous} is the document's position just before this append, read atomically with it:
 * a server that holds everything up to {@code previous} holds everything up to {@code position}
 * once it holds this delta. Servers that replicate chain these pairs to notice a delta they never
 * received (see {@code dev.lattice.server.spi.Replicator}). A store that only one process writes
 * (the embedded one) may leave it unknown, since no other writer's append can fall in between.
 * Immutable.
 *
 * @param previous the document's position before this append, or null if the store does not know it
 * @param position this append's position
 */
public record Appended(StoreCursor previous, StoreCursor position) {

  /** Checks that the position is given and comes after {@code previous}. */
  public Appended {
    Objects.requireNonNull(position, "position");
    if (previous != null && !position.isAfter(previous)) {
      throw new IllegalArgumentException(
          "an append's position " + position + " must come after " + previous);
    }
  }

  /** Whether the store reported the position before this append. */
  public boolean previousKnown() {
    return previous != null;
  }
}

package dev.lattice.server.spi;

import dev.lattice.crdt.DocumentDelta;
import java.util.Objects;

/**
 * What {@link DocumentStore#readSince} found: a delta holding at least everything appended after
 * the asked cursor, and the position it reads up to. Immutable.
 *
 * @param delta at least every delta appended after the cursor, joined; may be more (up to the whole
 *     document, when the store compacted past the cursor or keeps no history), never less
 * @param position the last append {@code delta} covers; later reads ask from here
 */
public record StoredChanges(DocumentDelta delta, StoreCursor position) {

  /** Checks both are given. */
  public StoredChanges {
    Objects.requireNonNull(delta, "delta");
    Objects.requireNonNull(position, "position");
  }
}

package dev.lattice.server.spi;

import java.util.Comparator;

/**
 * A position in one document's stored history: every append to a document gets a position greater
 * than any before it, so a server that knows it holds everything up to a position can ask the store
 * for what came after it ({@link DocumentStore#readSince}). Two numbers so that a Redis stream
 * entry id ({@code millis-sequence}) fits as it is; a store with one counter uses {@code major}
 * only.
 *
 * <p>Positions of different documents are not comparable in any useful way. Immutable.
 *
 * @param major the more significant part, at least 0
 * @param minor the less significant part, at least 0
 */
public record StoreCursor(long major, long minor) implements Comparable<StoreCursor> {

  /** Before anything was appended: {@code readSince(id, ORIGIN)} reads the whole document. */
  public static final StoreCursor ORIGIN = new StoreCursor(0, 0);

  private static final Comparator<StoreCursor> ORDER =
      Comparator.comparingLong(StoreCursor::major).thenComparingLong(StoreCursor::minor);

  /** Checks both parts. */
  public StoreCursor {
    if (major < 0 || minor < 0) {
      throw new IllegalArgumentException(
          "a store cursor has no negative parts, was " + major + "-" + minor);
    }
  }

  /** A cursor of a store that numbers appends with one counter. */
  public static StoreCursor of(long sequence) {
    return new StoreCursor(sequence, 0);
  }

  /**
   * Parses {@link #toString()}'s form, {@code major-minor} (a Redis stream entry id).
   *
   * @throws IllegalArgumentException if {@code text} is not two non-negative decimals joined by
   *     {@code -}
   */
  public static StoreCursor parse(String text) {
    int dash = text.indexOf('-');
    try {
      if (dash < 0) {
        return of(Long.parseLong(text));
      }
      return new StoreCursor(
          Long.parseLong(text, 0, dash, 10), Long.parseLong(text, dash + 1, text.length(), 10));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not a store cursor: '" + text + "'", e);
    }
  }

  /** Whether this position comes after {@code other}. */
  public boolean isAfter(StoreCursor other) {
    return compareTo(other) > 0;
  }

  /** The later of the two. */
  public static StoreCursor max(StoreCursor a, StoreCursor b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  @Override
  public int compareTo(StoreCursor other) {
    return ORDER.compare(this, other);
  }

  /** {@code major-minor}, the form of a Redis stream entry id. */
  @Override
  public String toString() {
    return major + "-" + minor;
  }
}

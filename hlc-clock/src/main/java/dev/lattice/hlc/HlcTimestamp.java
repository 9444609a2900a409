package dev.lattice.hlc;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;

/**
 * A hybrid logical clock timestamp: physical milliseconds since the Unix epoch plus a logical
 * counter that orders events within one millisecond.
 *
 * <p>Bit layout of {@link #toLong()}: the high 48 bits hold the physical milliseconds, the low 16
 * bits the logical counter. The physical part is limited to {@link #MAX_PHYSICAL_MILLIS} (2^47 - 1,
 * the year 6429) so that every packed value is a non-negative long; therefore the natural order of
 * timestamps is exactly the signed order of their packed longs, and encoders may compare or store
 * the long directly.
 *
 * <p>When the counter of a clock would pass {@link #MAX_LOGICAL} the clock carries into the
 * physical part ({@link #successor()}) rather than wrapping: the result is still strictly greater
 * and merely runs slightly ahead of wall time.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class HlcTimestamp implements Comparable<HlcTimestamp> {

  /** Number of low bits holding the logical counter. */
  public static final int LOGICAL_BITS = 16;

  /** Largest logical counter value (65535). */
  public static final int MAX_LOGICAL = (1 << LOGICAL_BITS) - 1;

  /** Largest representable physical time: 2^47 - 1 milliseconds after the epoch. */
  public static final long MAX_PHYSICAL_MILLIS = (1L << 47) - 1;

  /** The smallest timestamp: the epoch with counter zero. */
  public static final HlcTimestamp ZERO = new HlcTimestamp(0L);

  private static final DateTimeFormatter FORMAT =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

  private final long packed;

  private HlcTimestamp(long packed) {
    this.packed = packed;
  }

  /**
   * Returns the timestamp with the given parts.
   *
   * @throws IllegalArgumentException if {@code physicalMillis} is outside [0, {@link
   *     #MAX_PHYSICAL_MILLIS}] or {@code logical} outside [0, {@link #MAX_LOGICAL}]
   */
  public static HlcTimestamp of(long physicalMillis, int logical) {
    if (physicalMillis < 0 || physicalMillis > MAX_PHYSICAL_MILLIS) {
      throw new IllegalArgumentException(
          "HLC physical millis must be in [0, " + MAX_PHYSICAL_MILLIS + "], was " + physicalMillis);
    }
    if (logical < 0 || logical > MAX_LOGICAL) {
      throw new IllegalArgumentException(
          "HLC logical counter must be in [0, " + MAX_LOGICAL + "], was " + logical);
    }
    return new HlcTimestamp((physicalMillis << LOGICAL_BITS) | logical);
  }

  /**
   * Unpacks a timestamp from its {@link #toLong()} form.
   *
   * @throws IllegalArgumentException if {@code packed} is negative (no timestamp packs to one)
   */
  public static HlcTimestamp fromLong(long packed) {
    if (packed < 0) {
      throw new IllegalArgumentException(
          "packed HLC timestamp must be non-negative, was " + packed);
    }
    return packed == 0 ? ZERO : new HlcTimestamp(packed);
  }

  /**
   * Reads the {@link #toString()} form back, for example {@code 2026-11-23T11:33:36.123Z/5}. The
   * part before the slash is any ISO-8601 instant {@link Instant#parse} accepts, at most
   * millisecond precision.
   *
   * @throws IllegalArgumentException if {@code text} is not of that form or out of range; the
   *     message quotes {@code text}
   */
  public static HlcTimestamp parse(String text) {
    int slash = text.lastIndexOf('/');
    if (slash < 0) {
      throw new IllegalArgumentException(parseError(text, "no '/' before the counter"));
    }
    String why;
    Throwable cause;
    try {
      Instant instant = Instant.parse(text.substring(0, slash));
      int logical = Integer.parseInt(text.substring(slash + 1));
      if (instant.getNano() % 1_000_000 == 0) {
        return of(instant.toEpochMilli(), logical);
      }
      // Truncating to millis would silently turn distinct texts into one timestamp.
      why = "finer than millisecond precision";
      cause = null;
    } catch (DateTimeParseException | IllegalArgumentException | ArithmeticException e) {
      // IllegalArgumentException covers both a bad counter and of()'s range errors, rewrapped so
      // that every failure quotes the offending text.
      why = e.getMessage();
      cause = e;
    }
    throw new IllegalArgumentException(parseError(text, why), cause);
  }

  private static String parseError(String text, String why) {
    return "expected an HLC timestamp like 2026-11-23T11:33:36.123Z/5, got '" + text + "': " + why;
  }

  /** The packed form: physical millis in the high 48 bits, the counter in the low 16. */
  public long toLong() {
    return packed;
  }

  /** Physical milliseconds since the Unix epoch. */
  public long physicalMillis() {
    return packed >>> LOGICAL_BITS;
  }

  /** The logical counter, in [0, {@link #MAX_LOGICAL}]. */
  public int logical() {
    return (int) (packed & MAX_LOGICAL);
  }

  /**
   * The next timestamp in the total order: the counter plus one, carrying into the physical part
   * when the counter is full.
   *
   * @throws ArithmeticException if this is the largest representable timestamp
   */
  public HlcTimestamp successor() {
    // MAX_PHYSICAL_MILLIS with a full counter packs to exactly Long.MAX_VALUE.
    if (packed == Long.MAX_VALUE) {
      throw new ArithmeticException("HLC timestamp overflow past " + this);
    }
    // Incrementing the packed long bumps the counter and carries into the millis when it is full.
    return new HlcTimestamp(packed + 1);
  }

  /** Whether this timestamp orders strictly after {@code other}. */
  public boolean isAfter(HlcTimestamp other) {
    return packed > other.packed;
  }

  @Override
  public int compareTo(HlcTimestamp other) {
    return Long.compare(packed, other.packed);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof HlcTimestamp other && other.packed == packed;
  }

  @Override
  public int hashCode() {
    return Long.hashCode(packed);
  }

  /** The ISO-8601 instant (UTC, milliseconds) and the counter, separated by a slash. */
  @Override
  public String toString() {
    return FORMAT.format(Instant.ofEpochMilli(physicalMillis())) + "/" + logical();
  }
}

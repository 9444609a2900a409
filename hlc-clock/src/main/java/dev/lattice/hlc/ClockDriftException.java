package dev.lattice.hlc;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * Thrown by {@link HybridLogicalClock#update(HlcTimestamp)} when a remote timestamp's physical part
 * is more than the clock's maximum drift ahead of the local physical clock.
 *
 * <p>Accepting such a timestamp would drag the local clock (and, transitively, every peer that
 * hears from it) far into the future, where it would stay until wall time catches up. The clock is
 * left unchanged when this is thrown, so the caller may drop or quarantine the offending message
 * and carry on.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class ClockDriftException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  // Held packed so the exception stays serializable without making HlcTimestamp Serializable.
  private final long remotePacked;
  private final long localPhysicalMillis;
  private final Duration maxDrift;

  /**
   * Creates the exception for a refused remote timestamp.
   *
   * @param remote the refused remote timestamp
   * @param localPhysicalMillis the local physical clock reading it was compared against
   * @param maxDrift the bound it exceeded
   */
  public ClockDriftException(HlcTimestamp remote, long localPhysicalMillis, Duration maxDrift) {
    super(message(remote, localPhysicalMillis, maxDrift));
    this.remotePacked = remote.toLong();
    this.localPhysicalMillis = localPhysicalMillis;
    this.maxDrift = maxDrift;
  }

  private static String message(HlcTimestamp remote, long localPhysicalMillis, Duration maxDrift) {
    Objects.requireNonNull(remote, "remote");
    Objects.requireNonNull(maxDrift, "maxDrift");
    long ahead = remote.physicalMillis() - localPhysicalMillis;
    return "remote HLC timestamp "
        + remote
        + " is "
        + ahead
        + " ms ahead of the local physical clock "
        + Instant.ofEpochMilli(localPhysicalMillis)
        + ", more than the maximum drift of "
        + maxDrift.toMillis()
        + " ms ("
        + maxDrift
        + ")";
  }

  /** The refused remote timestamp. */
  public HlcTimestamp remote() {
    return HlcTimestamp.fromLong(remotePacked);
  }

  /** The local physical clock reading, in epoch milliseconds, that the remote was compared to. */
  public long localPhysicalMillis() {
    return localPhysicalMillis;
  }

  /** The maximum drift the remote exceeded. */
  public Duration maxDrift() {
    return maxDrift;
  }
}

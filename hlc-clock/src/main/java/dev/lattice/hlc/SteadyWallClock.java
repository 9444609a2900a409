package dev.lattice.hlc;

import java.time.Duration;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * A physical clock (milliseconds since the epoch) for a {@link HybridLogicalClock} that follows the
 * wall clock forward and through small steps back, but not through a large step back: when the wall
 * reads more than {@code slack} behind where this clock has got to, it goes on from there on a
 * monotonic clock ({@link System#nanoTime()}) until the wall catches up.
 *
 * <p>Why: a hybrid logical clock refuses remote timestamps more than its drift bound ahead of its
 * physical clock. A server whose wall clock is set back a day while it runs (an operator's mistake,
 * a bad NTP source, a restored VM) would otherwise refuse every correct client for a day, and stamp
 * its own writes below what it has acknowledged. Small steps back (NTP corrections) are followed:
 * the hybrid clock already keeps its timestamps monotonic across them, and following them keeps the
 * monotonic clock's own drift from accumulating. A step forward is always followed.
 *
 * <p>It may also start ahead of the wall ({@link #startingAt}), at a time known to have been
 * reached already (the greatest timestamp a server's store holds), and continues from there the
 * same way.
 *
 * <p>Thread-safe.
 */
public final class SteadyWallClock implements LongSupplier {

  private static final System.Logger LOG = System.getLogger(SteadyWallClock.class.getName());

  private final LongSupplier wallMillis;
  private final LongSupplier nanoTime;
  private final long slackMillis;

  // Guarded by this: the last reading taken from the wall, and when (on nanoTime).
  private long anchorMillis;
  private long anchorNanos;
  private boolean ignoringWall;

  private SteadyWallClock(
      LongSupplier wallMillis, LongSupplier nanoTime, Duration slack, long startMillis) {
    this.wallMillis = Objects.requireNonNull(wallMillis, "wallMillis");
    this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
    if (slack.isNegative()) {
      throw new IllegalArgumentException("slack must not be negative, was " + slack);
    }
    this.slackMillis = slack.toMillis();
    long wall = wallMillis.getAsLong();
    this.anchorMillis = Math.max(startMillis, wall);
    this.anchorNanos = nanoTime.getAsLong();
    // Started ahead of the wall by more than the slack: the caller knows why and says so (a
    // server names its store's time); the first reading need not warn again.
    this.ignoringWall = anchorMillis - wall > slackMillis;
  }

  /**
   * A clock that reads {@code wallMillis} while it does not fall more than {@code slack} behind,
   * measuring elapsed time with {@code nanoTime} otherwise.
   */
  public static SteadyWallClock of(LongSupplier wallMillis, LongSupplier nanoTime, Duration slack) {
    return new SteadyWallClock(wallMillis, nanoTime, slack, Long.MIN_VALUE);
  }

  /**
   * As {@link #of}, but starting at {@code startMillis} when that is ahead of the wall: a time the
   * caller knows was reached (its store's greatest timestamp), so the clock continues from it.
   */
  public static SteadyWallClock startingAt(
      long startMillis, LongSupplier wallMillis, LongSupplier nanoTime, Duration slack) {
    return new SteadyWallClock(wallMillis, nanoTime, slack, startMillis);
  }

  @Override
  public long getAsLong() {
    long wall = wallMillis.getAsLong();
    long now = nanoTime.getAsLong();
    synchronized (this) {
      long steady = anchorMillis + Math.floorDiv(now - anchorNanos, 1_000_000L);
      if (wall >= steady - slackMillis) {
        if (ignoringWall) {
          ignoringWall = false;
          LOG.log(System.Logger.Level.INFO, "the wall clock caught up; following it again");
        }
        anchorMillis = wall;
        anchorNanos = now;
        return wall;
      }
      if (!ignoringWall) {
        ignoringWall = true;
        LOG.log(
            System.Logger.Level.WARNING,
            "the wall clock reads "
                + (steady - wall)
                + " ms behind the time already reached; continuing from that time on the"
                + " monotonic clock until the wall catches up. Check the machine's clock (NTP).");
      }
      return steady;
    }
  }
}

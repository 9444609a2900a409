package dev.lattice.protocol;

import java.time.Duration;

/**
 * The update rate limit of the protocol (WELCOME's {@code updatesPerSecond} and {@code
 * updateBurst}): {@code burst} tokens, refilled at {@code perSecond}, starting full; one token per
 * UPDATE. The server refuses with RATE_LIMITED what this bucket refuses, and the client paces its
 * sends with the same bucket, so it stays under the limit instead of discovering it by refusals.
 * Exact integer arithmetic over a nanosecond clock: one token is {@code 1e9} units (the period in
 * nanoseconds, for {@link #perPeriod}), a nanosecond refills {@code perSecond} units.
 *
 * <p>Not thread-safe: owned by one session and used from one thread at a time.
 */
public final class TokenBucket {

  private static final long NANOS_PER_SECOND = 1_000_000_000L;

  private final long perSecond; // units refilled per nanosecond: tokens per period
  private final long unitsPerToken; // the period in nanoseconds
  private final long capacityUnits;
  private long units;
  private long lastNanos;

  /**
   * A full bucket.
   *
   * @throws IllegalArgumentException if {@code perSecond} or {@code burst} is below 1
   */
  public TokenBucket(long perSecond, long burst, long nowNanos) {
    this(perSecond, burst, NANOS_PER_SECOND, nowNanos);
  }

  /**
   * A full bucket of {@code burst} tokens refilled at {@code perPeriod} every {@code period}, for
   * rates slower than one a second ("10 a minute").
   *
   * @throws IllegalArgumentException if {@code perPeriod} or {@code burst} is below 1, or the
   *     period is shorter than a millisecond or longer than a day
   */
  public static TokenBucket perPeriod(long perPeriod, long burst, Duration period, long nowNanos) {
    if (period.compareTo(Duration.ofMillis(1)) < 0 || period.compareTo(Duration.ofDays(1)) > 0) {
      throw new IllegalArgumentException(
          "a token bucket's period must be between 1 ms and 1 day, was " + period);
    }
    return new TokenBucket(perPeriod, burst, period.toNanos(), nowNanos);
  }

  private TokenBucket(long perSecond, long burst, long unitsPerToken, long nowNanos) {
    if (perSecond < 1 || burst < 1) {
      throw new IllegalArgumentException(
          "a token bucket needs perSecond and burst of at least 1, got "
              + perSecond
              + ", "
              + burst);
    }
    this.perSecond = perSecond;
    this.unitsPerToken = unitsPerToken;
    this.capacityUnits =
        Math.multiplyHigh(burst, unitsPerToken) == 0 && burst * unitsPerToken > 0
            ? burst * unitsPerToken
            : Long.MAX_VALUE;
    this.units = capacityUnits;
    this.lastNanos = nowNanos;
  }

  /** Takes one token if there is one at {@code nowNanos}. */
  public boolean tryAcquire(long nowNanos) {
    long elapsed = nowNanos - lastNanos;
    if (elapsed > 0) {
      // Capped so the product cannot overflow: past this much time the bucket is full anyway.
      long useful = Math.min(elapsed, capacityUnits / perSecond + 1);
      units = Math.min(capacityUnits, units + useful * perSecond);
      lastNanos = nowNanos;
    }
    if (units >= unitsPerToken) {
      units -= unitsPerToken;
      return true;
    }
    return false;
  }

  /**
   * Gives back one token taken by {@link #tryAcquire} for work that turned out not to need it (the
   * bucket never holds more than its burst).
   */
  public void refund() {
    units = Math.min(capacityUnits, units + unitsPerToken);
  }

  /** Milliseconds until the next token, rounded up. */
  public long millisToNextToken() {
    long missing = Math.max(0, unitsPerToken - units);
    long nanos = (missing + perSecond - 1) / perSecond;
    return (nanos + 999_999) / 1_000_000;
  }
}

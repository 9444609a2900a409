package dev.lattice.protocol;

/**
 * The update rate limit of the protocol (WELCOME's {@code updatesPerSecond} and {@code
 * updateBurst}): {@code burst} tokens, refilled at {@code perSecond}, starting full; one token per
 * UPDATE. The server refuses with RATE_LIMITED what this bucket refuses, and the client paces its
 * sends with the same bucket, so it stays under the limit instead of discovering it by refusals.
 * Exact integer arithmetic over a nanosecond clock: one token is {@code 1e9} units, a nanosecond
 * refills {@code perSecond} units.
 *
 * <p>Not thread-safe: owned by one session and used from one thread at a time.
 */
public final class TokenBucket {

  private static final long UNITS_PER_TOKEN = 1_000_000_000L;

  private final long perSecond;
  private final long capacityUnits;
  private long units;
  private long lastNanos;

  /**
   * A full bucket.
   *
   * @throws IllegalArgumentException if {@code perSecond} or {@code burst} is below 1
   */
  public TokenBucket(long perSecond, long burst, long nowNanos) {
    if (perSecond < 1 || burst < 1) {
      throw new IllegalArgumentException(
          "a token bucket needs perSecond and burst of at least 1, got "
              + perSecond
              + ", "
              + burst);
    }
    this.perSecond = perSecond;
    this.capacityUnits =
        Math.multiplyHigh(burst, UNITS_PER_TOKEN) == 0 ? burst * UNITS_PER_TOKEN : Long.MAX_VALUE;
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
    if (units >= UNITS_PER_TOKEN) {
      units -= UNITS_PER_TOKEN;
      return true;
    }
    return false;
  }

  /** Milliseconds until the next token, rounded up. */
  public long millisToNextToken() {
    long missing = Math.max(0, UNITS_PER_TOKEN - units);
    long nanos = (missing + perSecond - 1) / perSecond;
    return (nanos + 999_999) / 1_000_000;
  }
}

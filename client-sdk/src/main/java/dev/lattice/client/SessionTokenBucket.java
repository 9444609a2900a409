package dev.lattice.client;

/**
 * The client's copy of the server's rate limit: {@code burst} tokens, refilled at {@code
 * perSecond}, starting full; one token per UPDATE. Pacing sends to it keeps the client under the
 * server's RATE_LIMITED threshold instead of discovering it by refusals.
 *
 * <p>Not thread-safe: used only on the session thread.
 */
final class SessionTokenBucket {

  private static final long UNITS_PER_TOKEN = 1_000_000_000L;

  private final long perSecond;
  private final long capacityUnits;
  private long units;
  private long lastNanos;

  SessionTokenBucket(long perSecond, long burst, long nowNanos) {
    this.perSecond = perSecond;
    this.capacityUnits =
        Math.multiplyHigh(burst, UNITS_PER_TOKEN) == 0 ? burst * UNITS_PER_TOKEN : Long.MAX_VALUE;
    this.units = capacityUnits;
    this.lastNanos = nowNanos;
  }

  /** Takes one token if there is one at {@code nowNanos}. */
  boolean tryAcquire(long nowNanos) {
    long elapsed = nowNanos - lastNanos;
    if (elapsed > 0) {
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
  long millisToNextToken() {
    long missing = Math.max(0, UNITS_PER_TOKEN - units);
    long nanos = (missing + perSecond - 1) / perSecond;
    return (nanos + 999_999) / 1_000_000;
  }
}

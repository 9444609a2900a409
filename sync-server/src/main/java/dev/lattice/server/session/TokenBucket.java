package dev.lattice.server.session;

/**
 * A token bucket over a nanosecond clock, in exact integer arithmetic: {@code capacity} tokens,
 * refilled at {@code perSecond} tokens a second, starting full. One token is {@code 1e9} units, so
 * a nanosecond refills {@code perSecond} units.
 *
 * <p>Not thread-safe: owned by one session and used only on its serial executor.
 */
final class TokenBucket {

  private static final long UNITS_PER_TOKEN = 1_000_000_000L;

  private final long perSecond;
  private final long capacityUnits;
  private long units;
  private long lastNanos;

  TokenBucket(int perSecond, int capacity, long nowNanos) {
    this.perSecond = perSecond;
    this.capacityUnits = capacity * UNITS_PER_TOKEN;
    this.units = capacityUnits;
    this.lastNanos = nowNanos;
  }

  /** Takes one token if there is one at {@code nowNanos}. */
  boolean tryAcquire(long nowNanos) {
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
}

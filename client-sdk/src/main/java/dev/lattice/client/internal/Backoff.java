package dev.lattice.client.internal;

import java.time.Duration;
import java.util.Objects;
import java.util.random.RandomGenerator;

/**
 * Exponential backoff with full jitter (the AWS Architecture Blog's "Exponential Backoff And
 * Jitter"): the delay before retry number {@code attempt} (from 0) is uniform in {@code [0,
 * min(cap, base * 2^attempt)]}. Full jitter spreads the reconnects of many clients that lost one
 * server at the same moment, instead of bringing them back in waves.
 *
 * <p>Immutable apart from the random source; thread-safe if the random source is.
 */
public final class Backoff {

  private final long baseMillis;
  private final long capMillis;
  private final RandomGenerator random;

  public Backoff(Duration base, Duration cap, RandomGenerator random) {
    this.baseMillis = base.toMillis();
    this.capMillis = cap.toMillis();
    this.random = Objects.requireNonNull(random, "random");
    if (baseMillis < 1) {
      throw new IllegalArgumentException("backoff base must be at least 1 ms, was " + base);
    }
    if (capMillis < baseMillis) {
      throw new IllegalArgumentException(
          "backoff cap must be at least the base " + base + ", was " + cap);
    }
  }

  /** The upper bound of the delay before retry {@code attempt}: {@code min(cap, base * 2^n)}. */
  long ceilingMillis(int attempt) {
    if (attempt < 0) {
      throw new IllegalArgumentException("attempt must be >= 0, was " + attempt);
    }
    // base * 2^attempt passes the cap long before it could overflow: stop doubling there.
    long ceiling = baseMillis;
    for (int i = 0; i < attempt && ceiling < capMillis; i++) {
      ceiling *= 2;
    }
    return Math.min(capMillis, ceiling);
  }

  /** A delay for retry {@code attempt}, uniform in {@code [0, ceilingMillis(attempt)]}. */
  long delayMillis(int attempt) {
    return random.nextLong(ceilingMillis(attempt) + 1);
  }

  /**
   * A delay after the server asked to come back later (4005 RATE_LIMITED, 4006 TRY_AGAIN_LATER): at
   * least four times the base, plus the jittered delay, within the cap. Full jitter alone may draw
   * a delay near zero, which would hit an overloaded server again at once.
   */
  long laterDelayMillis(int attempt) {
    return Math.min(capMillis, ceilingMillis(2) + delayMillis(attempt));
  }
}

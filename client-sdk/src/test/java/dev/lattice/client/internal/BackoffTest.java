package dev.lattice.client.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BackoffTest {

  private static final Duration BASE = Duration.ofMillis(100);
  private static final Duration CAP = Duration.ofMillis(1000);

  @Test
  void ceilingDoublesFromTheBaseUpToTheCap() {
    Backoff backoff = new Backoff(BASE, CAP, new Random(1));
    assertThat(java.util.stream.IntStream.range(0, 7).mapToLong(backoff::ceilingMillis).toArray())
        .containsExactly(100, 200, 400, 800, 1000, 1000, 1000);
    assertThat(backoff.ceilingMillis(10_000)).isEqualTo(1000);
  }

  @Test
  void delayIsFullJitterDrawnFromTheInjectedRandom() {
    long seed = 42;
    Backoff backoff = new Backoff(BASE, CAP, new Random(seed));
    Random expected = new Random(seed);
    for (int attempt = 0; attempt < 8; attempt++) {
      long ceiling = backoff.ceilingMillis(attempt);
      // Full jitter: uniform in [0, min(cap, base * 2^attempt)], bounds included.
      assertThat(backoff.delayMillis(attempt))
          .as("attempt %d", attempt)
          .isEqualTo(expected.nextLong(ceiling + 1));
    }
  }

  @Test
  void delaysCoverTheWholeRangeFromZeroToTheCeiling() {
    Backoff backoff = new Backoff(BASE, CAP, new Random(7));
    long min = Long.MAX_VALUE;
    long max = Long.MIN_VALUE;
    long sum = 0;
    int n = 20_000;
    for (int i = 0; i < n; i++) {
      long d = backoff.delayMillis(3);
      assertThat(d).isBetween(0L, 800L);
      min = Math.min(min, d);
      max = Math.max(max, d);
      sum += d;
    }
    // Not "equal jitter" (which never goes below half) and not a fixed delay.
    assertThat(min).isLessThan(20);
    assertThat(max).isGreaterThan(780);
    assertThat(sum / (double) n).isBetween(370.0, 430.0);
  }

  @Test
  void refusesABaseUnderOneMillisecondOrACapUnderTheBase() {
    assertThatThrownBy(() -> new Backoff(Duration.ZERO, CAP, new Random()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("base");
    assertThatThrownBy(() -> new Backoff(CAP, BASE, new Random()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cap");
  }
}

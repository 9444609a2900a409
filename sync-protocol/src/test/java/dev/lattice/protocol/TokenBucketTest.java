package dev.lattice.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class TokenBucketTest {

  @Test
  void startsFullThenRefillsExactlyAtTheRate() {
    TokenBucket bucket = new TokenBucket(3, 2, 0);
    assertThat(bucket.tryAcquire(0)).isTrue();
    assertThat(bucket.tryAcquire(0)).isTrue();
    assertThat(bucket.tryAcquire(0)).isFalse();

    assertThat(bucket.tryAcquire(333_333_333)).isFalse(); // 0.999999999 of a token
    assertThat(bucket.tryAcquire(333_333_334)).isTrue();
  }

  @Test
  void neverHoldsMoreThanItsCapacityAfterALongPause() {
    TokenBucket bucket = new TokenBucket(1_000_000, 2, 0);
    long later = Long.MAX_VALUE / 2;
    assertThat(bucket.tryAcquire(later)).isTrue();
    assertThat(bucket.tryAcquire(later)).isTrue();
    assertThat(bucket.tryAcquire(later)).isFalse();
  }

  @Test
  void ignoresAClockThatStepsBack() {
    TokenBucket bucket = new TokenBucket(1, 1, 1_000);
    assertThat(bucket.tryAcquire(1_000)).isTrue();
    assertThat(bucket.tryAcquire(0)).isFalse();
    assertThat(bucket.tryAcquire(1_000 + 1_000_000_000L)).isTrue();
  }

  @Test
  void tellsHowLongUntilTheNextTokenRoundedUp() {
    TokenBucket bucket = new TokenBucket(3, 1, 0);
    assertThat(bucket.tryAcquire(0)).isTrue();
    assertThat(bucket.millisToNextToken()).isEqualTo(334); // 333.33 ms
    assertThat(bucket.tryAcquire(333_000_000)).isFalse();
    assertThat(bucket.millisToNextToken()).isEqualTo(1);
  }

  @Test
  void aHugeBurstDoesNotOverflowAndBadSettingsAreRefused() {
    TokenBucket bucket = new TokenBucket(1, Long.MAX_VALUE, 0);
    assertThat(bucket.tryAcquire(0)).isTrue();
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> new TokenBucket(0, 1, 0))
        .isInstanceOf(IllegalArgumentException.class);
  }
}

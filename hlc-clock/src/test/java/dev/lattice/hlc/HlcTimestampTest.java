package dev.lattice.hlc;

import static dev.lattice.hlc.HlcTimestamp.MAX_LOGICAL;
import static dev.lattice.hlc.HlcTimestamp.MAX_PHYSICAL_MILLIS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class HlcTimestampTest {

  @Test
  void packsPhysicalMillisIntoHigh48BitsAndCounterIntoLow16() {
    HlcTimestamp t = HlcTimestamp.of(0x1234_5678_9ABCL, 0xDEF0);
    assertThat(t.toLong()).isEqualTo(0x1234_5678_9ABC_DEF0L);
    assertThat(t.physicalMillis()).isEqualTo(0x1234_5678_9ABCL);
    assertThat(t.logical()).isEqualTo(0xDEF0);
    assertThat(HlcTimestamp.LOGICAL_BITS).isEqualTo(16);
    assertThat(MAX_LOGICAL).isEqualTo(65_535);
    assertThat(MAX_PHYSICAL_MILLIS).isEqualTo((1L << 47) - 1);
  }

  @Test
  void packsExtremesToNonNegativeLongs() {
    assertThat(HlcTimestamp.of(0, 0).toLong()).isZero();
    assertThat(HlcTimestamp.of(0, 0)).isEqualTo(HlcTimestamp.ZERO);
    assertThat(HlcTimestamp.of(0, MAX_LOGICAL).toLong()).isEqualTo(MAX_LOGICAL);
    assertThat(HlcTimestamp.of(1, 0).toLong()).isEqualTo(1L << 16);
    assertThat(HlcTimestamp.of(MAX_PHYSICAL_MILLIS, MAX_LOGICAL).toLong())
        .isEqualTo(Long.MAX_VALUE);
  }

  @Test
  void roundTripsThroughPackedLong() {
    Random random = new Random(42);
    for (int i = 0; i < 1000; i++) {
      long physical = random.nextLong() & MAX_PHYSICAL_MILLIS;
      int logical = random.nextInt(MAX_LOGICAL + 1);
      HlcTimestamp t = HlcTimestamp.of(physical, logical);
      HlcTimestamp back = HlcTimestamp.fromLong(t.toLong());
      assertThat(back).isEqualTo(t).hasSameHashCodeAs(t);
      assertThat(back.physicalMillis()).isEqualTo(physical);
      assertThat(back.logical()).isEqualTo(logical);
    }
  }

  @Test
  void ordersExactlyAsPackedLongsDo() {
    Random random = new Random(7);
    List<HlcTimestamp> stamps = new ArrayList<>();
    long[] physicals = {0, 1, 2, 1_700_000_000_000L, MAX_PHYSICAL_MILLIS - 1, MAX_PHYSICAL_MILLIS};
    int[] logicals = {0, 1, MAX_LOGICAL - 1, MAX_LOGICAL};
    for (long p : physicals) {
      for (int l : logicals) {
        stamps.add(HlcTimestamp.of(p, l));
      }
    }
    for (int i = 0; i < 200; i++) {
      stamps.add(
          HlcTimestamp.of(
              random.nextLong() & MAX_PHYSICAL_MILLIS, random.nextInt(MAX_LOGICAL + 1)));
    }
    for (HlcTimestamp a : stamps) {
      for (HlcTimestamp b : stamps) {
        int expected = Long.compare(a.toLong(), b.toLong());
        assertThat(Integer.signum(a.compareTo(b))).isEqualTo(expected);
        assertThat(a.isAfter(b)).isEqualTo(expected > 0);
        assertThat(a.equals(b)).isEqualTo(expected == 0);
      }
    }
  }

  @Test
  void ordersByPhysicalMillisFirstThenCounter() {
    HlcTimestamp earlyFullCounter = HlcTimestamp.of(100, MAX_LOGICAL);
    HlcTimestamp laterZeroCounter = HlcTimestamp.of(101, 0);
    HlcTimestamp sameMillisHigherCounter = HlcTimestamp.of(100, MAX_LOGICAL - 1);
    List<HlcTimestamp> sorted =
        new ArrayList<>(List.of(laterZeroCounter, earlyFullCounter, sameMillisHigherCounter));
    Collections.sort(sorted);
    assertThat(sorted).containsExactly(sameMillisHigherCounter, earlyFullCounter, laterZeroCounter);
    assertThat(laterZeroCounter.isAfter(earlyFullCounter)).isTrue();
    assertThat(earlyFullCounter.isAfter(earlyFullCounter)).isFalse();
  }

  @Test
  void formatsAsIsoInstantWithMillisAndCounter() {
    assertThat(HlcTimestamp.of(1_795_433_616_123L, 5)).hasToString("2026-11-23T11:33:36.123Z/5");
    assertThat(HlcTimestamp.ZERO).hasToString("1970-01-01T00:00:00.000Z/0");
    assertThat(HlcTimestamp.of(MAX_PHYSICAL_MILLIS, MAX_LOGICAL))
        .hasToString("6429-10-17T02:45:55.327Z/65535");
  }

  @Test
  void parsesWhatItPrints() {
    Random random = new Random(3);
    List<HlcTimestamp> stamps =
        new ArrayList<>(
            List.of(
                HlcTimestamp.ZERO,
                HlcTimestamp.of(MAX_PHYSICAL_MILLIS, MAX_LOGICAL),
                HlcTimestamp.of(1_795_433_616_000L, 0)));
    for (int i = 0; i < 500; i++) {
      stamps.add(
          HlcTimestamp.of(
              random.nextLong() & MAX_PHYSICAL_MILLIS, random.nextInt(MAX_LOGICAL + 1)));
    }
    for (HlcTimestamp t : stamps) {
      assertThat(HlcTimestamp.parse(t.toString())).isEqualTo(t);
    }
    assertThat(HlcTimestamp.parse("2026-11-23T11:33:36.123Z/5"))
        .isEqualTo(HlcTimestamp.of(1_795_433_616_123L, 5));
  }

  @Test
  void rejectsMalformedText() {
    for (String bad :
        new String[] {
          "",
          "garbage",
          "2026-11-23T11:33:36.123Z", // no counter
          "2026-11-23T11:33:36.123Z/", // empty counter
          "2026-11-23T11:33:36.123Z/x",
          "2026-11-23 11:33:36.123/5", // not ISO-8601
          "2026-13-23T11:33:36.123Z/5", // month 13
          "2026-11-23T11:33:36.123Z/-1", // negative counter
          "2026-11-23T11:33:36.123Z/65536", // counter too large
          "2026-11-23T11:33:36.123Z/99999999999", // counter not an int
          "1969-12-31T23:59:59.999Z/0", // before the epoch
          "6429-10-17T02:45:55.328Z/0", // past the largest physical time
          "2026-11-23T11:33:36.1234Z/5", // finer than millis: would be truncated
          "+1000000000-12-31T23:59:59.999Z/0", // a valid Instant, but overflows epoch millis
        }) {
      assertThatThrownBy(() -> HlcTimestamp.parse(bad))
          .as("parse(\"%s\")", bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(bad.isEmpty() ? "got ''" : bad);
    }
  }

  @Test
  void rejectsOutOfRangeParts() {
    assertThatThrownBy(() -> HlcTimestamp.of(-1, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("-1");
    assertThatThrownBy(() -> HlcTimestamp.of(MAX_PHYSICAL_MILLIS + 1, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(Long.toString(MAX_PHYSICAL_MILLIS + 1));
    assertThatThrownBy(() -> HlcTimestamp.of(Long.MIN_VALUE, 0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> HlcTimestamp.of(0, -1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("-1");
    assertThatThrownBy(() -> HlcTimestamp.of(0, MAX_LOGICAL + 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("65536");
  }

  @Test
  void rejectsNegativePackedLongs() {
    assertThatThrownBy(() -> HlcTimestamp.fromLong(-1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("-1");
    assertThatThrownBy(() -> HlcTimestamp.fromLong(Long.MIN_VALUE))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(HlcTimestamp.fromLong(0)).isSameAs(HlcTimestamp.ZERO);
    assertThat(HlcTimestamp.fromLong(Long.MAX_VALUE))
        .isEqualTo(HlcTimestamp.of(MAX_PHYSICAL_MILLIS, MAX_LOGICAL));
  }

  @Test
  void successorBumpsCounterWithinOneMillisecond() {
    assertThat(HlcTimestamp.of(500, 7).successor()).isEqualTo(HlcTimestamp.of(500, 8));
    assertThat(HlcTimestamp.ZERO.successor()).isEqualTo(HlcTimestamp.of(0, 1));
  }

  @Test
  void successorCarriesCounterOverflowIntoMillis() {
    HlcTimestamp full = HlcTimestamp.of(500, MAX_LOGICAL);
    assertThat(full.successor()).isEqualTo(HlcTimestamp.of(501, 0));
    assertThat(full.successor()).isGreaterThan(full);
    assertThat(HlcTimestamp.of(MAX_PHYSICAL_MILLIS - 1, MAX_LOGICAL).successor())
        .isEqualTo(HlcTimestamp.of(MAX_PHYSICAL_MILLIS, 0));
  }

  @Test
  void successorOfTheLargestTimestampThrows() {
    HlcTimestamp max = HlcTimestamp.of(MAX_PHYSICAL_MILLIS, MAX_LOGICAL);
    assertThatThrownBy(max::successor)
        .isInstanceOf(ArithmeticException.class)
        .hasMessageContaining(max.toString());
  }

  @Test
  void equalityAndHashFollowThePackedValue() {
    HlcTimestamp a = HlcTimestamp.of(12, 34);
    HlcTimestamp b = HlcTimestamp.fromLong(a.toLong());
    assertThat(a).isEqualTo(b).hasSameHashCodeAs(b).isNotEqualTo(HlcTimestamp.of(12, 35));
    assertThat(a).isNotEqualTo(a.toLong());
    assertThat(a.equals(null)).isFalse();
  }
}

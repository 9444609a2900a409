package dev.lattice.load;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

class LatencySummaryTest {

  @Test
  void percentilesAreNearestRankOfTheSortedSamples() {
    long[] shuffled = LongStream.rangeClosed(1, 100).map(i -> (i * 37) % 100 + 1).toArray();

    LatencySummary s = LatencySummary.of(shuffled);

    assertThat(s).isEqualTo(new LatencySummary(100, 50, 90, 99, 100));
  }

  @Test
  void smallSamplesRoundTheRankUp() {
    assertThat(LatencySummary.of(new long[] {7})).isEqualTo(new LatencySummary(1, 7, 7, 7, 7));
    // 3 samples: p50 is the 2nd (ceil 1.5), p90 and p99 the 3rd.
    assertThat(LatencySummary.of(new long[] {30, 10, 20}))
        .isEqualTo(new LatencySummary(3, 20, 30, 30, 30));
  }

  @Test
  void noSamplesGiveZeros() {
    assertThat(LatencySummary.of(new long[0])).isEqualTo(LatencySummary.EMPTY);
  }

  @Test
  void doesNotReorderTheCallersArray() {
    long[] samples = {3, 1, 2};
    LatencySummary.of(samples);
    assertThat(samples).containsExactly(3, 1, 2);
  }

  @Test
  void samplesGrowAndConcatenate() {
    Samples a = new Samples();
    for (long i = 0; i < 5000; i++) {
      a.add(i);
    }
    Samples b = new Samples();
    b.add(-1);

    long[] all = Samples.concat(java.util.List.of(a, b));

    assertThat(all).hasSize(5001);
    assertThat(all[4999]).isEqualTo(4999);
    assertThat(all[5000]).isEqualTo(-1);
  }
}

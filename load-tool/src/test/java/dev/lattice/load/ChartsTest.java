package dev.lattice.load;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChartsTest {

  @Test
  void writesALatencyDistributionPngOfTheExpectedSize(@TempDir Path dir) throws Exception {
    Histogram fanout = new Histogram(3);
    Histogram ack = new Histogram(3);
    for (int i = 1; i <= 10_000; i++) {
      fanout.recordValue(i * 1_000L);
      ack.recordValue(i * 500L);
    }
    Path png = dir.resolve("charts/latency.png");

    Charts.latencyDistribution(png, "test", List.of("fan-out", "ack"), List.of(fanout, ack));

    assertValidPng(png);
  }

  @Test
  void anEmptyHistogramStillGivesAChart(@TempDir Path dir) throws Exception {
    Path png = dir.resolve("empty.png");
    Charts.latencyDistribution(png, "empty", List.of("none"), List.of(new Histogram(3)));
    assertValidPng(png);
  }

  @Test
  void writesASaturationPngOfTheExpectedSize(@TempDir Path dir) throws Exception {
    Path png = dir.resolve("saturation.png");
    Charts.saturation(
        png,
        "test",
        List.of(
            new Charts.Step(100, 100, 1, 3, true),
            new Charts.Step(150, 149, 1.2, 8, true),
            new Charts.Step(225, 200, 4, 70, true)),
        50);
    assertValidPng(png);
  }

  @Test
  void niceMaximaAreOneTwoOrFiveTimesAPowerOfTen() {
    assertThat(Charts.niceMax(0.9)).isEqualTo(1);
    assertThat(Charts.niceMax(1.5)).isEqualTo(2);
    assertThat(Charts.niceMax(42)).isEqualTo(50);
    assertThat(Charts.niceMax(96)).isEqualTo(200); // 5% headroom
  }

  private static void assertValidPng(Path png) throws Exception {
    byte[] bytes = Files.readAllBytes(png);
    assertThat(bytes).startsWith(0x89, 'P', 'N', 'G');
    BufferedImage image = ImageIO.read(png.toFile());
    assertThat(image.getWidth()).isEqualTo(Charts.WIDTH);
    assertThat(image.getHeight()).isEqualTo(Charts.HEIGHT);
  }
}

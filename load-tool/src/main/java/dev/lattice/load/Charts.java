package dev.lattice.load;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.Stroke;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.HdrHistogram.Histogram;

/**
 * PNG charts drawn with Java2D and written with ImageIO, headless, no dependency: the latency
 * distribution of a workload run (percentile curves with a log "nines" axis, as HdrHistogram's
 * plots) and the saturation run's throughput and p99 against offered load. Stateless; thread-safe.
 */
final class Charts {

  static final int WIDTH = 1000;
  static final int HEIGHT = 620;

  private static final Color[] COLORS = {
    new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0x9467bd)
  };

  static {
    System.setProperty("java.awt.headless", "true");
  }

  private Charts() {}

  /** One named curve. */
  record Series(String name, double[] xs, double[] ys) {}

  /** The latency distribution of named histograms (ns), y in milliseconds. */
  static void latencyDistribution(Path file, String title, List<String> names, List<Histogram> hs)
      throws IOException {
    long most = 1;
    for (Histogram h : hs) {
      most = Math.max(most, h.getTotalCount());
    }
    // x = log10(1 / (1 - q)): 0 is the median's left end (0%), 1 is 90%, 2 is 99%, 3 is 99.9%.
    double maxX = Math.max(2, Math.min(6, Math.ceil(Math.log10(most))));
    List<Series> series = new ArrayList<>();
    for (int i = 0; i < hs.size(); i++) {
      Histogram h = hs.get(i);
      if (h.getTotalCount() == 0) {
        continue;
      }
      int points = (int) (maxX * 100) + 1;
      double[] xs = new double[points];
      double[] ys = new double[points];
      for (int p = 0; p < points; p++) {
        double x = p / 100.0;
        double q = 100 * (1 - Math.pow(10, -x));
        xs[p] = x;
        ys[p] = h.highestEquivalentValue(h.getValueAtPercentile(Math.min(100, q))) / 1e6;
      }
      series.add(new Series(names.get(i) + " (n=" + h.getTotalCount() + ")", xs, ys));
    }
    BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = start(image, title);
    Panel panel =
        new Panel(90, 60, WIDTH - 130, HEIGHT - 150, 0, maxX, 0, niceMax(maxY(series)), false);
    panel.axes(g, "percentile", "latency (ms)", Charts::nines, (int) maxX);
    panel.plot(g, series, false);
    panel.legend(g, series);
    write(image, file);
  }

  /** One step of a saturation run. */
  record Step(double offered, double acked, double p50Ms, double p99Ms, boolean ok) {}

  /**
   * Throughput (acked against offered, with the offered = acked line) above, fan-out p50 and p99
   * against offered load below, with the p99 limit drawn; x is logarithmic (offered grows by a
   * factor per step).
   */
  static void saturation(Path file, String title, List<Step> steps, double limitMs)
      throws IOException {
    int n = steps.size();
    double[] xs = new double[n];
    double[] acked = new double[n];
    double[] p50 = new double[n];
    double[] p99 = new double[n];
    for (int i = 0; i < n; i++) {
      Step s = steps.get(i);
      xs[i] = Math.log10(Math.max(1e-9, s.offered()));
      acked[i] = s.acked();
      p50[i] = s.p50Ms();
      p99[i] = s.p99Ms();
    }
    double minX = n == 0 ? 0 : Math.floor(xs[0] * 10) / 10 - 0.05;
    double maxX = n == 0 ? 1 : Math.ceil(xs[n - 1] * 10) / 10 + 0.05;
    if (maxX - minX < 0.5) {
      maxX = minX + 0.5;
    }
    BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = start(image, title);
    int plotHeight = (HEIGHT - 190) / 2;
    List<Series> top =
        List.of(
            new Series("acked updates/s", xs, acked),
            new Series("offered updates/s", xs, pow10(xs)));
    double topMax = niceMax(Math.max(maxY(top), 1));
    Panel upper = new Panel(100, 60, WIDTH - 140, plotHeight, minX, maxX, 0, topMax, true);
    upper.axes(g, "", "updates/s", Charts::offeredLabel, 0);
    upper.plot(g, top, true);
    upper.legend(g, top);
    List<Series> bottom =
        List.of(new Series("fan-out p99 (ms)", xs, p99), new Series("fan-out p50 (ms)", xs, p50));
    double bottomMax = niceMax(Math.max(maxY(bottom), limitMs * 1.2));
    Panel lower =
        new Panel(100, 100 + plotHeight, WIDTH - 140, plotHeight, minX, maxX, 0, bottomMax, true);
    lower.axes(g, "offered load (updates/s, log scale)", "latency (ms)", Charts::offeredLabel, 0);
    lower.horizontal(g, limitMs, String.format(Locale.ROOT, "p99 limit %s ms", number(limitMs)));
    lower.plot(g, bottom, true);
    lower.legend(g, bottom);
    write(image, file);
  }

  private static double[] pow10(double[] xs) {
    double[] out = new double[xs.length];
    for (int i = 0; i < xs.length; i++) {
      out[i] = Math.pow(10, xs[i]);
    }
    return out;
  }

  private static String nines(double x) {
    double q = 100 * (1 - Math.pow(10, -x));
    return x == 0 ? "0%" : number(Math.round(q * 1e6) / 1e6) + "%";
  }

  private static String offeredLabel(double x) {
    return number(Math.pow(10, x));
  }

  private static String number(double v) {
    if (Math.abs(v) >= 1000) {
      return String.format(Locale.ROOT, "%,.0f", v);
    }
    String s = String.format(Locale.ROOT, "%.4f", v);
    s = s.replaceAll("0+$", "");
    return s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
  }

  private static double maxY(List<Series> series) {
    double max = 0;
    for (Series s : series) {
      for (double y : s.ys()) {
        if (Double.isFinite(y)) {
          max = Math.max(max, y);
        }
      }
    }
    return max;
  }

  /** 1, 2 or 5 times a power of ten, at or above {@code v} (at least 1e-3). */
  static double niceMax(double v) {
    double x = Math.max(v * 1.05, 1e-3);
    double p = Math.pow(10, Math.floor(Math.log10(x)));
    for (double m : new double[] {1, 2, 5, 10}) {
      if (m * p >= x) {
        return m * p;
      }
    }
    return 10 * p;
  }

  private static Graphics2D start(BufferedImage image, String title) {
    Graphics2D g = image.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setRenderingHint(
        RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, image.getWidth(), image.getHeight());
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 18));
    FontMetrics fm = g.getFontMetrics();
    g.drawString(title, (image.getWidth() - fm.stringWidth(title)) / 2, 32);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    return g;
  }

  private static void write(BufferedImage image, Path file) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    if (!ImageIO.write(image, "png", file.toFile())) {
      throw new IOException("no PNG writer in this JDK");
    }
  }

  /** A plotting area with linear axes over (x0..x1) x (y0..y1). */
  private record Panel(
      int left,
      int top,
      int width,
      int height,
      double x0,
      double x1,
      double y0,
      double y1,
      boolean logTicks) {

    int px(double x) {
      return left + (int) Math.round((x - x0) / (x1 - x0) * width);
    }

    int py(double y) {
      return top + height - (int) Math.round((y - y0) / (y1 - y0) * height);
    }

    /** Axes, grid, ticks; x ticks at integers 0..{@code xTicks} or, with logTicks, 1-2-5. */
    void axes(Graphics2D g, String xLabel, String yLabel, DoubleUnaryLabel xTick, int xTicks) {
      FontMetrics fm = g.getFontMetrics();
      Stroke normal = g.getStroke();
      Stroke grid =
          new BasicStroke(
              1, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[] {3, 3}, 0);
      List<Double> ticks = new ArrayList<>();
      if (logTicks) {
        for (int e = (int) Math.floor(x0) - 1; e <= Math.ceil(x1); e++) {
          for (double m : new double[] {1, 2, 5}) {
            double x = e + Math.log10(m);
            if (x >= x0 && x <= x1) {
              ticks.add(x);
            }
          }
        }
      } else {
        for (int i = 0; i <= xTicks; i++) {
          ticks.add((double) i);
        }
      }
      for (double x : ticks) {
        g.setColor(new Color(0xdddddd));
        g.setStroke(grid);
        g.drawLine(px(x), top, px(x), top + height);
        g.setStroke(normal);
        g.setColor(Color.BLACK);
        String label = xTick.label(x);
        g.drawString(label, px(x) - fm.stringWidth(label) / 2, top + height + 18);
      }
      for (int i = 0; i <= 5; i++) {
        double y = y0 + (y1 - y0) * i / 5;
        g.setColor(new Color(0xdddddd));
        g.setStroke(grid);
        g.drawLine(left, py(y), left + width, py(y));
        g.setStroke(normal);
        g.setColor(Color.BLACK);
        String label = number(y);
        g.drawString(label, left - 8 - fm.stringWidth(label), py(y) + fm.getAscent() / 2 - 1);
      }
      g.setColor(Color.BLACK);
      g.drawRect(left, top, width, height);
      g.drawString(xLabel, left + (width - fm.stringWidth(xLabel)) / 2, top + height + 38);
      Graphics2D rotated = (Graphics2D) g.create();
      rotated.rotate(-Math.PI / 2);
      rotated.drawString(yLabel, -(top + (height + fm.stringWidth(yLabel)) / 2), left - 60);
      rotated.dispose();
    }

    void plot(Graphics2D g, List<Series> series, boolean markers) {
      Graphics2D clip = (Graphics2D) g.create();
      clip.clipRect(left - 4, top - 4, width + 8, height + 8);
      clip.setStroke(new BasicStroke(2.2f));
      for (int s = 0; s < series.size(); s++) {
        Series one = series.get(s);
        clip.setColor(COLORS[s % COLORS.length]);
        int prevX = 0;
        int prevY = 0;
        for (int i = 0; i < one.xs().length; i++) {
          int x = px(one.xs()[i]);
          int y = py(one.ys()[i]);
          if (i > 0) {
            clip.drawLine(prevX, prevY, x, y);
          }
          if (markers) {
            clip.fillOval(x - 4, y - 4, 8, 8);
          }
          prevX = x;
          prevY = y;
        }
      }
      clip.dispose();
    }

    void horizontal(Graphics2D g, double y, String label) {
      if (y > y1) {
        return;
      }
      Graphics2D d = (Graphics2D) g.create();
      d.setColor(Color.GRAY);
      d.setStroke(
          new BasicStroke(
              1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[] {8, 5}, 0));
      d.drawLine(left, py(y), left + width, py(y));
      d.drawString(label, left + 8, py(y) - 5);
      d.dispose();
    }

    void legend(Graphics2D g, List<Series> series) {
      FontMetrics fm = g.getFontMetrics();
      int w = 0;
      for (Series s : series) {
        w = Math.max(w, fm.stringWidth(s.name()));
      }
      int boxW = w + 46;
      int boxH = series.size() * 20 + 10;
      int x = left + 12;
      int y = top + 12;
      g.setColor(new Color(255, 255, 255, 230));
      g.fillRect(x, y, boxW, boxH);
      g.setColor(Color.GRAY);
      g.drawRect(x, y, boxW, boxH);
      for (int i = 0; i < series.size(); i++) {
        int ly = y + 20 + i * 20;
        g.setColor(COLORS[i % COLORS.length]);
        g.fillRect(x + 8, ly - 8, 24, 4);
        g.setColor(Color.BLACK);
        g.drawString(series.get(i).name(), x + 38, ly - 2);
      }
    }
  }

  /** A tick label for an axis value. */
  @FunctionalInterface
  interface DoubleUnaryLabel {
    String label(double x);
  }
}

package dev.lattice.bench;

import dev.lattice.crdt.Dot;
import dev.lattice.crdt.ReplicaId;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Locale;

/**
 * {@link CausalMergeBenchmark}'s joins timed by the thread's CPU time, the 10 and the 1,000,000
 * cases interleaved round by round, with the ratio taken per round. On a machine whose cores are
 * shared with other work, JMH's wall-clock averages move by 5x between iterations, as the share of
 * CPU the benchmark gets does; CPU time does not count the time the thread waits for a core, and
 * interleaving exposes both sizes to the same neighbours, so the ratio holds still where the means
 * do not. What it still counts is the caches the neighbours evict.
 *
 * <p>Two controls tell the work of a join from its cache misses. A case suffixed {@code -hot} joins
 * only 16 distinct deltas into the large state, over and over, so their trie paths stay in cache:
 * if the work grew with the size, that would show here. And {@code hashmap} times one {@code
 * HashMap.get} of a present key in a map of 10 or 1,000,000 dots, striding over the map as the
 * joins do ({@code hashmap-cold}: random keys of the whole map), which is what the misses cost on
 * this machine whatever the structure.
 *
 * <p>Usage: {@code java -Xms4g -Xmx4g -cp benchmarks.jar dev.lattice.bench.CausalMergeCpuTime
 * [rounds] [cases...]} where a case is {@code set-add}, {@code set-remove}, {@code map-add}, {@code
 * map-remove}, each optionally suffixed {@code -hot}, {@code hashmap} or {@code hashmap-cold} (by
 * default the four joins, their hot controls and both baselines).
 */
public final class CausalMergeCpuTime {

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private static final long BATCH_NANOS = 50_000_000L;

  /** Keeps the joins' results alive, so the JIT cannot drop them. */
  static volatile Object sink;

  private CausalMergeCpuTime() {}

  /** One case at one size: runs {@code n} operations. */
  private interface Ops {
    void run(int n);
  }

  public static void main(String[] args) {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 15;
    String[] cases =
        args.length > 1
            ? Arrays.copyOfRange(args, 1, args.length)
            : new String[] {
              "set-add",
              "set-remove",
              "map-add",
              "map-remove",
              "set-add-hot",
              "set-remove-hot",
              "map-add-hot",
              "map-remove-hot",
              "hashmap",
              "hashmap-cold"
            };
    System.out.printf("%-11s %12s %12s %7s %7s%n", "case", "10 (ns)", "1M (ns)", "ratio", "min");
    for (String c : cases) {
      Ops small;
      Ops large;
      if (c.startsWith("hashmap")) {
        boolean cold = c.endsWith("-cold");
        small = lookups(10, cold);
        large = lookups(1_000_000, cold);
      } else {
        String[] parts = c.split("-");
        boolean hot = parts.length > 2 && parts[2].equals("hot");
        small = joins(parts[0], parts[1], 10, hot);
        large = joins(parts[0], parts[1], 1_000_000, hot);
      }
      report(c, small, large, rounds);
      sink = null;
    }
  }

  private static Ops joins(String structure, String op, int size, boolean hot) {
    CausalMergeBenchmark bench = new CausalMergeBenchmark();
    bench.structure = structure;
    bench.op = op;
    bench.size = size;
    bench.build();
    if (hot) {
      bench.cycle = 16;
    }
    return n -> {
      for (int i = 0; i < n; i++) {
        sink = bench.merge();
      }
    };
  }

  private static Ops lookups(int size, boolean cold) {
    HashMap<Dot, Object> map = new HashMap<>();
    ReplicaId seeder = ReplicaId.of(1);
    for (int i = 0; i < size; i++) {
      map.put(new Dot(seeder, i + 1), "e" + i);
    }
    Dot[] keys = new Dot[cold ? 1 << 20 : 4096];
    java.util.Random random = new java.util.Random(12);
    for (int i = 0; i < keys.length; i++) {
      long seq = cold ? random.nextInt(size) : (i * 7_919L) % size;
      keys[i] = new Dot(seeder, seq + 1);
    }
    int[] next = new int[1];
    return n -> {
      for (int i = 0; i < n; i++) {
        int k = next[0];
        next[0] = (k + 1) % keys.length;
        sink = map.get(keys[k]);
      }
    };
  }

  /** CPU nanoseconds per operation of a batch of {@code n}. */
  private static double perOp(Ops ops, int n) {
    long start = THREADS.getCurrentThreadCpuTime();
    ops.run(n);
    return (double) (THREADS.getCurrentThreadCpuTime() - start) / n;
  }

  /** A batch size that takes about {@link #BATCH_NANOS} of CPU. */
  private static int calibrate(Ops ops) {
    int n = 1_000;
    while (true) {
      double ns = perOp(ops, n);
      if (ns * n >= BATCH_NANOS / 4 || n >= 100_000_000) {
        return (int) Math.max(1_000, Math.min(100_000_000, BATCH_NANOS / ns));
      }
      n *= 4;
    }
  }

  private static void report(String name, Ops small, Ops large, int rounds) {
    // Warm-up: both sizes, until the batch sizes are steady.
    int bs = 0;
    int bl = 0;
    for (int i = 0; i < 4; i++) {
      bs = calibrate(small);
      bl = calibrate(large);
    }
    double[] s = new double[rounds];
    double[] l = new double[rounds];
    double[] ratio = new double[rounds];
    for (int r = 0; r < rounds; r++) {
      s[r] = perOp(small, bs);
      l[r] = perOp(large, bl);
      ratio[r] = l[r] / s[r];
    }
    double ms = median(s);
    double ml = median(l);
    System.out.printf(
        Locale.ROOT,
        "%-11s %12.0f %12.0f %7.2f %7.2f%n",
        name,
        ms,
        ml,
        median(ratio),
        min(l) / min(s));
  }

  private static double median(double[] xs) {
    double[] sorted = xs.clone();
    Arrays.sort(sorted);
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }

  private static double min(double[] xs) {
    return Arrays.stream(xs).min().orElseThrow();
  }
}

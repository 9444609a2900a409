package dev.lattice.bench;

import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.hlc.HybridLogicalClock;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Throughput of {@link HybridLogicalClock#now()} on the system clock: uncontended, and with two
 * threads sharing one clock so that compare-and-swap retries show up.
 *
 * <p>Run with {@code java -jar bench/target/benchmarks.jar HlcBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class HlcBenchmark {

  // Shared by every benchmark thread (Scope.Benchmark): the contended case is the point.
  private HybridLogicalClock clock;

  /** Creates a fresh system-clock HLC per trial. */
  @Setup
  public void setUp() {
    clock = new HybridLogicalClock();
  }

  /** One thread ticking the clock: the uncontended cost of a system clock read plus one CAS. */
  @Benchmark
  @Threads(1)
  public HlcTimestamp nowSingleThread() {
    return clock.now();
  }

  /** Two threads ticking the same clock: adds CAS contention on the shared state. */
  @Benchmark
  @Threads(2)
  public HlcTimestamp nowTwoThreadsShared() {
    return clock.now();
  }
}

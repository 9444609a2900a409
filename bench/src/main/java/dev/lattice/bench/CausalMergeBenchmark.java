package dev.lattice.bench;

import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.ORMap;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Cost of joining one small delta into an OR-Set or OR-Map of 10 or 1,000,000 elements (issue 12:
 * within 2x). The states are immutable, so every invocation joins a delta the state has not seen
 * into the same state: each join is a real change, built from scratch on persistent trees. Deltas
 * are pre-built and cycled: adds of new elements (new keys) by another replica, and removes of
 * existing ones, striding over the state so the large case pays its cache misses.
 *
 * <p>{@code java -jar bench/target/benchmarks.jar CausalMergeBenchmark -p cycle=4096,16}
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms4g", "-Xmx4g"})
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
public class CausalMergeBenchmark {

  private static final int DELTAS = 4096;
  private static final ReplicaId SEEDER = ReplicaId.of(1);
  private static final ReplicaId WRITER = ReplicaId.of(2);

  @Param({"10", "1000000"})
  int size;

  @Param({"add", "remove"})
  String op;

  /** Which structure to build: only one lives in the heap at a time. */
  @Param({"set", "map"})
  String structure;

  private ORSet set;
  private ORMap map;
  private final ORSet[] setDeltas = new ORSet[DELTAS];
  private final ORMap[] mapDeltas = new ORMap[DELTAS];
  private int next;

  /**
   * How many of the pre-built deltas are cycled through (at most 4,096): fewer keeps their trie
   * paths in cache, which tells the work of a join from its cache misses ({@code -p cycle=16}, and
   * {@link CausalMergeCpuTime}'s {@code -hot} cases).
   */
  @Param({"4096"})
  int cycle = DELTAS;

  @Setup
  public void build() {
    CrdtKind<GCounter> counter = CrdtKind.of(GCounter.class);
    ORSet s = ORSet.empty();
    ORMap m = ORMap.empty();
    boolean isSet = structure.equals("set");
    for (int i = 0; i < size; i++) {
      Dot dot = new Dot(SEEDER, i + 1);
      if (isSet) {
        s = s.add(dot, Value.of("e" + i)).state();
      } else {
        m = m.update(dot, "k" + i, counter, g -> g.increment(SEEDER, 1)).state();
      }
    }
    set = s;
    map = m;
    for (int i = 0; i < DELTAS; i++) {
      Dot dot = new Dot(WRITER, i + 1);
      int existing = (int) ((i * 7_919L) % size);
      if (op.equals("add")) {
        setDeltas[i] = set.add(dot, Value.of("new" + i)).delta();
        mapDeltas[i] = map.update(dot, "new" + i, counter, g -> g.increment(WRITER, 1)).delta();
      } else {
        setDeltas[i] = set.remove(dot, Value.of("e" + existing)).delta();
        mapDeltas[i] = map.remove(dot, "k" + existing).delta();
      }
    }
  }

  /** Joins the next pre-built delta into the set or the map, as {@link #structure} says. */
  @Benchmark
  public Object merge() {
    int i = next;
    next = (i + 1) % cycle;
    return structure.equals("set") ? set.merge(setDeltas[i]) : map.merge(mapDeltas[i]);
  }
}

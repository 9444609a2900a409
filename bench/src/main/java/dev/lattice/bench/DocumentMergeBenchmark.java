package dev.lattice.bench;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Cost of merging one remote G-Counter increment delta into a document, as a function of the
 * document's size. The design promises cost in proportion to the delta: the 1,000,000-field case
 * must stay within 2x of the 10-field case.
 *
 * <p>Each measured batch merges {@link #BATCH} distinct deltas, pre-built before the batch from a
 * replica that has never written before, so every merge is a real change (no idempotent short-cut)
 * and delta construction is not timed. Deltas spread over the fields with a stride so the large
 * case pays its real cache misses.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms4g", "-Xmx4g"})
@Warmup(iterations = 10, batchSize = DocumentMergeBenchmark.BATCH)
@Measurement(iterations = 20, batchSize = DocumentMergeBenchmark.BATCH)
public class DocumentMergeBenchmark {

  static final int BATCH = 100_000;

  @Param({"10", "1000000"})
  int fields;

  @Param({"hot", "spread"})
  String workload;

  private Document document;
  private DocumentDelta[] deltas;
  private int next;
  private long batchReplica = 1L << 40;

  @Setup(Level.Trial)
  public void buildDocument() {
    document = Document.create("bench");
    ReplicaId seeder = ReplicaId.of(1);
    for (int f = 0; f < fields; f++) {
      document.incrementGCounter(seeder, "field-" + f, 1);
    }
    deltas = new DocumentDelta[BATCH];
  }

  @Setup(Level.Iteration)
  public void buildDeltas() {
    ReplicaId writer = ReplicaId.of(batchReplica++);
    // The writer's own replica produces the deltas, exactly as a remote client would.
    Document source = Document.create("bench");
    for (int i = 0; i < BATCH; i++) {
      int field = workload.equals("hot") ? i % 10 : (int) ((i * 7_919L) % fields);
      deltas[i] = source.incrementGCounter(writer, "field-" + field, 1);
    }
    next = 0;
  }

  @Benchmark
  public Object mergeIncrement() {
    return document.merge(deltas[next++]);
  }
}

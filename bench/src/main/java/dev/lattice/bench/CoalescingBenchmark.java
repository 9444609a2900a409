package dev.lattice.bench;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.codec.Codec;
import dev.lattice.crdt.codec.CrdtCodecs;
import java.util.Arrays;
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
 * What a round costs the document's writer besides the merges themselves: joining the round's
 * deltas into one (as the hub does while the previous round is in flight) and encoding the joined
 * delta once, against encoding every update on its own. {@code updates} is how many increments the
 * round holds, from as many replicas (the hot document: every client increments its own count).
 */
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Benchmark)
public class CoalescingBenchmark {

  private static final Codec<DocumentDelta> CODEC = CrdtCodecs.defaults().documentDelta();

  @Param({"1", "10", "100"})
  public int updates;

  private DocumentDelta[] deltas;

  @Setup
  public void build() {
    Document doc = Document.create("bench");
    deltas = new DocumentDelta[updates];
    for (int i = 0; i < updates; i++) {
      deltas[i] = doc.incrementGCounter(ReplicaId.of(1000 + i), "likes", 1);
    }
  }

  /** The round as the hub builds it: join every delta in a balanced tree, then encode once. */
  @Benchmark
  public byte[] joinAllThenEncodeOnce() {
    return CODEC.encode(DocumentDelta.joinAll(Arrays.asList(deltas)));
  }

  /** The round as the hub built it before {@code joinAll}: one join at a time, then encode. */
  @Benchmark
  public byte[] joinThenEncodeOnce() {
    DocumentDelta joined = deltas[0];
    for (int i = 1; i < deltas.length; i++) {
      joined = joined.join(deltas[i]);
    }
    return CODEC.encode(joined);
  }

  /** One frame per update, as before rounds: encode each delta. */
  @Benchmark
  public int encodeEach() {
    int bytes = 0;
    for (DocumentDelta d : deltas) {
      bytes += CODEC.encode(d).length;
    }
    return bytes;
  }
}

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
 * Cost of merging one increment into a shared G-Counter field as a function of how many replicas
 * ever wrote it (a long-lived document's "likes": every SDK process takes a fresh replica id). The
 * merge runs the server's per-update checks first ({@code checkOwnDelta}, {@code counterOverflow},
 * {@code containsAll}), as {@code DefaultHub} does. The replica map keeps one entry per writer, so
 * a cost that grows with {@link #writers} shows an O(R) step on the update path.
 *
 * <p>Each measured batch merges {@link #BATCH} distinct deltas, pre-built before the batch, each
 * its writer's next increment, from writers taken in a stride so the large case pays its real cache
 * misses; delta construction is not timed.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g", "-XX:+AlwaysPreTouch"})
@Warmup(iterations = 10, batchSize = CounterWritersBenchmark.BATCH)
@Measurement(iterations = 20, batchSize = CounterWritersBenchmark.BATCH)
public class CounterWritersBenchmark {

  static final int BATCH = 20_000;

  @Param({"10", "10000"})
  int writers;

  private Document writer;
  private Document server;
  private ReplicaId[] ids;
  private DocumentDelta[] deltas;
  private ReplicaId[] senders;
  private int next;
  private int cursor;

  @Setup(Level.Trial)
  public void buildDocument() {
    writer = Document.create("bench");
    server = Document.create("bench");
    ids = new ReplicaId[writers];
    for (int i = 0; i < writers; i++) {
      // Spread over the whole id space, as random replica ids are.
      ids[i] = ReplicaId.of(0x9E37_79B9_7F4A_7C15L * (i + 1));
      server.merge(writer.incrementGCounter(ids[i], "likes", 1));
    }
    deltas = new DocumentDelta[BATCH];
    senders = new ReplicaId[BATCH];
  }

  @Setup(Level.Iteration)
  public void buildDeltas() {
    for (int i = 0; i < BATCH; i++) {
      // A stride coprime to the writer count visits every writer before repeating one.
      cursor = (cursor + 7919) % writers;
      senders[i] = ids[cursor];
      deltas[i] = writer.incrementGCounter(ids[cursor], "likes", 1);
    }
    next = 0;
  }

  @Benchmark
  public boolean mergeOneIncrement() {
    int i = next++;
    DocumentDelta delta = deltas[i];
    if (!server.checkOwnDelta(senders[i], delta).verdict().accepted()
        || server.counterOverflow(delta).isPresent()
        || server.containsAll(delta.context())) {
      throw new IllegalStateException("the server refused a fresh increment");
    }
    return !server.merge(delta).isEmpty();
  }
}

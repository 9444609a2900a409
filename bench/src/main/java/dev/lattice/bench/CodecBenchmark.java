package dev.lattice.bench;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.codec.Codec;
import dev.lattice.crdt.codec.CrdtCodecs;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.hlc.HybridLogicalClock;
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
 * Encode and decode throughput of the payloads that cross the wire most (single-mutation deltas)
 * and of whole documents, which the store writes and late joiners receive.
 */
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms4g", "-Xmx4g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class CodecBenchmark {

  private static final CrdtCodecs CODECS = CrdtCodecs.defaults();

  /** One G-Counter increment and one register write, as clients send them. */
  @State(Scope.Benchmark)
  public static class Deltas {
    final Codec<DocumentDelta> codec = CODECS.documentDelta();
    DocumentDelta increment;
    DocumentDelta registerWrite;
    byte[] incrementBytes;
    byte[] registerWriteBytes;

    @Setup
    public void build() {
      Document doc = Document.create("bench");
      ReplicaId writer = ReplicaId.random();
      increment = doc.incrementGCounter(writer, "likes", 1);
      registerWrite =
          doc.setRegister(
              writer,
              "title",
              Value.of("Quarterly roadmap, draft 3"),
              HlcTimestamp.of(System.currentTimeMillis(), 0));
      incrementBytes = codec.encode(increment);
      registerWriteBytes = codec.encode(registerWrite);
    }
  }

  /** A document of counters and string registers written by a handful of replicas. */
  @State(Scope.Benchmark)
  public static class Documents {
    @Param({"1000", "100000", "1000000"})
    int fields;

    final Codec<Document> codec = CODECS.document();
    Document document;
    byte[] bytes;

    @Setup
    public void build() {
      document = Document.create("bench");
      // A frozen physical clock: timestamps differ only in the counter, which carries into the
      // millis past 65535, as a real clock does under a burst of writes.
      HybridLogicalClock clock =
          new HybridLogicalClock(() -> 1_700_000_000_000L, HybridLogicalClock.DEFAULT_MAX_DRIFT);
      ReplicaId[] writers = new ReplicaId[8];
      for (int i = 0; i < writers.length; i++) {
        writers[i] = ReplicaId.random();
      }
      for (int f = 0; f < fields; f++) {
        ReplicaId writer = writers[f % writers.length];
        if (f % 2 == 0) {
          document.incrementGCounter(writer, "count-" + f, f);
        } else {
          document.setRegister(writer, "text-" + f, Value.of("value " + f), clock.now());
        }
      }
      bytes = codec.encode(document);
    }
  }

  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OutputTimeUnit(TimeUnit.SECONDS)
  public byte[] encodeIncrementDelta(Deltas s) {
    return s.codec.encode(s.increment);
  }

  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OutputTimeUnit(TimeUnit.SECONDS)
  public DocumentDelta decodeIncrementDelta(Deltas s) {
    return s.codec.decode(s.incrementBytes);
  }

  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OutputTimeUnit(TimeUnit.SECONDS)
  public byte[] encodeRegisterDelta(Deltas s) {
    return s.codec.encode(s.registerWrite);
  }

  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OutputTimeUnit(TimeUnit.SECONDS)
  public DocumentDelta decodeRegisterDelta(Deltas s) {
    return s.codec.decode(s.registerWriteBytes);
  }

  @Benchmark
  @BenchmarkMode(Mode.AverageTime)
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  public byte[] encodeDocument(Documents s) {
    return s.codec.encode(s.document);
  }

  @Benchmark
  @BenchmarkMode(Mode.AverageTime)
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  public Document decodeDocument(Documents s) {
    return s.codec.decode(s.bytes);
  }
}

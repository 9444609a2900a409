package dev.lattice.bench;

import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.codec.Codec;
import dev.lattice.crdt.codec.CrdtCodecs;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The cost of one add to a set nested in an OR-Map that already holds {@code n} elements, by one
 * writer, through {@link Document#mutateAt} (the path of the SDK's and the server's edits): wall
 * time per add in rounds (a round the collector ran in shows it), the merge of such an add's delta
 * into another replica's copy, and the encoded size of the last add's delta. A simple loop, not
 * JMH: the state grows as it runs, which is the point.
 *
 * <p>Usage: {@code java -Xmx2g -cp benchmarks.jar dev.lattice.bench.NestedSetAddCost [n] [adds per
 * round] [rounds]}, by default 100,000, 10,000 and 8. Single-threaded; not thread-safe.
 */
public final class NestedSetAddCost {

  private NestedSetAddCost() {}

  public static void main(String[] args) {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
    int perRound = args.length > 1 ? Integer.parseInt(args[1]) : 10_000;
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 8;
    ReplicaId writer = ReplicaId.of(0x5eed_1a77_1ce5_0001L);
    CrdtKind<ORSet> set = CrdtKind.of(ORSet.class);
    Codec<DocumentDelta> codec = CrdtCodecs.defaults().documentDelta();
    Document doc = Document.create("d");
    long start = System.nanoTime();
    for (int i = 0; i < n; i++) {
      Value element = Value.of("e" + i);
      doc.mutateAt(writer, "m", List.of("files"), set, (s, dot) -> s.add(dot, element));
    }
    System.out.printf(
        Locale.ROOT, "filled %,d elements in %.1f s%n", n, (System.nanoTime() - start) / 1e9);
    DocumentDelta last = DocumentDelta.empty();
    for (int round = 0; round < rounds; round++) {
      long t0 = System.nanoTime();
      for (int i = 0; i < perRound; i++) {
        Value element = Value.of("r" + round + "-" + i);
        last = doc.mutateAt(writer, "m", List.of("files"), set, (s, dot) -> s.add(dot, element));
      }
      System.out.printf(
          Locale.ROOT,
          "round %d: %.1f us per add, set of %,d%n",
          round,
          (System.nanoTime() - t0) / 1e3 / perRound,
          n + (round + 1) * perRound);
    }
    Document other = doc.copy();
    List<DocumentDelta> deltas = new ArrayList<>();
    for (int i = 0; i < perRound; i++) {
      Value element = Value.of("m" + i);
      deltas.add(doc.mutateAt(writer, "m", List.of("files"), set, (s, dot) -> s.add(dot, element)));
    }
    long t0 = System.nanoTime();
    for (DocumentDelta delta : deltas) {
      other.merge(delta);
    }
    System.out.printf(
        Locale.ROOT,
        "merge into a copy: %.1f us per add's delta; last add's delta: %d bytes%n",
        (System.nanoTime() - t0) / 1e3 / perRound,
        codec.encode(last).length);
  }
}

package dev.lattice.client;

import dev.lattice.client.internal.FileLocalState;
import dev.lattice.client.internal.LocalState.OutboxEntry;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;

/**
 * A rough measure, run by hand, of what one durable {@link FileLocalState#appendOutbox} and one
 * checkpoint cost: wall time per call, percentiles over a bounded run. Not a test (no timed
 * assertions); the figures go to the report. Usage: {@code java -cp <test classpath>
 * dev.lattice.client.AppendCostMain [directory] [appends]}; the directory must not exist or be
 * empty, and should be on the disk the client will use (tmpfs makes force free).
 */
public final class AppendCostMain {

  private AppendCostMain() {}

  public static void main(String[] args) throws Exception {
    Path dir = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("append-cost");
    int appends = args.length > 1 ? Integer.parseInt(args[1]) : 2_000;
    try (FileLocalState state = FileLocalState.open(dir)) {
      ReplicaId me = state.replicaId();
      Document replica = Document.create("cost");
      long[] appendNanos = new long[appends];
      int warmup = Math.min(200, appends);
      for (int i = -warmup; i < appends; i++) {
        DocumentDelta delta = replica.incrementGCounter(me, "n", 1);
        OutboxEntry entry = new OutboxEntry(replica.nextSequence(me) - 1, delta);
        long start = System.nanoTime();
        state.appendOutbox("cost", entry);
        if (i >= 0) {
          appendNanos[i] = System.nanoTime() - start;
        }
      }
      int checkpoints = Math.min(200, appends);
      long[] checkpointNanos = new long[checkpoints];
      for (int i = 0; i < checkpoints; i++) {
        DocumentDelta delta = replica.incrementGCounter(me, "n", 1);
        long entryId = replica.nextSequence(me) - 1;
        state.appendOutbox("cost", new OutboxEntry(entryId, delta));
        long start = System.nanoTime();
        // Forget the oldest entries in slices, so each checkpoint also rewrites the outbox.
        state.checkpoint("cost", replica.copy(), Set.of(entryId - 1));
        checkpointNanos[i] = System.nanoTime() - start;
      }
      System.out.println("directory " + dir.toAbsolutePath());
      print("appendOutbox (small G-Counter delta, forced)", appendNanos);
      print("checkpoint (1-field replica, outbox of ~" + appends + " records)", checkpointNanos);
    }
  }

  private static void print(String what, long[] nanos) {
    long[] sorted = nanos.clone();
    Arrays.sort(sorted);
    double mean = Arrays.stream(sorted).average().orElse(0) / 1000.0;
    System.out.printf(
        "%s: n=%d mean=%.0f us p50=%.0f us p90=%.0f us p99=%.0f us max=%.0f us%n",
        what,
        sorted.length,
        mean,
        sorted[sorted.length / 2] / 1000.0,
        sorted[(int) (sorted.length * 0.9)] / 1000.0,
        sorted[(int) (sorted.length * 0.99)] / 1000.0,
        sorted[sorted.length - 1] / 1000.0);
  }
}

package dev.lattice.client;

import dev.lattice.client.internal.FileLocalState;
import dev.lattice.client.internal.LocalState.OutboxEntry;
import dev.lattice.client.internal.LocalState.StoredDocument;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Run by {@link FileLocalStateCrashIT} in a child JVM until it is killed: opens a state directory,
 * continues its document where the stored state left off, and increments a counter, one outbox
 * entry per increment. Prints {@code ready <replica id>}, then {@code appended <entry id>} after
 * each {@code appendOutbox} returned. In {@code checkpoint} mode it also checkpoints after every
 * append, forgetting all but the last two entries, between {@code checkpointing <up to>} and {@code
 * checkpointed <up to>}. Stops by itself after a bounded count, after 60 seconds, or when its stdin
 * closes (the parent died).
 */
public final class FileLocalStateCrashChild {

  static final String DOCUMENT = "crash/doc \u00e9";
  static final int MAX_APPENDS = 100_000;
  static final int KEPT_UNDONE = 2;

  private FileLocalStateCrashChild() {}

  public static void main(String[] args) throws Exception {
    ChildJvm.haltWhenParentGoes();

    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    if (args[0].equals("probe")) {
      try (FileLocalState state = FileLocalState.open(Path.of(args[1]))) {
        out.println("opened " + state.replicaId());
      } catch (LocalStateException e) {
        out.println("refused " + e.getMessage());
      }
      return;
    }
    boolean checkpoints = args[0].equals("checkpoint");
    FileLocalState state = FileLocalState.open(Path.of(args[1]));
    ReplicaId me = state.replicaId();
    Document replica = Document.create(DOCUMENT);
    ArrayDeque<Long> pending = new ArrayDeque<>();
    StoredDocument stored = state.load(DOCUMENT).orElse(null);
    if (stored != null) {
      replica = stored.replica();
      stored.outbox().forEach(entry -> pending.add(entry.entryId()));
    }
    out.println("ready " + me);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    for (int i = 0; i < MAX_APPENDS && System.nanoTime() < deadline; i++) {
      DocumentDelta delta = replica.incrementGCounter(me, "n", 1);
      long entryId = replica.nextSequence(me) - 1;
      state.appendOutbox(DOCUMENT, new OutboxEntry(entryId, delta));
      out.println("appended " + entryId);
      pending.add(entryId);
      if (checkpoints && pending.size() > KEPT_UNDONE) {
        Set<Long> done = new HashSet<>();
        while (pending.size() > KEPT_UNDONE) {
          done.add(pending.poll());
        }
        long upTo = done.stream().mapToLong(Long::longValue).max().orElseThrow();
        out.println("checkpointing " + upTo);
        state.checkpoint(DOCUMENT, replica.copy(), done);
        out.println("checkpointed " + upTo);
      }
    }
    out.println("finished");
    state.close();
  }
}

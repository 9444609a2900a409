package dev.lattice.server.store;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.server.OrphanGuard;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Run by {@link StoreCrashIT} in a child JVM: appends G-Counter increments of one replica to one
 * document, up to 64 in flight, and prints each acknowledged sequence number on its own line. Exits
 * by itself when its stdin closes (the parent died), after a bounded count, or after 60 seconds.
 */
public final class StoreCrashChild {

  static final String DOCUMENT = "crash-doc";
  static final ReplicaId REPLICA = ReplicaId.of(0xC0FFEEL);
  static final int MAX_APPENDS = 200_000;

  private StoreCrashChild() {}

  public static void main(String[] args) throws Exception {
    OrphanGuard.haltWhenParentGoes();

    PrintStream out = new PrintStream(System.out, true, "UTF-8");
    RocksDbDocumentStore store =
        RocksDbDocumentStore.open(
            EmbeddedStoreConfig.builder()
                .dataDirectory(Path.of(args[0]))
                .compactionThreshold(500) // compactions race with the kill too
                .build());
    out.println("ready");
    Document doc = Document.create(DOCUMENT);
    Semaphore window = new Semaphore(64);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    for (int i = 0; i < MAX_APPENDS && System.nanoTime() < deadline; i++) {
      window.acquire();
      DocumentDelta delta = doc.incrementGCounter(REPLICA, "n", 1);
      long seq = doc.nextSequence(REPLICA) - 1;
      store
          .append(DOCUMENT, delta)
          .whenComplete(
              (ok, error) -> {
                if (error == null) {
                  out.println(seq);
                } else {
                  out.println("error " + error);
                }
                window.release();
              });
    }
    store.close();
    Runtime.getRuntime().halt(0);
  }
}

package dev.lattice.faults;

import dev.lattice.client.LatticeClient;
import dev.lattice.client.LatticeDocument;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.codec.CrdtCodecs;
import java.net.URI;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/** The fault ITs' end: waiting, within a bound, for every replica to hold the same bytes. */
final class Converge {

  private Converge() {}

  static byte[] encode(Document d) {
    return CrdtCodecs.defaults().document().encode(d);
  }

  /**
   * Reads every replica's encoded state until all are equal (fan-out may still be arriving) or
   * {@code seconds} pass; returns the last reading.
   */
  static List<byte[]> awaitSame(Supplier<List<byte[]>> read, long seconds)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    List<byte[]> bytes = read.get();
    while (!allEqual(bytes) && System.nanoTime() < deadline) {
      // A condition awaited with a deadline: read again every 50 ms.
      Thread.sleep(50);
      bytes = read.get();
    }
    return bytes;
  }

  static boolean allEqual(List<byte[]> bytes) {
    for (byte[] b : bytes) {
      if (!Arrays.equals(b, bytes.get(0))) {
        return false;
      }
    }
    return true;
  }

  /** A client with no state directory that opened {@code documentId} on the server and synced. */
  static LatticeClient freshReader(int port, String documentId, long seconds) throws Exception {
    LatticeClient reader =
        LatticeClient.builder()
            .serverUri(URI.create("ws://127.0.0.1:" + port + "/v1/sync"))
            .backoff(Duration.ofMillis(20), Duration.ofMillis(500))
            .build();
    try {
      LatticeDocument fresh = reader.open(documentId);
      fresh.synced().get(seconds, TimeUnit.SECONDS);
      return reader;
    } catch (Exception | AssertionError e) {
      reader.close();
      throw e;
    }
  }
}

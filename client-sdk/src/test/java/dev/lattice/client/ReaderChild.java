package dev.lattice.client;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * The child JVM of {@link ReceivedStateIT}: a client with a state directory that only reads. It
 * opens document {@code doc} and prints {@code SEEN} once its register {@code title} holds {@code
 * expected}, then idles until it is killed. Arguments: server URI, state directory, expected value.
 */
public final class ReaderChild {

  private ReaderChild() {}

  public static void main(String[] args) throws Exception {
    ChildJvm.haltWhenParentGoes();
    ChildJvm.haltAfter(Duration.ofSeconds(120));
    LatticeClient client =
        LatticeClient.builder()
            .serverUri(URI.create(args[0]))
            .stateDirectory(Path.of(args[1]))
            .backoff(Duration.ofMillis(50), Duration.ofMillis(200))
            .build();
    LatticeDocument doc = client.open("doc");
    Optional<dev.lattice.crdt.Value> expected = Optional.of(dev.lattice.crdt.Value.of(args[2]));
    Object seen = new Object();
    doc.onChange(
        e -> {
          synchronized (seen) {
            seen.notifyAll();
          }
        });
    synchronized (seen) {
      while (!doc.register("title").get().equals(expected)) {
        seen.wait(100);
      }
    }
    System.out.println("SEEN");
    System.out.flush();
    Thread.sleep(Duration.ofSeconds(120).toMillis()); // the parent kills us long before this
  }
}

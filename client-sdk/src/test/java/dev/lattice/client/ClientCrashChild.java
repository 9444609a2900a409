package dev.lattice.client;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The child JVM of {@link ClientCrashIT}: a client with a state directory and no reachable server
 * makes edits, printing {@code EDIT <n>} after each edit call returns, until it is killed.
 * Arguments: server URI, state directory, most edits (a bound, so it always ends).
 */
public final class ClientCrashChild {

  private ClientCrashChild() {}

  public static void main(String[] args) throws Exception {
    URI server = URI.create(args[0]);
    Path state = Path.of(args[1]);
    int most = Integer.parseInt(args[2]);
    LatticeClient client =
        LatticeClient.builder()
            .serverUri(server)
            .stateDirectory(state)
            .backoff(Duration.ofMillis(50), Duration.ofMillis(200))
            .build();
    LatticeDocument doc = client.open("crash");
    System.out.println("REPLICA " + client.replicaId());
    for (int n = 1; n <= most; n++) {
      doc.counter("clicks").increment(1);
      doc.register("last").set(dev.lattice.crdt.Value.of((long) n));
      System.out.println("EDIT " + n);
      System.out.flush();
    }
    System.out.println("DONE");
    System.out.flush();
    Thread.sleep(Duration.ofSeconds(60).toMillis()); // the parent kills us long before this
  }
}

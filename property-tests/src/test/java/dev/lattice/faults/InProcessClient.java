package dev.lattice.faults;

import dev.lattice.client.LatticeClient;
import dev.lattice.client.LatticeDocument;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;

/**
 * One SDK client in the test JVM with its own state directory, reaching its server through its own
 * {@link FaultProxy}; closed and started again over the same directory, or over a backup of it.
 *
 * <p>Not thread-safe: the test thread drives it.
 */
final class InProcessClient {

  final int index;
  final Path state;
  final FaultProxy proxy;
  private final String documentId;
  LatticeClient client;
  LatticeDocument doc;

  InProcessClient(int index, Path state, FaultProxy proxy, String documentId) {
    this.index = index;
    this.state = state;
    this.proxy = proxy;
    this.documentId = documentId;
    start();
  }

  private void start() {
    client =
        LatticeClient.builder()
            .serverUri(URI.create("ws://127.0.0.1:" + proxy.port() + "/v1/sync"))
            .stateDirectory(state)
            .backoff(Duration.ofMillis(20), Duration.ofMillis(500))
            .build();
    doc = client.open(documentId);
  }

  void restart() {
    client.close();
    start();
  }

  /** Copies the state directory while the client is stopped, as a backup tool would. */
  void backup(Path to) throws IOException {
    client.close();
    Trees.replace(state, to);
    start();
  }

  /** Kills the client's state: starts it again over the copy in {@code from}. */
  void restore(Path from) throws IOException {
    client.close();
    Trees.replace(from, state);
    start();
  }

  void close() {
    client.close();
  }
}

package dev.lattice.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Value;
import dev.lattice.server.LatticeServer;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A desktop client killed (SIGKILL) while offline, with edits no server ever acknowledged: after a
 * restart on its state directory it has every edit whose call returned, and hands them all to the
 * server once one is reachable: under their own replica id, while the new process edits under a
 * fresh one (a state directory may be a restored copy, issue 11).
 */
class ClientCrashIT {

  private static final long TIMEOUT_SECONDS = 60;

  @TempDir Path tmp;

  @Test
  void editsOfAKilledOfflineClientSurviveAndReachTheServerAfterRestart() throws Exception {
    Path state = tmp.resolve("state");
    URI nowhere;
    try (ServerSocket probe = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      nowhere = URI.create("ws://127.0.0.1:" + probe.getLocalPort() + "/v1/sync");
    } // closed: connections are refused, so nothing is ever acknowledged

    String replica;
    long printed = 0;
    try (ChildJvm child =
        new ChildJvm(
            ClientCrashChild.class,
            tmp.resolve("child.err"),
            nowhere.toString(),
            state.toString(),
            "100000")) {
      String first = child.next();
      assertThat(first).startsWith("REPLICA ");
      replica = first.substring("REPLICA ".length());
      // Let it make a few dozen edits, then kill it in the middle of its loop.
      while (printed < 40) {
        String line = child.next();
        assertThat(line).startsWith("EDIT ");
        printed = Long.parseLong(line.substring(5));
      }
      for (String line : child.kill()) {
        if (line.startsWith("EDIT ")) {
          printed = Long.parseLong(line.substring(5));
        }
      }
    }

    try (LatticeServer server =
            LatticeServer.builder()
                .bindAddress("127.0.0.1")
                .port(0)
                .inMemory(true)
                .build()
                .start();
        LatticeClient client =
            LatticeClient.builder().serverUri(server.uri()).stateDirectory(state).build()) {
      assertThat(client.replicaId().toString()).as("a fresh id per process").isNotEqualTo(replica);
      LatticeDocument doc = client.open("crash");
      long clicks = doc.counter("clicks").value();
      // Every edit whose call returned is there (one more may have landed before the print).
      assertThat(clicks).isBetween(printed, printed + 1);
      // The kill may fall between an edit's two calls: the register lags by at most one.
      Value last = doc.register("last").get().orElseThrow();
      assertThat(last).isIn(Value.of(clicks), Value.of(clicks - 1));
      assertThat(doc.pendingChanges()).isPositive();

      doc.flush().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);

      assertThat(doc.pendingChanges()).isZero();
      assertThat(server.document("crash").orElseThrow().counterValue("clicks")).isEqualTo(clicks);
      assertThat(server.document("crash").orElseThrow().registerValue("last")).contains(last);
    }
  }
}

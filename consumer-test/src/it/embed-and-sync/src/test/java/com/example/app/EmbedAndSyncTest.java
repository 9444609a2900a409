package com.example.app;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lattice.client.LatticeClient;
import dev.lattice.client.LatticeDocument;
import dev.lattice.crdt.Value;
import dev.lattice.server.LatticeServer;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** An application that embeds the server and syncs through the SDK, built from the bom alone. */
class EmbedAndSyncTest {

  @Test
  void clientEditReachesTheEmbeddedServer() throws Exception {
    try (LatticeServer server =
            LatticeServer.builder().bindAddress("127.0.0.1").port(0).inMemory(true).build().start();
        LatticeClient client = LatticeClient.builder().serverUri(server.uri()).build()) {
      LatticeDocument board = client.open("board-42");
      board.counter("likes").increment(2);
      board.register("title").set(Value.of("Roadmap"));
      board.flush().get(30, TimeUnit.SECONDS);

      assertEquals(2L, server.document("board-42").orElseThrow().counterValue("likes"));
      assertEquals(
          Optional.of(Value.of("Roadmap")),
          server.document("board-42").orElseThrow().registerValue("title"));
    }
  }
}

package com.example.modular;

import dev.lattice.client.LatticeClient;
import dev.lattice.client.LatticeDocument;
import dev.lattice.crdt.Value;
import dev.lattice.server.LatticeServer;
import dev.lattice.server.spi.Authorizer;
import java.util.concurrent.TimeUnit;

/** Embeds a server, edits a board through the SDK, and reads it back from the server. */
public final class Board {

  private Board() {}

  /** The server's count of "likes" after one client added {@code likes} and set a title. */
  public static long likesAfter(long likes) throws Exception {
    try (LatticeServer server =
            LatticeServer.builder()
                .bindAddress("127.0.0.1")
                .port(0)
                .inMemory(true)
                .authorizer(Authorizer.byPrincipalRights())
                .build()
                .start();
        LatticeClient client = LatticeClient.builder().serverUri(server.uri()).build()) {
      LatticeDocument board = client.open("board-7");
      board.counter("likes").increment(likes);
      board.register("title").set(Value.of("Modular"));
      board.flush().get(30, TimeUnit.SECONDS);
      return server.document("board-7").orElseThrow().counterValue("likes");
    }
  }
}

package dev.lattice.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Value;
import dev.lattice.server.LatticeServer;
import java.net.URI;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The README's "Using the SDK" example, verbatim between the markers, so it stays true. */
class ReadmeExampleTest {

  @Test
  void readmeExampleRuns() throws Exception {
    try (LatticeServer server =
        LatticeServer.builder().bindAddress("127.0.0.1").port(0).inMemory(true).build().start()) {
      URI serverUri = server.uri();
      // README example start
      try (LatticeClient client = LatticeClient.builder().serverUri(serverUri).build()) {
        LatticeDocument board = client.open("board-42"); // a live local replica
        board.synced().get(10, TimeUnit.SECONDS); // holds what the server had: no polling
        board.onChange(e -> System.out.println(e.fields() + " changed, " + e.origin()));
        board.counter("likes").increment(1); // applied at once, queued for the server
        board.register("title").set(Value.of("Roadmap"));
        long likes = board.counter("likes").value(); // reads are local and immediate
        Optional<String> title =
            board.register("title").asString(); // typed: asLong(), asDouble()...
        board.flush().get(5, TimeUnit.SECONDS); // acknowledged: durable on the server
        // README example end
        assertThat(likes).isEqualTo(1);
        assertThat(title).hasValue("Roadmap");
        assertThat(server.document("board-42").orElseThrow().registerValue("title"))
            .isEqualTo(Optional.of(Value.of("Roadmap")));
      }
    }
  }
}

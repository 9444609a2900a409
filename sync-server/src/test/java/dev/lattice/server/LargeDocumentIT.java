package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.protocol.ProtocolLimits;
import dev.lattice.protocol.Sync;
import dev.lattice.protocol.Update;
import dev.lattice.server.spi.SessionConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Documents larger than one frame: a catch-up (SYNC) or fan-out that does not fit {@code
 * maxFrameBytes} arrives in parts, and the client still converges. The frame limit is set small so
 * a few hundred fields pass it.
 */
class LargeDocumentIT {

  private static final int MAX_FRAME = 4_096;

  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  private LatticeServer server() {
    SessionConfig session =
        SessionConfig.builder()
            .protocolLimits(ProtocolLimits.builder().maxFrameBytes(MAX_FRAME).build())
            .updatesPerSecond(10_000)
            .updateBurst(10_000)
            .build();
    LatticeServer server =
        LatticeServer.builder()
            .bindAddress("127.0.0.1")
            .port(0)
            .inMemory(true)
            .sessionConfig(session)
            .build();
    open.add(server);
    return server.start();
  }

  private RawClient client(LatticeServer server, long replica) throws Exception {
    RawClient c = RawClient.hello(server.uri(), replica, "big");
    open.add(c);
    return c;
  }

  @Test
  void aLateJoinerOfADocumentLargerThanAFrameCatchesUpInParts() throws Exception {
    LatticeServer server = server();
    RawClient alice = client(server, 0xa);
    alice.subscribe();
    for (int i = 0; i < 150; i++) {
      alice.set("note-" + i, Value.of("a note long enough to fill frames quickly, #" + i));
      alice.increment("count-" + (i % 25), 1);
    }

    RawClient bob = client(server, 0xb);
    Sync sync = bob.subscribe();

    assertThat(bob.doc).isEqualTo(alice.doc);
    assertThat(bob.doc.versionVector()).isEqualTo(alice.doc.versionVector());
    assertThat(sync.vector()).isEqualTo(alice.doc.versionVector());
    assertThat(server.document("big").orElseThrow()).isEqualTo(alice.doc);
  }

  @Test
  void aStaleJoinerGetsOnlyWhatItLacksEvenWhenThatIsLargerThanAFrame() throws Exception {
    LatticeServer server = server();
    RawClient alice = client(server, 0xa);
    RawClient bob = client(server, 0xb);
    alice.subscribe();
    bob.subscribe();
    alice.increment("early", 1);
    bob.receive();
    bob.close();
    open.remove(bob);
    for (int i = 0; i < 120; i++) {
      alice.set("late-" + i, Value.of("written while bob was away, entry number " + i));
    }

    RawClient bobAgain = RawClient.hello(server.uri(), 0xb, "big");
    open.add(bobAgain);
    bobAgain.doc.merge(bob.doc.deltaSince(VersionVector.empty()));
    bobAgain.subscribe();

    assertThat(bobAgain.doc).isEqualTo(alice.doc);
  }

  @Test
  void aServerSideFieldNoFrameCanCarryIsRefusedBeforeAnythingChanges() {
    LatticeServer server = server();
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> server.edit("big", e -> e.set("huge", Value.of("x".repeat(MAX_FRAME)))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'huge'");
    assertThat(server.document("big")).isEmpty();
  }

  @Test
  void aServerSideEditLargerThanAFrameReachesSubscribersInParts() throws Exception {
    LatticeServer server = server();
    RawClient alice = client(server, 0xa);
    alice.subscribe();

    server
        .edit(
            "big",
            e -> {
              for (int i = 0; i < 200; i++) {
                e.set("server-" + i, Value.of("set by the server in one edit, entry " + i));
              }
            })
        .get(RawClient.TIMEOUT_SECONDS, TimeUnit.SECONDS);

    // Parts, then the update carrying only the context; the replica converges once all arrived.
    int parts = 0;
    while (!alice.doc.equals(server.document("big").orElseThrow())) {
      Update update = alice.receive();
      parts++;
      assertThat(parts).as("updates needed").isLessThan(100);
      assertThat(update.delta().fields().size()).isLessThan(200);
    }
    assertThat(parts).isGreaterThan(2);
  }
}

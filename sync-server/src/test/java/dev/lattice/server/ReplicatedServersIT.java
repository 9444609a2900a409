package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.protocol.Presence;
import dev.lattice.server.hub.LoopbackBus;
import dev.lattice.server.store.InMemoryDocumentStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two servers over real sockets sharing one store, joined by an in-process bus through {@link
 * LatticeServer.Builder#store} and {@link LatticeServer.Builder#replicator}: the embedding seam
 * that the Redis mode plugs into. Clients on different servers see each other's updates and
 * presence, and a client that moves to the other server loses nothing.
 */
class ReplicatedServersIT {

  private static final String DOC = "board";

  private final InMemoryDocumentStore store = new InMemoryDocumentStore();
  private final LoopbackBus bus = new LoopbackBus();
  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  private LatticeServer start(long replica) {
    LatticeServer server =
        LatticeServer.builder()
            .bindAddress("127.0.0.1")
            .port(0)
            .replicaId(ReplicaId.of(replica))
            .store(store)
            .replicator(bus.replicator())
            .build();
    open.add(server);
    return server.start();
  }

  private RawClient client(LatticeServer server, long replica) throws Exception {
    RawClient c = RawClient.hello(server.uri(), replica, DOC);
    open.add(c);
    return c;
  }

  @Test
  void clientsOnTwoServersSeeEachOthersUpdatesAndPresence() throws Exception {
    LatticeServer one = start(0x51);
    LatticeServer two = start(0x52);
    RawClient alice = client(one, 0xa);
    RawClient bob = client(two, 0xb);
    alice.subscribe();
    bob.subscribe();

    for (int i = 0; i < 20; i++) {
      alice.increment("alice", 1);
      bob.increment("bob", 1);
    }
    alice.catchUpTo(bob.doc.versionVector());
    bob.catchUpTo(alice.doc.versionVector());

    assertThat(alice.doc.counterValue("bob")).isEqualTo(20);
    assertThat(bob.doc.counterValue("alice")).isEqualTo(20);
    assertThat(alice.doc).isEqualTo(bob.doc);

    alice.send(new Presence(DOC, ReplicaId.of(0x999), 10_000, Optional.of(Value.of("typing"))));
    assertThat(bob.take(Presence.class))
        .isEqualTo(new Presence(DOC, alice.replica, 10_000, Optional.of(Value.of("typing"))));
  }

  @Test
  void aClientThatMovesToTheOtherServerLosesNothing() throws Exception {
    LatticeServer one = start(0x51);
    LatticeServer two = start(0x52);
    RawClient alice = client(one, 0xa);
    alice.subscribe();
    for (int i = 0; i < 10; i++) {
      alice.increment("likes", 1);
    }
    VersionVector acked = alice.doc.versionVector();
    alice.close();
    open.remove(alice);

    RawClient again = RawClient.hello(two.uri(), alice.replica, alice.doc.copy());
    open.add(again);
    again.subscribe();
    RawClient fresh = client(two, 0xc);
    fresh.subscribe();

    assertThat(fresh.doc.counterValue("likes")).isEqualTo(10);
    assertThat(fresh.doc.versionVector()).isEqualTo(acked);
    again.increment("likes", 1);
    fresh.catchUpTo(again.doc.versionVector());
    assertThat(fresh.doc.counterValue("likes")).isEqualTo(11);
  }
}

package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.protocol.Ack;
import dev.lattice.protocol.Presence;
import dev.lattice.protocol.Unsubscribe;
import dev.lattice.server.spi.SessionConfig;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Presence over real sockets: set, renewed, lapsed, cleared, ended by unsubscribe and by the
 * connection closing, and replayed to late subscribers. Waits only on messages, with timeouts.
 */
class PresenceIT {

  private static final String DOC = "board";

  private final Closer closer = new Closer();

  @AfterEach
  void closeAll() throws Exception {
    closer.closeAll();
  }

  private LatticeServer server(SessionConfig config) {
    return closer.add(
        LatticeServer.builder()
            .bindAddress("127.0.0.1")
            .port(0)
            .inMemory(true)
            .sessionConfig(config)
            .build()
            .start());
  }

  private LatticeServer server() {
    return server(SessionConfig.defaults());
  }

  private RawClient subscribed(LatticeServer server, long replica) throws Exception {
    RawClient client = closer.add(RawClient.hello(server.uri(), replica, DOC));
    client.subscribe();
    return client;
  }

  private static Value cursor(int at) {
    return Value.map(Map.of(Value.of("cursor"), Value.of(at)));
  }

  /** A PRESENCE as a client sends it: the replica id in it is ignored by the server. */
  private static Presence presence(long ttlMillis, Value value) {
    return new Presence(DOC, ReplicaId.of(0x999), ttlMillis, Optional.ofNullable(value));
  }

  private static void assertPresence(Presence p, RawClient of, long ttlMillis, Value value) {
    assertThat(p).isEqualTo(new Presence(DOC, of.replica, ttlMillis, Optional.of(value)));
  }

  private static void assertLeave(Presence p, RawClient of) {
    assertThat(p).isEqualTo(Presence.leave(DOC, of.replica));
  }

  @Test
  void aPresenceReachesTheOtherSubscribersStampedWithTheSendersReplicaId() throws Exception {
    LatticeServer server = server();
    RawClient alice = subscribed(server, 0xa);
    RawClient bob = subscribed(server, 0xb);
    RawClient carol = subscribed(server, 0xc);

    alice.send(presence(10_000, cursor(5)));

    assertPresence(bob.take(Presence.class), alice, 10_000, cursor(5));
    assertPresence(carol.take(Presence.class), alice, 10_000, cursor(5));
    // The sender gets no echo: its next message is bob's presence.
    bob.send(presence(10_000, cursor(9)));
    assertPresence(alice.take(Presence.class), bob, 10_000, cursor(9));
  }

  @Test
  void aRenewalReplacesTheValueAndTheTtlAndANilValueIsALeave() throws Exception {
    LatticeServer server = server();
    RawClient alice = subscribed(server, 0xa);
    RawClient dave = subscribed(server, 0xd);
    RawClient bob = subscribed(server, 0xb);

    alice.send(presence(1_500, cursor(1)));
    assertPresence(bob.take(Presence.class), alice, 1_500, cursor(1));
    // A witness with the same TTL, set after alice's: its expiry fires after the one alice's
    // first presence would have had, on the same timer and document queue.
    dave.send(presence(1_500, Value.of("dave")));
    assertPresence(bob.take(Presence.class), dave, 1_500, Value.of("dave"));
    alice.send(presence(30_000, cursor(2)));
    assertPresence(bob.take(Presence.class), alice, 30_000, cursor(2));

    // Had the renewal not replaced alice's TTL, her leave would come before dave's.
    assertLeave(bob.take(Presence.class), dave);

    alice.send(presence(30_000, null));
    assertLeave(bob.take(Presence.class), alice);
    // Clearing what is already cleared announces nothing: bob's next message is alice's next value.
    alice.send(presence(30_000, null));
    alice.send(presence(30_000, cursor(3)));
    assertPresence(bob.take(Presence.class), alice, 30_000, cursor(3));
  }

  @Test
  void aPresenceThatIsNotRenewedLapsesAfterTheCappedTtlAndItsLeaveIsAnnounced() throws Exception {
    LatticeServer server =
        server(SessionConfig.builder().presenceTtl(Duration.ofMillis(300)).build());
    RawClient alice = subscribed(server, 0xa);
    RawClient bob = subscribed(server, 0xb);

    alice.send(presence(60_000, cursor(1)));

    assertPresence(bob.take(Presence.class), alice, 300, cursor(1));
    assertLeave(bob.take(Presence.class), alice);
  }

  @Test
  void closingTheConnectionAnnouncesTheLeave() throws Exception {
    LatticeServer server = server();
    RawClient alice = subscribed(server, 0xa);
    RawClient bob = subscribed(server, 0xb);
    alice.send(presence(30_000, cursor(1)));
    assertPresence(bob.take(Presence.class), alice, 30_000, cursor(1));

    alice.close();

    assertLeave(bob.take(Presence.class), alice);
  }

  @Test
  void unsubscribingAnnouncesTheLeave() throws Exception {
    LatticeServer server = server();
    RawClient alice = subscribed(server, 0xa);
    RawClient bob = subscribed(server, 0xb);
    alice.send(presence(30_000, cursor(1)));
    assertPresence(bob.take(Presence.class), alice, 30_000, cursor(1));

    alice.send(new Unsubscribe(alice.takeRequestId(), DOC));

    assertThat(alice.take(Ack.class).documentId()).isEqualTo(DOC);
    assertLeave(bob.take(Presence.class), alice);
  }

  @Test
  void aLateSubscriberReceivesTheLivePresencesWithTheirRemainingTtl() throws Exception {
    LatticeServer server = server();
    RawClient alice = subscribed(server, 0xa);
    RawClient bob = subscribed(server, 0xb);
    RawClient watcher = subscribed(server, 0xe);
    alice.send(presence(20_000, cursor(1)));
    bob.send(presence(30_000, Value.of("bob")));
    // Both are live once the watcher has seen them.
    watcher.take(Presence.class);
    watcher.take(Presence.class);

    RawClient carol = subscribed(server, 0xc); // PRESENCEs may come before or after the SYNC

    List<Presence> live = List.of(carol.take(Presence.class), carol.take(Presence.class));
    assertThat(live)
        .extracting(Presence::replicaId)
        .containsExactlyInAnyOrder(alice.replica, bob.replica);
    for (Presence p : live) {
      boolean fromAlice = p.replicaId().equals(alice.replica);
      assertThat(p.value()).contains(fromAlice ? cursor(1) : Value.of("bob"));
      assertThat(p.ttlMillis()).isBetween(1L, fromAlice ? 20_000L : 30_000L);
    }
  }
}

package dev.lattice.server.session;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.Ack;
import dev.lattice.protocol.Hello;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.protocol.Subscribe;
import dev.lattice.protocol.Sync;
import dev.lattice.protocol.Update;
import dev.lattice.protocol.Welcome;
import dev.lattice.server.hub.DefaultHub;
import dev.lattice.server.hub.HubConfig;
import dev.lattice.server.hub.HubScheduler;
import dev.lattice.server.store.InMemoryDocumentStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The real session over the real hub and store, without a network: what a client sees when it
 * speaks the protocol to the server's logic. Runs the hub on the calling thread so every exchange
 * is deterministic.
 */
class SessionHubIntegrationTest {

  private static final ReplicaId SERVER = ReplicaId.of(0x5e);
  private static final MessageCodec CODEC = MessageCodec.defaults();

  private final ManualTime time = new ManualTime();
  private final HybridLogicalClock clock =
      new HybridLogicalClock(
          () -> 1_700_000_000_000L + time.getAsLong() / 1_000_000, Duration.ofSeconds(60));
  private final InMemoryDocumentStore store = new InMemoryDocumentStore();
  private final DefaultHub hub =
      new DefaultHub(
          HubConfig.builder(store, SERVER)
              .executor(Runnable::run)
              .scheduler(
                  new HubScheduler() {
                    @Override
                    public Cancellable schedule(Runnable task, Duration delay) {
                      return () -> {};
                    }

                    @Override
                    public long nanoTime() {
                      return time.getAsLong();
                    }
                  })
              .clock(clock)
              .build());
  private final SessionFactory sessions =
      SessionFactory.builder()
          .hub(hub)
          .clock(clock)
          .serverId(SERVER)
          .nanoTime(time)
          .scheduler(time)
          .build();

  /** A test client: a local replica speaking raw protocol messages through one session. */
  private final class Client {
    final ReplicaId replica;
    final Document doc = Document.create("board");
    final RecordingTransport transport = new RecordingTransport();
    final ServerSession session = sessions.open(transport);
    final List<Message> inbox = new ArrayList<>();
    long nextRequest = 1;

    Client(long replica) {
      this.replica = ReplicaId.of(replica);
      send(Hello.of(this.replica, null, "it"));
      assertThat(take(Welcome.class)).isNotNull();
    }

    void send(Message message) {
      session.onFrame(CODEC.encode(message));
    }

    /** Removes and returns the first message of {@code type} received so far. */
    <T extends Message> T take(Class<T> type) {
      inbox.addAll(transport.drain());
      for (int i = 0; i < inbox.size(); i++) {
        if (type.isInstance(inbox.get(i))) {
          return type.cast(inbox.remove(i));
        }
      }
      throw new AssertionError("no " + type.getSimpleName() + " among " + inbox);
    }

    Sync subscribe() {
      send(new Subscribe(nextRequest++, "board", doc.versionVector()));
      Sync sync = take(Sync.class);
      doc.merge(sync.delta());
      return sync;
    }

    Ack increment(String field, long amount) {
      send(Update.request(nextRequest++, "board", doc.incrementGCounter(replica, field, amount)));
      return take(Ack.class);
    }

    Ack setTitle(String title) {
      send(
          Update.request(
              nextRequest++,
              "board",
              doc.setRegister(replica, "title", Value.of(title), clock.now())));
      return take(Ack.class);
    }

    /** Merges every fan-out received so far and returns them. */
    List<Update> receive() {
      inbox.addAll(transport.drain());
      List<Update> updates =
          inbox.stream().filter(Update.class::isInstance).map(Update.class::cast).toList();
      inbox.removeAll(updates);
      updates.forEach(u -> doc.merge(u.delta()));
      return updates;
    }
  }

  @AfterEach
  void closeHub() {
    hub.close();
  }

  @Test
  void twoClientsConvergeThroughTheServer() {
    Client alice = new Client(0xa);
    Client bob = new Client(0xb);
    alice.subscribe();
    bob.subscribe();

    assertThat(alice.increment("likes", 2)).isEqualTo(new Ack(2, "board"));
    assertThat(bob.increment("likes", 5)).isEqualTo(new Ack(2, "board"));
    assertThat(bob.setTitle("Roadmap")).isEqualTo(new Ack(3, "board"));

    assertThat(alice.receive()).hasSize(2).allMatch(u -> u.requestId().isEmpty());
    assertThat(bob.receive()).hasSize(1);
    assertThat(alice.doc.counterValue("likes")).isEqualTo(7);
    assertThat(alice.doc.registerValue("title")).contains(Value.of("Roadmap"));
    assertThat(alice.doc).isEqualTo(bob.doc);
  }

  @Test
  void aRoundIsEncodedOnceAndEverySubscriberGetsTheSameFrame() {
    Client alice = new Client(0xa);
    Client bob = new Client(0xb);
    Client carol = new Client(0xc);
    alice.subscribe();
    bob.subscribe();
    carol.subscribe();

    alice.increment("likes", 1);

    byte[] toBob = bob.transport.frames.get(bob.transport.frames.size() - 1);
    byte[] toCarol = carol.transport.frames.get(carol.transport.frames.size() - 1);
    assertThat(toCarol).isSameAs(toBob);
    assertThat(CODEC.decode(toBob)).isInstanceOf(Update.class);
    assertThat(bob.receive()).hasSize(1);
    assertThat(carol.receive()).hasSize(1);
    assertThat(bob.doc.counterValue("likes")).isEqualTo(1);
    assertThat(alice.receive()).isEmpty();
  }

  @Test
  void everyAcknowledgedUpdateIsInTheStoreAndALateJoinerCatchesUpInOneSync() {
    Client alice = new Client(0xa);
    alice.subscribe();
    for (int i = 0; i < 10; i++) {
      alice.increment("likes", 1);
    }

    Document stored = store.load("board").orElseThrow();
    assertThat(stored.counterValue("likes")).isEqualTo(10);

    Client carol = new Client(0xc);
    Sync sync = carol.subscribe();
    assertThat(sync.vector()).isEqualTo(alice.doc.versionVector());
    assertThat(carol.doc).isEqualTo(alice.doc);
  }

  @Test
  void staleReplicaGetsOnlyWhatItLacksAndHandsTheServerWhatItLacks() {
    Client alice = new Client(0xa);
    alice.subscribe();
    alice.increment("likes", 3);

    // Bob was offline: he holds an old edit of his own the server never saw.
    Client bob = new Client(0xb);
    bob.doc.incrementGCounter(bob.replica, "likes", 4);
    Sync sync = bob.subscribe();
    assertThat(sync.delta().context().versionVector())
        .isEqualTo(VersionVector.of(Map.of(alice.replica, 1L)));

    // Bob sends what the server's vector lacks; the server then holds both.
    long request = bob.nextRequest++;
    bob.send(Update.request(request, "board", bob.doc.deltaSince(sync.vector())));
    assertThat(bob.take(Ack.class)).isEqualTo(new Ack(request, "board"));
    alice.receive();

    assertThat(alice.doc.counterValue("likes")).isEqualTo(7);
    assertThat(alice.doc).isEqualTo(bob.doc);
    assertThat(store.load("board").orElseThrow().counterValue("likes")).isEqualTo(7);
  }

  @Test
  void aResentDuplicateIsAckedAndChangesNothing() {
    Client alice = new Client(0xa);
    Client bob = new Client(0xb);
    alice.subscribe();
    bob.subscribe();
    var delta = alice.doc.incrementGCounter(alice.replica, "likes", 1);
    alice.send(Update.request(10, "board", delta));
    alice.send(Update.request(11, "board", delta));

    assertThat(alice.take(Ack.class)).isEqualTo(new Ack(10, "board"));
    assertThat(alice.take(Ack.class)).isEqualTo(new Ack(11, "board"));
    assertThat(bob.receive()).hasSize(1);
    assertThat(bob.doc.counterValue("likes")).isEqualTo(1);
  }
}

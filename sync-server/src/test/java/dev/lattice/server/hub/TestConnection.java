package dev.lattice.server.hub;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.Presence;
import dev.lattice.protocol.Update;
import dev.lattice.server.spi.Principal;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/** A connection that records what the hub sends it. Thread-safe. */
final class TestConnection implements Connection {

  private final String id;
  private final ReplicaId replica;
  private final List<Message> received = new ArrayList<>();
  private volatile CountDownLatch updateLatch = new CountDownLatch(0);

  private final Principal principal;

  TestConnection(String id, long replica) {
    this(id, replica, null);
  }

  TestConnection(String id, long replica, Principal principal) {
    this.id = id;
    this.replica = ReplicaId.of(replica);
    this.principal = principal;
  }

  @Override
  public Principal principal() {
    return principal;
  }

  /** Counts down on every fan-out update received from now on. */
  void expectUpdates(int count) {
    updateLatch = new CountDownLatch(count);
  }

  CountDownLatch updateLatch() {
    return updateLatch;
  }

  @Override
  public String id() {
    return id;
  }

  @Override
  public ReplicaId replicaId() {
    return replica;
  }

  @Override
  public void send(Message message) {
    synchronized (received) {
      received.add(message);
    }
    if (message instanceof Update) {
      updateLatch.countDown();
    }
  }

  List<Message> received() {
    synchronized (received) {
      return List.copyOf(received);
    }
  }

  List<Update> updates() {
    return received().stream().filter(Update.class::isInstance).map(Update.class::cast).toList();
  }

  List<Presence> presences() {
    return received().stream()
        .filter(Presence.class::isInstance)
        .map(Presence.class::cast)
        .toList();
  }

  @Override
  public String toString() {
    return "TestConnection[" + id + "]";
  }
}

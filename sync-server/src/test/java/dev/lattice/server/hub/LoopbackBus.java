package dev.lattice.server.hub;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.protocol.Presence;
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.ReplicationSink;
import dev.lattice.server.spi.Replicator;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;

/**
 * An in-process bus joining several hubs the way Redis pub/sub joins server processes: each hub
 * gets a {@link Replicator} from {@link #replicator()}; an announcement reaches every other
 * replicator that follows the document, unless the test drops it ({@link #dropDeltas}) or holds it
 * to deliver later, out of order ({@link #holdDeltas}). Deliveries run on the announcing thread.
 *
 * <p>Thread-safe.
 */
public final class LoopbackBus {

  /** One announcement in flight. */
  public record Message(Node from, String documentId, DocumentDelta delta, Appended appended) {}

  private final List<Node> nodes = new java.util.concurrent.CopyOnWriteArrayList<>();
  private volatile Predicate<Message> drop = m -> false;
  private volatile boolean holding;
  private final List<Message> held = new ArrayList<>();

  public Node replicator() {
    Node n = new Node();
    nodes.add(n);
    return n;
  }

  /** From now on, deltas matching {@code drop} are lost. */
  public void dropDeltas(Predicate<Message> drop) {
    this.drop = drop;
  }

  /** Keeps every delta until {@link #releaseHeld} instead of delivering it. */
  void holdDeltas() {
    holding = true;
  }

  /** Delivers the held deltas, newest first, and stops holding. */
  void releaseHeldNewestFirst() {
    List<Message> out;
    synchronized (held) {
      holding = false;
      out = new ArrayList<>(held);
      held.clear();
    }
    for (int i = out.size() - 1; i >= 0; i--) {
      deliver(out.get(i));
    }
  }

  private void deliver(Message m) {
    for (Node n : nodes) {
      if (n != m.from && n.following.contains(m.documentId) && n.sink != null) {
        n.sink.deliver(m.documentId, m.delta, m.appended);
      }
    }
  }

  /** A replicator on this bus. */
  public final class Node implements Replicator {
    volatile ReplicationSink sink;
    final Set<String> following = ConcurrentHashMap.newKeySet();
    final List<Message> announced = new java.util.concurrent.CopyOnWriteArrayList<>();
    volatile CompletableFuture<Void> nextFollow;

    ReplicationSink sink() {
      return sink;
    }

    /** The next {@link #follow} completes only when the test completes {@code gate}. */
    void holdNextFollow(CompletableFuture<Void> gate) {
      nextFollow = gate;
    }

    @Override
    public void start(ReplicationSink sink) {
      this.sink = sink;
    }

    @Override
    public CompletableFuture<Void> follow(String documentId) {
      following.add(documentId);
      CompletableFuture<Void> gate = nextFollow;
      nextFollow = null;
      return gate != null ? gate : CompletableFuture.completedFuture(null);
    }

    @Override
    public void unfollow(String documentId) {
      following.remove(documentId);
    }

    @Override
    public void announce(String documentId, DocumentDelta delta, Appended appended) {
      Message m = new Message(this, documentId, delta, appended);
      announced.add(m);
      if (drop.test(m)) {
        return;
      }
      synchronized (held) {
        if (holding) {
          held.add(m);
          return;
        }
      }
      deliver(m);
    }

    @Override
    public void announcePresence(Presence presence) {
      for (Node n : nodes) {
        if (n != this && n.following.contains(presence.documentId()) && n.sink != null) {
          n.sink.presence(presence);
        }
      }
    }

    @Override
    public void close() {
      following.clear();
    }
  }
}

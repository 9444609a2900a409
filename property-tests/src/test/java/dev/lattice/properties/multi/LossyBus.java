package dev.lattice.properties.multi;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.protocol.Presence;
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.ReplicationSink;
import dev.lattice.server.spi.Replicator;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Pub/sub between the servers of a {@link MultiServerSimulation}, worse than Redis: an announcement
 * reaches the servers subscribed to its document when it is published, each copy on its own, so
 * copies are delayed, reordered, dropped and duplicated as the schedule says. Each server's {@link
 * Node} is its {@link Replicator}: a follow takes effect (and its future completes) only when the
 * schedule delivers the subscription's reply; a reconnect loses what was in flight to the node and
 * reports every followed document as possibly missed; the head check reports the store's head of
 * every followed document, {@link dev.lattice.server.spi.StoreCursor#ORIGIN} when Redis lost it, as
 * {@code RedisReplicator}'s does.
 *
 * <p>Not thread-safe: the simulation is single-threaded.
 */
final class LossyBus {

  /** One copy of an announcement on its way to one node. */
  record Copy(Node to, String documentId, DocumentDelta delta, Appended appended) {}

  /** A subscription whose reply has not arrived. */
  record PendingFollow(Node node, String documentId, CompletableFuture<Void> future) {}

  private final Random random;
  private final List<Node> nodes = new ArrayList<>();
  private final List<Copy> inFlight = new ArrayList<>();
  private final List<PendingFollow> follows = new ArrayList<>();
  double dropRate;
  double duplicateRate;
  double followFailureRate;
  int announced;
  int copies;
  int dropped;
  int duplicated;

  LossyBus(Random random) {
    this.random = random;
  }

  Node node(String name) {
    Node n = new Node(name);
    nodes.add(n);
    return n;
  }

  boolean hasCopies() {
    return !inFlight.isEmpty();
  }

  boolean hasFollows() {
    return !follows.isEmpty();
  }

  int inFlight() {
    return inFlight.size() + follows.size();
  }

  /** Delivers one copy in flight, picked at random (so out of order). */
  String deliverOne() {
    Copy c = inFlight.remove(random.nextInt(inFlight.size()));
    Node to = c.to;
    if (to.closed || !to.followed.contains(c.documentId) || to.sink == null) {
      return "bus: copy to " + to + " of " + c.documentId + " at " + c.appended + " unheard";
    }
    to.sink.deliver(c.documentId, c.delta, c.appended);
    return "bus: " + to + " gets " + c.documentId + " " + c.appended;
  }

  /** Answers one pending subscription, picked at random; it may fail. */
  String answerOneFollow() {
    PendingFollow f = follows.remove(random.nextInt(follows.size()));
    if (f.node.closed) {
      return "bus: follow of " + f.documentId + " by dead " + f.node;
    }
    if (random.nextDouble() < followFailureRate) {
      f.future.completeExceptionally(new IllegalStateException("subscribe timed out"));
      return "bus: " + f.node + " follow " + f.documentId + " failed";
    }
    if (f.node.followed.contains(f.documentId)) {
      f.node.subscribed.add(f.documentId);
    }
    f.future.complete(null);
    return "bus: " + f.node + " follows " + f.documentId;
  }

  /** One server process's replicator. */
  final class Node implements Replicator {
    private final String name;
    private ReplicationSink sink;

    /** What the hub follows. */
    final Set<String> followed = new LinkedHashSet<>();

    /** What Redis sends to this node: followed, and the subscription's reply arrived. */
    final Set<String> subscribed = new LinkedHashSet<>();

    boolean closed;

    private Node(String name) {
      this.name = name;
    }

    @Override
    public void start(ReplicationSink sink) {
      this.sink = sink;
    }

    @Override
    public CompletableFuture<Void> follow(String documentId) {
      CompletableFuture<Void> f = new CompletableFuture<>();
      if (closed) {
        return f;
      }
      followed.add(documentId);
      follows.add(new PendingFollow(this, documentId, f));
      return f;
    }

    @Override
    public void unfollow(String documentId) {
      followed.remove(documentId);
      subscribed.remove(documentId);
    }

    @Override
    public void announce(String documentId, DocumentDelta delta, Appended appended) {
      if (closed) {
        return;
      }
      announced++;
      for (Node to : nodes) {
        if (to == this || to.closed || !to.subscribed.contains(documentId)) {
          continue;
        }
        if (random.nextDouble() < dropRate) {
          dropped++;
          continue;
        }
        inFlight.add(new Copy(to, documentId, delta, appended));
        copies++;
        if (random.nextDouble() < duplicateRate) {
          duplicated++;
          inFlight.add(new Copy(to, documentId, delta, appended));
        }
      }
    }

    @Override
    public void announcePresence(Presence presence) {}

    /** The subscription connection dropped and came back: what was in flight to it is gone. */
    int reconnect() {
      int lost = 0;
      for (int i = inFlight.size() - 1; i >= 0; i--) {
        if (inFlight.get(i).to == this) {
          inFlight.remove(i);
          lost++;
        }
      }
      for (String documentId : List.copyOf(followed)) {
        sink.mayHaveMissed(documentId);
      }
      return lost;
    }

    /** The periodic head check: the store's head of every followed document. */
    void checkHeads(RedisModel redis) {
      if (closed) {
        return;
      }
      for (String documentId : List.copyOf(followed)) {
        sink.head(documentId, redis.head(documentId));
      }
    }

    @Override
    public void close() {
      closed = true;
      followed.clear();
      subscribed.clear();
    }

    @Override
    public String toString() {
      return name;
    }
  }
}

package dev.lattice.server.spi;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.protocol.Presence;
import java.util.concurrent.CompletableFuture;

/**
 * The hub's port to other server processes that serve the same documents from the same store: it
 * announces what this hub made durable and brings in what the others did.
 *
 * <p>The hub calls it, per document, from that document's serial executor: {@link #follow} when the
 * document becomes live here (before it is loaded, so nothing announced after the load is missed),
 * {@link #announce} once per durable round, with where the store put it, {@link #unfollow} when the
 * document leaves memory. The replicator calls back into the {@link ReplicationSink} it was {@link
 * #start started} with, from any thread: remote deltas, remote presence, and warnings that
 * something may have been lost.
 *
 * <p>A replicator may lose, duplicate, delay and reorder messages (Redis pub/sub does all of these
 * but reorder). The hub stays correct because the store is the truth: every announced delta carries
 * its position and the one before it, the hub chains them, and a break in the chain that does not
 * heal within {@code HubConfig.repairDelay()} makes it read what it missed from the store. What the
 * chain cannot show (the very last message lost, and nothing after it) the replicator reports
 * through {@link ReplicationSink#head} from a periodic check, and a reconnect through {@link
 * ReplicationSink#mayHaveMissed}.
 *
 * <p>{@link #none()} is single-process mode: it does nothing, and the hub then runs exactly as it
 * would without this port. Implementations are thread-safe.
 */
public interface Replicator extends AutoCloseable {

  /** Called once, by the hub's constructor, before any other method. */
  void start(ReplicationSink sink);

  /**
   * Starts receiving the document's remote deltas and presence.
   *
   * @return a future that completes once announcements made from now on will be delivered (the
   *     subscription is in place); the hub loads the document after that. A failed future fails the
   *     subscribe that needed the document.
   */
  CompletableFuture<Void> follow(String documentId);

  /** Stops receiving the document; nothing of it is delivered after a later {@link #follow}. */
  void unfollow(String documentId);

  /**
   * Tells the other processes that the document's {@code delta} is durable at {@code appended}.
   * Called once per round, in the order of the rounds' appends. Best effort: a lost announcement is
   * repaired by the receivers.
   */
  void announce(String documentId, DocumentDelta delta, Appended appended);

  /**
   * Tells the other processes a presence of a subscriber here changed; {@link Presence#ttlMillis}
   * says how long it lives without renewal ({@code leave} ends it).
   */
  void announcePresence(Presence presence);

  /** Releases connections; the hub is shut down or shutting down. */
  @Override
  void close();

  /** A replicator that replicates nothing: one server process. */
  static Replicator none() {
    return NoReplicator.INSTANCE;
  }

  /** The replicator of {@link #none()}. */
  enum NoReplicator implements Replicator {
    INSTANCE;

    private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);

    @Override
    public void start(ReplicationSink sink) {}

    @Override
    public CompletableFuture<Void> follow(String documentId) {
      return DONE;
    }

    @Override
    public void unfollow(String documentId) {}

    @Override
    public void announce(String documentId, DocumentDelta delta, Appended appended) {}

    @Override
    public void announcePresence(Presence presence) {}

    @Override
    public void close() {}
  }
}

package dev.lattice.server.hub;

import dev.lattice.server.spi.StoredDocument;
import java.util.Optional;

/**
 * Keeps documents nobody subscribes to any more, so that the next subscriber does not reload them
 * from the store. The hub holds every subscribed document itself (its subscribers need it live); it
 * hands a document to the cache when the last subscriber leaves and nothing is in flight, and takes
 * it back out before loading from the store. The cache may drop a document whenever it likes: the
 * store has everything it holds, so a dropped document is only reloaded.
 *
 * <p>The hub gives a document to the cache only when the store holds all of it (no append pending
 * and none failed), and owns a document it took exclusively: the cache must forget it on {@link
 * #take}. Implementations are thread-safe.
 */
public interface DocumentCache {

  /**
   * Removes and returns the cached document, with the store position it reflects, if the cache has
   * it. When other processes write the same store the hub reads what they appended after that
   * position before it serves the document, so a cached document is never served stale.
   */
  Optional<StoredDocument> take(String documentId);

  /** Offers an idle document, which the store holds entirely; the cache may keep or drop it. */
  void put(StoredDocument document);

  /** A cache that keeps nothing: every subscribe of an idle document loads it from the store. */
  static DocumentCache none() {
    return NoCache.INSTANCE;
  }

  /** The cache of {@link #none()}. */
  enum NoCache implements DocumentCache {
    INSTANCE;

    @Override
    public Optional<StoredDocument> take(String documentId) {
      return Optional.empty();
    }

    @Override
    public void put(StoredDocument document) {}
  }
}

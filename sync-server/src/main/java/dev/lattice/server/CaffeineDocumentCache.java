package dev.lattice.server;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.FieldState;
import dev.lattice.server.hub.DocumentCache;
import dev.lattice.server.spi.StoredDocument;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The hub's {@link DocumentCache} on Caffeine: idle documents bounded by their approximate heap
 * size, evicted by Caffeine's size policy (W-TinyLFU), so documents that are opened again and again
 * stay while one-off reads pass through.
 *
 * <p>Thread-safe.
 */
final class CaffeineDocumentCache implements DocumentCache {

  private final Cache<String, StoredDocument> cache;

  CaffeineDocumentCache(long maxBytes) {
    if (maxBytes < 0) {
      throw new IllegalArgumentException("cache size must not be negative, was " + maxBytes);
    }
    this.cache =
        Caffeine.newBuilder()
            .maximumWeight(maxBytes)
            .weigher((String id, StoredDocument stored) -> weigh(stored.document()))
            .recordStats()
            .build();
  }

  /** The Caffeine cache, for its statistics in metrics. */
  Cache<String, StoredDocument> caffeine() {
    return cache;
  }

  @Override
  public Optional<StoredDocument> take(String documentId) {
    return Optional.ofNullable(cache.asMap().remove(documentId));
  }

  @Override
  public void put(StoredDocument document) {
    Objects.requireNonNull(document, "document");
    cache.put(document.document().id(), document);
  }

  /**
   * Approximate heap bytes of a document, in int range as Caffeine wants. Counts the structures
   * that grow (fields, per-replica entries, register values) with rough per-item constants for
   * object headers, references and map nodes on a 64-bit JVM with compressed pointers: an estimate
   * for bounding the cache, not a measurement. Walks the fields once, when the document goes idle,
   * not on every access.
   */
  static int weigh(Document doc) {
    long bytes = 256 + 2L * doc.id().length();
    for (Map.Entry<String, FieldState> e : doc.fields().entrySet()) {
      FieldState field = e.getValue();
      bytes += 160 + 2L * e.getKey().length() + 16L * field.touched().size();
      bytes += field.type().kind().weighAny(field.state());
    }
    return (int) Math.min(Integer.MAX_VALUE, bytes);
  }
}

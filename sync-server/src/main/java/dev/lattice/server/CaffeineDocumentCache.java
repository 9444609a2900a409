package dev.lattice.server;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.LWWRegister;
import dev.lattice.crdt.PNCounter;
import dev.lattice.crdt.Value;
import dev.lattice.server.hub.DocumentCache;
import dev.lattice.server.store.StoredDocument;
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
      if (field.state() instanceof GCounter g) {
        bytes += 16L * g.replicaCount();
      } else if (field.state() instanceof PNCounter pn) {
        bytes += 48 + 16L * (pn.increments().replicaCount() + pn.decrements().replicaCount());
      } else if (field.state() instanceof LWWRegister r) {
        bytes += 48 + r.value().map(CaffeineDocumentCache::weigh).orElse(0L);
      }
    }
    return (int) Math.min(Integer.MAX_VALUE, bytes);
  }

  private static long weigh(Value value) {
    if (value instanceof Value.StringValue s) {
      return 48 + 2L * s.value().length();
    } else if (value instanceof Value.BinaryValue b) {
      return 32 + b.length();
    } else if (value instanceof Value.ArrayValue a) {
      return 32 + a.elements().stream().mapToLong(CaffeineDocumentCache::weigh).sum();
    } else if (value instanceof Value.MapValue m) {
      return 48
          + m.entries().entrySet().stream()
              .mapToLong(x -> 32 + weigh(x.getKey()) + weigh(x.getValue()))
              .sum();
    }
    return 24;
  }
}

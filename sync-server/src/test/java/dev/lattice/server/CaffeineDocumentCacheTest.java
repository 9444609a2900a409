package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.server.spi.StoreCursor;
import dev.lattice.server.spi.StoredDocument;
import org.junit.jupiter.api.Test;

class CaffeineDocumentCacheTest {

  private static Document documentWithFields(String id, int fields) {
    Document doc = Document.create(id);
    for (int i = 0; i < fields; i++) {
      doc.incrementGCounter(ReplicaId.of(1), "f" + i, 1);
    }
    return doc;
  }

  @Test
  void takeHandsTheDocumentOverExactlyOnce() {
    CaffeineDocumentCache cache = new CaffeineDocumentCache(1 << 20);
    Document doc = documentWithFields("a", 3);
    cache.put(stored(doc));

    assertThat(cache.take("a").map(StoredDocument::document)).containsSame(doc);
    assertThat(cache.take("a")).isEmpty();
    assertThat(cache.take("never")).isEmpty();
  }

  @Test
  void weightGrowsWithFieldsReplicasAndValues() {
    Document small = documentWithFields("a", 1);
    Document large = documentWithFields("a", 100);
    assertThat(CaffeineDocumentCache.weigh(large))
        .isGreaterThan(50 * CaffeineDocumentCache.weigh(small) / 2);

    Document shortTitle = Document.create("t");
    shortTitle.setRegister(ReplicaId.of(1), "title", Value.of("x"), HlcTimestamp.of(1, 0));
    Document longTitle = Document.create("t");
    longTitle.setRegister(
        ReplicaId.of(1), "title", Value.of("x".repeat(10_000)), HlcTimestamp.of(1, 0));
    assertThat(CaffeineDocumentCache.weigh(longTitle) - CaffeineDocumentCache.weigh(shortTitle))
        .isGreaterThanOrEqualTo(2 * 9_999);
  }

  @Test
  void staysWithinItsWeightBoundByEvicting() {
    Document one = documentWithFields("one", 100);
    int weight = CaffeineDocumentCache.weigh(one);
    CaffeineDocumentCache cache = new CaffeineDocumentCache(3L * weight);
    for (int i = 0; i < 20; i++) {
      cache.put(stored(documentWithFields("d" + i, 100)));
    }
    cache.caffeine().cleanUp();

    assertThat(cache.caffeine().policy().eviction().orElseThrow().weightedSize().getAsLong())
        .isLessThanOrEqualTo(3L * weight);
    assertThat(cache.caffeine().estimatedSize()).isBetween(1L, 3L);
  }

  @Test
  void aZeroBoundKeepsNothing() {
    CaffeineDocumentCache cache = new CaffeineDocumentCache(0);
    cache.put(stored(documentWithFields("a", 1)));
    cache.caffeine().cleanUp();
    assertThat(cache.take("a")).isEmpty();
    assertThatThrownBy(() -> new CaffeineDocumentCache(-1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  private static StoredDocument stored(Document doc) {
    return new StoredDocument(doc, StoreCursor.ORIGIN);
  }
}

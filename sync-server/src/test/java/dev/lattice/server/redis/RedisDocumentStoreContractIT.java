package dev.lattice.server.redis;

import dev.lattice.server.store.DocumentStore;
import dev.lattice.server.store.DocumentStoreContractTest;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The {@link DocumentStore} contract against a real redis-server. One server for the class; each
 * test gets its own key prefix, so tests see nothing of each other.
 */
class RedisDocumentStoreContractIT extends DocumentStoreContractTest {

  private static final AtomicInteger TESTS = new AtomicInteger();
  private static RedisServerProcess redis;

  @BeforeAll
  static void startRedis() {
    redis = RedisServerProcess.startDefault();
  }

  @AfterAll
  static void stopRedis() {
    if (redis != null) {
      redis.close();
    }
  }

  @Override
  protected DocumentStore open(Path dir) {
    return RedisDocumentStore.open(
        RedisStoreConfig.builder(redis.uri())
            .keyPrefix("contract" + TESTS.incrementAndGet())
            .compactionThreshold(0)
            .build());
  }
}

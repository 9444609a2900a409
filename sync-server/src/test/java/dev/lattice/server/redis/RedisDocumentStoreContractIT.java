package dev.lattice.server.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.server.spi.DocumentStore;
import dev.lattice.server.store.DocumentStoreContractTest;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

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

  private String prefix;

  @Override
  protected DocumentStore open(Path dir) {
    prefix = "contract" + TESTS.incrementAndGet();
    return RedisDocumentStore.open(
        RedisStoreConfig.builder(redis.uri()).keyPrefix(prefix).compactionThreshold(0).build());
  }

  @Test
  void replicaOwnersAreSharedByEveryStoreOfThePrefix() throws Exception {
    ReplicaId replica = ReplicaId.of(0x4444L);
    assertThat(store.claimReplica(replica, "alice").get(10, TimeUnit.SECONDS)).isEqualTo("alice");
    try (RedisDocumentStore other =
        RedisDocumentStore.open(
            RedisStoreConfig.builder(redis.uri())
                .keyPrefix(prefix)
                .compactionThreshold(0)
                .build())) {
      assertThat(other.claimReplica(replica, "mallory").get(10, TimeUnit.SECONDS))
          .isEqualTo("alice");
    }
  }
}

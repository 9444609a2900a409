package dev.lattice.server.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class RedisStoreConfigTest {

  @Test
  void defaults() {
    RedisStoreConfig c = RedisStoreConfig.builder("redis://127.0.0.1:7000").build();
    assertThat(c.uris()).containsExactly("redis://127.0.0.1:7000");
    assertThat(c.isCluster()).isFalse();
    assertThat(c.keyPrefix()).isEqualTo(RedisKeys.DEFAULT_PREFIX);
    assertThat(c.commandTimeout()).isEqualTo(Duration.ofSeconds(2));
    assertThat(c.waitReplicas()).isZero();
    assertThat(c.waitTimeout()).isEqualTo(Duration.ZERO);
    assertThat(c.compactionThreshold()).isEqualTo(1000);
  }

  @Test
  void clusterTakesSeedsAndEverySetting() {
    RedisStoreConfig c =
        RedisStoreConfig.cluster(List.of("redis://a:1", "redis://b:2"))
            .keyPrefix("app")
            .commandTimeout(Duration.ofMillis(500))
            .waitReplicas(1, Duration.ofMillis(200))
            .compactionThreshold(0)
            .build();
    assertThat(c.isCluster()).isTrue();
    assertThat(c.uris()).containsExactly("redis://a:1", "redis://b:2");
    assertThat(c.keyPrefix()).isEqualTo("app");
    assertThat(c.commandTimeout()).isEqualTo(Duration.ofMillis(500));
    assertThat(c.waitReplicas()).isEqualTo(1);
    assertThat(c.waitTimeout()).isEqualTo(Duration.ofMillis(200));
    assertThat(c.compactionThreshold()).isZero();
  }

  @Test
  void badValuesFailFastNamingThem() {
    RedisStoreConfig.Builder b = RedisStoreConfig.builder("redis://x:1");
    assertThatThrownBy(() -> RedisStoreConfig.cluster(List.of()))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> b.keyPrefix("a{b")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> b.commandTimeout(Duration.ofMillis(1)))
        .hasMessageContaining("commandTimeout");
    assertThatThrownBy(() -> b.waitReplicas(-1, Duration.ofSeconds(1))).hasMessageContaining("-1");
    // WAIT with timeout 0 blocks forever: refused.
    assertThatThrownBy(() -> b.waitReplicas(1, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> b.compactionThreshold(-5)).hasMessageContaining("-5");
    assertThat(b.waitReplicas(0, null).build().waitTimeout()).isEqualTo(Duration.ZERO);
  }

  @Test
  void toStringNeverShowsAPassword() {
    RedisStoreConfig single = RedisStoreConfig.builder("redis://admin:hunter2@db:6379/0").build();
    RedisStoreConfig cluster =
        RedisStoreConfig.cluster(List.of("rediss://:hunter2@a:1", "redis://b:2")).build();

    assertThat(single.toString()).doesNotContain("hunter2").contains("redis://admin:***@db:6379/0");
    assertThat(cluster.toString()).doesNotContain("hunter2").contains("redis://b:2");
    // The settings themselves keep the URI whole: the client needs the password.
    assertThat(single.uris()).containsExactly("redis://admin:hunter2@db:6379/0");
  }
}

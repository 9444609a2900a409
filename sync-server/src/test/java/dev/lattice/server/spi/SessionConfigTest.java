package dev.lattice.server.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.protocol.ProtocolLimits;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class SessionConfigTest {

  @Test
  void advertisesItsLimitsByProtocolName() {
    SessionConfig config =
        SessionConfig.builder()
            .maxDocumentsPerConnection(7)
            .updatesPerSecond(5)
            .updateBurst(9)
            .idleTimeout(Duration.ofSeconds(10))
            .presenceTtl(Duration.ofSeconds(4))
            .maxPresenceBytes(100)
            .catchUpsPerMinute(12)
            .bytesInPerSecond(65_536)
            .build();

    assertThat(config.limitsMap())
        .containsExactly(
            java.util.Map.entry("bytesInPerSecond", 65_536L),
            java.util.Map.entry("catchUpsPerMinute", 12L),
            java.util.Map.entry("idleTimeoutMillis", 10_000L),
            java.util.Map.entry("maxDocumentsPerConnection", 7L),
            java.util.Map.entry("maxFrameBytes", 1048576L),
            java.util.Map.entry("maxPresenceBytes", 100L),
            java.util.Map.entry("presenceTtlMillis", 4_000L),
            java.util.Map.entry("updateBurst", 9L),
            java.util.Map.entry("updatesPerSecond", 5L));
    assertThat(config.toBuilder().build().limitsMap()).isEqualTo(config.limitsMap());
  }

  @Test
  void refusesBadValuesNamingThem() {
    assertThatThrownBy(() -> SessionConfig.builder().updatesPerSecond(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("updatesPerSecond")
        .hasMessageContaining("was 0");
    assertThatThrownBy(() -> SessionConfig.builder().idleTimeout(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("idleTimeout");
    assertThatThrownBy(() -> SessionConfig.builder().maxPresenceBytes(-1))
        .hasMessageContaining("maxPresenceBytes");
  }

  @Test
  void buildsItsCodecsOnceFromItsOwnLimits() {
    ProtocolLimits limits = ProtocolLimits.builder().maxFrameBytes(4096).build();
    SessionConfig config = SessionConfig.builder().protocolLimits(limits).build();

    assertThat(config.codec().limits()).isEqualTo(limits);
    assertThat(config.crdtCodecs().limits()).isSameAs(limits.codecLimits());
    // Every session of the config gets these very instances: one set per server, not per
    // connection.
    assertThat(config.codec()).isSameAs(config.codec());
    assertThat(config.crdtCodecs()).isSameAs(config.crdtCodecs());
  }
}

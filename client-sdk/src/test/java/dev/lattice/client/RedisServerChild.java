package dev.lattice.client;

import dev.lattice.server.LatticeServer;
import dev.lattice.server.spi.SessionConfig;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Run by {@link RedisServersIT} in a child JVM: starts a {@link LatticeServer} in Redis mode on
 * 127.0.0.1 and an ephemeral port against the Redis in {@code args[0]}, then prints {@code port
 * <n>}. The parent kills it; it halts by itself when its stdin closes (the parent died) or after
 * {@link #MAX_LIFETIME_SECONDS}, so it is never left behind.
 */
public final class RedisServerChild {

  static final long MAX_LIFETIME_SECONDS = 120;

  private RedisServerChild() {}

  public static void main(String[] args) throws Exception {
    ChildJvm.haltWhenParentGoes();
    ChildJvm.haltAfter(Duration.ofSeconds(MAX_LIFETIME_SECONDS));

    LatticeServer server =
        LatticeServer.builder()
            .bindAddress("127.0.0.1")
            .port(0)
            .redis(args[0])
            // The rate limit is not under test: writers must never be refused for speed.
            .sessionConfig(
                SessionConfig.builder().updatesPerSecond(1_000_000).updateBurst(1_000_000).build())
            .build()
            .start();
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    out.println("port " + server.port());
    // Jetty's threads keep the JVM alive until the parent kills it.
  }
}

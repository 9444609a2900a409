package dev.lattice.server;

import dev.lattice.server.spi.SessionConfig;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Run by {@link ServerCrashIT} in a child JVM: starts a durable {@link LatticeServer} on 127.0.0.1,
 * an ephemeral port and the data directory in {@code args[0]}, then prints {@code port <n>}. It
 * never stops by itself in an orderly way (the parent kills it), but it halts when its stdin closes
 * (the parent died) or after {@link #MAX_LIFETIME_SECONDS}, so it can never be left behind.
 */
public final class ServerCrashChild {

  static final long MAX_LIFETIME_SECONDS = 60;

  private ServerCrashChild() {}

  public static void main(String[] args) throws Exception {
    OrphanGuard.haltWhenParentGoes();

    LatticeServer server =
        LatticeServer.builder()
            .bindAddress("127.0.0.1")
            .port(0)
            .dataDirectory(Path.of(args[0]))
            // The rate limit is not under test: the writer must never be refused for speed.
            .sessionConfig(
                SessionConfig.builder().updatesPerSecond(1_000_000).updateBurst(1_000_000).build())
            .build()
            .start();
    ScheduledExecutorService cap =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "lifetime-cap");
              t.setDaemon(true);
              return t;
            });
    cap.schedule(() -> Runtime.getRuntime().halt(4), MAX_LIFETIME_SECONDS, TimeUnit.SECONDS);
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    out.println("port " + server.port());
    // Jetty's threads keep the JVM alive until the parent kills it.
  }
}

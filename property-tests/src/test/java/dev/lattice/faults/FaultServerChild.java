package dev.lattice.faults;

import dev.lattice.server.LatticeServer;
import dev.lattice.server.OrphanGuard;
import dev.lattice.server.spi.SessionConfig;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Run by the fault ITs in a child JVM: a durable {@link LatticeServer} on 127.0.0.1 and an
 * ephemeral port, which prints {@code port <n>}. Its store is the RocksDB data directory {@code
 * args[0]}, or, if {@code args[0]} is a {@code redis://} URI, that Redis (Redis mode: the store and
 * the bus shared with the other servers on it). The parent ends it with {@code kill -9}; it also
 * halts when its stdin closes (the parent died) or after {@code args[1]} seconds, so it is never
 * left behind.
 */
public final class FaultServerChild {

  private FaultServerChild() {}

  public static void main(String[] args) throws Exception {
    OrphanGuard.haltWhenParentGoes();
    long lifetimeSeconds = Long.parseLong(args[1]);
    ScheduledExecutorService cap =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "lifetime-cap");
              t.setDaemon(true);
              return t;
            });
    cap.schedule(() -> Runtime.getRuntime().halt(4), lifetimeSeconds, TimeUnit.SECONDS);
    LatticeServer.Builder builder = LatticeServer.builder().bindAddress("127.0.0.1").port(0);
    if (args[0].startsWith("redis://")) {
      builder.redis(args[0]);
    } else {
      builder.dataDirectory(Path.of(args[0]));
    }
    LatticeServer server =
        builder
            // The rate limit is not under test: clients catching up must not be refused for speed.
            .sessionConfig(
                SessionConfig.builder().updatesPerSecond(1_000_000).updateBurst(1_000_000).build())
            .build()
            .start();
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    out.println("port " + server.port());
    // Jetty's threads keep the JVM alive until the parent kills it.
  }
}

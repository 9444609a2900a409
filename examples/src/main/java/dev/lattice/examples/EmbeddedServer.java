package dev.lattice.examples;

import dev.lattice.server.LatticeServer;
import java.net.URI;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A durable {@link LatticeServer} on 127.0.0.1 that can be stopped and started again on the same
 * port and data directory, so clients reconnect to the same URI and find every acknowledged change.
 * The first start takes a free port below Linux's ephemeral range (32768 and up) unless one is
 * given: clients keep reconnecting while the server is stopped, and one whose outgoing connection
 * is given the server's own port as its local port connects to itself (TCP simultaneous open) and
 * holds the port, so the restart would fail.
 *
 * <p>Thread-safe: every method is synchronized. {@link #stop()} blocks while the server closes its
 * connections (up to a few seconds), so a UI calls it off the event dispatch thread.
 */
final class EmbeddedServer implements AutoCloseable {

  private static final String HOST = "127.0.0.1";

  private final Path dataDirectory;
  private int port;
  private LatticeServer server;

  /**
   * A stopped server keeping its documents in {@code dataDirectory}; {@code port} 0 picks a free
   * port at the first start (see the class comment) and keeps it afterwards.
   */
  EmbeddedServer(Path dataDirectory, int port) {
    this.dataDirectory = Objects.requireNonNull(dataDirectory, "dataDirectory");
    if (port < 0 || port > 65_535) {
      throw new IllegalArgumentException("port must be within 0..65535, was " + port);
    }
    this.port = port;
  }

  /**
   * Starts the server if it is stopped.
   *
   * @throws IllegalStateException if it cannot start (the port was taken meanwhile, for example)
   */
  synchronized void start() {
    if (server != null) {
      return;
    }
    LatticeServer started =
        LatticeServer.builder()
            .bindAddress(HOST)
            .port(port == 0 ? portBelowEphemeralRange() : port)
            .dataDirectory(dataDirectory)
            .build()
            .start();
    server = started;
    port = started.port();
  }

  /** A free loopback port within 20000..31999, or 0 (any) if none was found in a few tries. */
  private static int portBelowEphemeralRange() {
    for (int i = 0; i < 50; i++) {
      int candidate = 20_000 + java.util.concurrent.ThreadLocalRandom.current().nextInt(12_000);
      try (java.net.ServerSocket probe = new java.net.ServerSocket()) {
        probe.bind(new java.net.InetSocketAddress(HOST, candidate), 1);
        return candidate;
      } catch (java.io.IOException taken) {
        // in use: try another
      }
    }
    return 0;
  }

  /** Stops the server if it runs: connections close with 1001, the store is flushed. */
  synchronized void stop() {
    if (server == null) {
      return;
    }
    try {
      server.close();
    } finally {
      server = null;
    }
  }

  synchronized boolean isRunning() {
    return server != null;
  }

  /**
   * The WebSocket URI, the same across restarts.
   *
   * @throws IllegalStateException if the server never started (its port is not known yet)
   */
  synchronized URI uri() {
    if (port == 0) {
      throw new IllegalStateException("the embedded server has not started yet");
    }
    return URI.create("ws://" + HOST + ":" + port + LatticeServer.SYNC_PATH);
  }

  /** Same as {@link #stop()}. */
  @Override
  public void close() {
    stop();
  }
}

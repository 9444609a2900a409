package dev.lattice.load;

import dev.lattice.server.LatticeServer;
import dev.lattice.server.spi.SessionConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * The server a load run talks to: one already running at a URI, or one this process starts on
 * 127.0.0.1 and an ephemeral port, with the embedded (RocksDB) store in a temporary directory that
 * {@link #close()} deletes, or in memory.
 *
 * <p>An in-process server gets a per-connection UPDATE rate limit of {@value #RAISED_RATE}/s (the
 * largest {@link SessionConfig} allows) instead of the default 100/s, so that the limit, which is
 * there to stop one abusive client, does not cap a measurement of the server itself. A remote
 * server keeps its own limits; a run against it reports RATE_LIMITED refusals as errors. It also
 * gets a per-address handshake limit of {@value #RAISED_RATE}/s instead of 100/s, since every
 * connection of a run comes from this one host.
 *
 * <p>Not thread-safe; created and closed by one thread.
 */
final class Target implements AutoCloseable {

  /** The rate limit and burst an in-process server gets, updates per second per connection. */
  static final int RAISED_RATE = 1_000_000;

  private final List<URI> uris;
  private final String description;
  private final LatticeServer server;
  private final Path dataDirectory;

  private Target(List<URI> uris, String description, LatticeServer server, Path dataDirectory) {
    this.uris = List.copyOf(uris);
    this.description = description;
    this.server = server;
    this.dataDirectory = dataDirectory;
  }

  /** A server already running at {@code uri} ({@code ws://host:port/v1/sync}). */
  static Target remote(URI uri) {
    return remote(List.of(uri));
  }

  /**
   * Servers already running at {@code uris}, serving the same documents (joined through Redis, for
   * example): the workload spreads its clients over them.
   */
  static Target remote(List<URI> uris) {
    if (uris.isEmpty()) {
      throw new IllegalArgumentException("--uri names no server");
    }
    for (URI uri : uris) {
      Objects.requireNonNull(uri, "uri");
      if (!"ws".equals(uri.getScheme()) && !"wss".equals(uri.getScheme())) {
        throw new IllegalArgumentException(
            "--uri must be a ws:// or wss:// URI such as ws://localhost:7070/v1/sync, was " + uri);
      }
    }
    String where =
        uris.size() == 1 ? "server at " + uris.get(0) : uris.size() + " servers at " + uris;
    return new Target(uris, where + " (its own rate limits apply)", null, null);
  }

  /**
   * Starts a server in this process on 127.0.0.1, port 0, in memory or on the embedded store in a
   * fresh temporary directory.
   */
  static Target inProcess(boolean inMemory) {
    return inProcess(inMemory, SessionConfig.defaults().idleTimeout());
  }

  /** As {@link #inProcess(boolean)}, with the server's idle timeout (tests use a short one). */
  static Target inProcess(boolean inMemory, Duration idleTimeout) {
    Path dir = null;
    LatticeServer server = null;
    try {
      LatticeServer.Builder builder =
          LatticeServer.builder()
              .bindAddress("127.0.0.1")
              .port(0)
              .inMemory(inMemory)
              // Every connection of a run comes from this host: the per-address handshake limit,
              // there against one abusive address, would throttle the run's own ramp-up.
              .handshakesPerSecondPerAddress(RAISED_RATE)
              .sessionConfig(
                  SessionConfig.defaults().toBuilder()
                      .updatesPerSecond(RAISED_RATE)
                      .updateBurst(RAISED_RATE)
                      .idleTimeout(idleTimeout)
                      .build());
      if (!inMemory) {
        dir = Files.createTempDirectory("lattice-load-");
        builder.dataDirectory(dir);
      }
      server = builder.build().start();
      String store = inMemory ? "in-memory store" : "embedded RocksDB store in " + dir;
      return new Target(
          List.of(server.uri()),
          "in-process server at "
              + server.uri()
              + ", "
              + store
              + "; per-connection rate limit raised to "
              + RAISED_RATE
              + " updates/s (burst "
              + RAISED_RATE
              + ") so it does not cap the measurement",
          server,
          dir);
    } catch (IOException e) {
      throw new UncheckedIOException("could not create a temporary data directory", e);
    } catch (RuntimeException e) {
      if (server != null) {
        server.close();
      }
      deleteQuietly(dir);
      throw e;
    }
  }

  /**
   * This target, with {@code token} (null for none) sent at the upgrade of every connection until
   * {@link #close()} (see {@link UpgradeToken}).
   */
  Target withToken(String token) {
    UpgradeToken.set(token);
    return this;
  }

  /** The WebSocket URI to connect to (the first, if several). */
  URI uri() {
    return uris.get(0);
  }

  /** Every server's WebSocket URI. */
  List<URI> uris() {
    return uris;
  }

  /** One line for the report: which server, which store, which limits. */
  String description() {
    return description;
  }

  /** Stops an in-process server and deletes its data directory; nothing for a remote one. */
  @Override
  public void close() {
    UpgradeToken.set(null);
    try {
      if (server != null) {
        server.close();
      }
    } finally {
      deleteQuietly(dataDirectory);
    }
  }

  private static void deleteQuietly(Path dir) {
    if (dir == null || !Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      System.err.println("lattice-load: could not delete " + dir + ": " + e);
    }
  }
}

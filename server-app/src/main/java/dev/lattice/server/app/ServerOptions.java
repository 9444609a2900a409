package dev.lattice.server.app;

import dev.lattice.server.LatticeServer;
import dev.lattice.server.session.SessionConfig;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The server's settings as parsed from flags and environment: what {@link LatticeMain} starts.
 *
 * @param dataDirectory absolute; unused when {@code inMemory}
 * @param maxThreads Jetty's pool size; 0 for the server's default
 * @param minRoundInterval least time between two fan-out rounds of one document
 */
record ServerOptions(
    String bindAddress,
    int port,
    Path dataDirectory,
    boolean inMemory,
    SessionConfig sessionConfig,
    int maxFieldsPerDocument,
    long maxOutgoingBytes,
    long cacheMaxBytes,
    int maxThreads,
    Duration minRoundInterval) {

  /** A builder for the server these options describe; its setters re-check every value. */
  LatticeServer.Builder toBuilder() {
    return LatticeServer.builder()
        .bindAddress(bindAddress)
        .port(port)
        .dataDirectory(dataDirectory)
        .inMemory(inMemory)
        .sessionConfig(sessionConfig)
        .maxFieldsPerDocument(maxFieldsPerDocument)
        .maxOutgoingBytesPerConnection(maxOutgoingBytes)
        .cacheMaxBytes(cacheMaxBytes)
        .maxThreads(maxThreads == 0 ? LatticeServer.Builder.defaultMaxThreads() : maxThreads)
        .minRoundInterval(minRoundInterval);
  }
}

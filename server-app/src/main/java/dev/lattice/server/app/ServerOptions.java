package dev.lattice.server.app;

import dev.lattice.server.LatticeServer;
import dev.lattice.server.session.SessionConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The server's settings as parsed from flags and environment: what {@link LatticeMain} starts.
 *
 * @param dataDirectory absolute; unused when {@code inMemory}
 * @param maxThreads Jetty's pool size; 0 for the server's default
 * @param minRoundInterval least time between two fan-out rounds of one document
 * @param maxClockDrift how far ahead of the server's clock an update's timestamp may be
 * @param redis Redis mode's settings, or null for a server with its own store
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
    Duration minRoundInterval,
    Duration maxClockDrift,
    Redis redis) {

  /**
   * Redis mode: Redis is the store and the bus between servers.
   *
   * @param uris one URI, or a cluster's seed URIs
   * @param cluster whether {@code uris} are seeds of a Redis Cluster
   * @param waitReplicas replicas that must have an update before it is acknowledged (WAIT)
   * @param waitTimeout how long an update waits for them
   * @param keyPrefix the prefix of every key and channel
   */
  record Redis(
      List<String> uris,
      boolean cluster,
      int waitReplicas,
      Duration waitTimeout,
      String keyPrefix) {}

  /** Where documents are kept, for the start-up log line. */
  String storage() {
    if (redis != null) {
      return (redis.cluster() ? "data in the Redis Cluster at " : "data in Redis at ")
          + String.join(",", redis.uris().stream().map(ServerOptions::withoutPassword).toList());
    }
    return inMemory ? "documents in memory only (lost at shutdown)" : "data in " + dataDirectory;
  }

  /** A URI for a log line: {@code redis://user:secret@host} loses its password. */
  static String withoutPassword(String uri) {
    return uri.replaceFirst("^(rediss?://)([^@/]*)@", "$1***@");
  }

  /** A builder for the server these options describe; its setters re-check every value. */
  LatticeServer.Builder toBuilder() {
    LatticeServer.Builder b =
        LatticeServer.builder()
            .bindAddress(bindAddress)
            .port(port)
            .dataDirectory(dataDirectory)
            .inMemory(inMemory)
            .sessionConfig(sessionConfig)
            .maxFieldsPerDocument(maxFieldsPerDocument)
            .maxOutgoingBytesPerConnection(maxOutgoingBytes)
            .cacheMaxBytes(cacheMaxBytes)
            .maxThreads(maxThreads == 0 ? LatticeServer.Builder.defaultMaxThreads() : maxThreads)
            .minRoundInterval(minRoundInterval)
            .maxClockDrift(maxClockDrift);
    if (redis != null) {
      if (redis.cluster()) {
        b.redisCluster(redis.uris());
      } else {
        b.redis(redis.uris().get(0));
      }
      b.redisWaitReplicas(redis.waitReplicas(), redis.waitTimeout())
          .redisKeyPrefix(redis.keyPrefix());
    }
    return b;
  }
}

package dev.lattice.server.app;

import dev.lattice.server.JwtAuthenticator;
import dev.lattice.server.LatticeServer;
import dev.lattice.server.spi.SessionConfig;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
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
 * @param connections limits on connections before and after their session
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
    Connections connections,
    Redis redis,
    Security security,
    Webhook webhook) {

  /**
   * The webhook extension: document changes POSTed as JSON.
   *
   * @param url where to POST
   * @param secretFile the HMAC-SHA256 secret's file, or null for unsigned POSTs
   * @param debounce how long a document's changes are gathered into one POST
   */
  record Webhook(URI url, Path secretFile, Duration debounce) {

    /** The extension; reads the secret file now. */
    dev.lattice.server.WebhookExtension extension() {
      dev.lattice.server.WebhookExtension.Builder b =
          dev.lattice.server.WebhookExtension.builder(url).debounce(debounce);
      if (secretFile != null) {
        try {
          b.secret(
              Files.readString(secretFile)
                  .stripTrailing()
                  .getBytes(java.nio.charset.StandardCharsets.UTF_8));
        } catch (IOException e) {
          throw new IllegalArgumentException("cannot read " + e.getMessage());
        }
      }
      return b.build();
    }

    /** For the start-up line; never the secret, the URL's user info or its query. */
    String describe() {
      return "webhook to "
          + dev.lattice.server.WebhookExtension.where(url)
          + (secretFile != null ? " (signed)" : "")
          + " every "
          + debounce.toMillis()
          + " ms";
    }
  }

  /**
   * Authentication, origins and TLS.
   *
   * @param jwtSecretFile the HMAC secret's file, or null
   * @param jwks a JWKS file or http(s) URL, or null
   * @param issuer the required {@code iss}, or null
   * @param audience the required {@code aud}, or null
   * @param insecureNoAuth whether serving non-loopback addresses without authentication is allowed
   * @param allowedOrigins browser origins allowed to upgrade; empty for any
   * @param tlsKeyStore the TLS key store, or null for plain text
   * @param tlsKeyStorePasswordFile the file holding its password; null without TLS
   */
  record Security(
      Path jwtSecretFile,
      String jwks,
      String issuer,
      String audience,
      boolean insecureNoAuth,
      List<String> allowedOrigins,
      Path tlsKeyStore,
      Path tlsKeyStorePasswordFile) {

    /** No authentication, no origin list, no TLS. */
    static final Security NONE = new Security(null, null, null, null, false, List.of(), null, null);

    boolean authenticates() {
      return jwtSecretFile != null || jwks != null;
    }

    /** The authenticator these options ask for; reads the secret or JWKS file now. */
    JwtAuthenticator authenticator() {
      JwtAuthenticator.Builder b = JwtAuthenticator.builder();
      try {
        if (jwtSecretFile != null) {
          b.hmacSecretFile(jwtSecretFile);
        }
        if (jwks != null) {
          if (jwks.startsWith("http://") || jwks.startsWith("https://")) {
            b.jwksUrl(URI.create(jwks));
          } else {
            b.jwksFile(Path.of(jwks));
          }
        }
      } catch (IOException e) {
        throw new IllegalArgumentException("cannot read " + e.getMessage());
      }
      if (issuer != null) {
        b.issuer(issuer);
      }
      if (audience != null) {
        b.audience(audience);
      }
      return b.build();
    }

    /** The key store password, from its file. */
    char[] tlsPassword() {
      try {
        return Files.readString(tlsKeyStorePasswordFile).stripTrailing().toCharArray();
      } catch (IOException e) {
        throw new IllegalArgumentException("cannot read " + e.getMessage());
      }
    }

    /** For the start-up line: how clients are authenticated; never a secret. */
    String describe(String bindAddress) {
      String auth;
      if (authenticates()) {
        auth =
            "JWT authentication ("
                + (jwtSecretFile != null ? "HMAC secret" : "")
                + (jwtSecretFile != null && jwks != null ? " + " : "")
                + (jwks != null ? "JWKS " + jwks : "")
                + (issuer != null ? ", issuer " + issuer : "")
                + (audience != null ? ", audience " + audience : "")
                + ")";
      } else if (insecureNoAuth) {
        auth =
            "NO authentication (--insecure-no-auth): anyone who reaches "
                + bindAddress
                + " reads and writes every document";
      } else {
        auth = "no authentication: bound to loopback only";
      }
      return auth
          + (tlsKeyStore != null ? ", TLS" : "")
          + (allowedOrigins.isEmpty() ? "" : ", origins " + String.join(",", allowedOrigins));
    }
  }

  /**
   * Limits on connections as a whole, enforced by the server around the sessions.
   *
   * @param maxPerAddress connections open at once from one remote address (else HTTP 429)
   * @param handshakesPerSecond upgrades accepted a second, server-wide (else HTTP 503)
   * @param handshakesPerSecondPerAddress upgrades accepted a second from one address (else 503)
   * @param closeGrace how long a closed connection may take to read the close frame
   */
  record Connections(
      int maxPerAddress,
      int handshakesPerSecond,
      int handshakesPerSecondPerAddress,
      Duration closeGrace) {}

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
            .maxConnectionsPerAddress(connections.maxPerAddress())
            .handshakesPerSecond(connections.handshakesPerSecond())
            .handshakesPerSecondPerAddress(connections.handshakesPerSecondPerAddress())
            .closeGrace(connections.closeGrace())
            .maxClockDrift(maxClockDrift);
    if (security.authenticates()) {
      b.authenticator(security.authenticator());
    } else if (security.insecureNoAuth()) {
      b.insecureNoAuth();
    }
    if (!security.allowedOrigins().isEmpty()) {
      b.allowedOrigins(java.util.Set.copyOf(security.allowedOrigins()));
    }
    if (security.tlsKeyStore() != null) {
      if (!Files.isReadable(security.tlsKeyStore())) {
        throw new IllegalArgumentException("cannot read " + security.tlsKeyStore());
      }
      b.tls(security.tlsKeyStore(), security.tlsPassword());
    }
    if (webhook != null) {
      b.extension(webhook.extension());
    }
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

package dev.lattice.server.app;

import dev.lattice.protocol.ProtocolLimits;
import dev.lattice.server.LatticeServer;
import dev.lattice.server.session.SessionConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code java -jar lattice-server.jar}: starts a {@link LatticeServer} from command-line flags,
 * each of which may also come from an environment variable ({@code --data-dir} from {@code
 * LATTICE_DATA_DIR}, and so on; a flag beats its variable). Runs until SIGTERM or Ctrl-C, then
 * shuts the server down gracefully.
 *
 * <p>Parsing is separate from running: {@link #parse} turns arguments and an environment into
 * {@link ServerOptions} without starting anything, and {@link #start} starts a server and returns
 * the {@link Running} handle whose {@link Running#shutdown()} the shutdown hook calls.
 */
@Command(
    name = "lattice-server",
    mixinStandardHelpOptions = true,
    versionProvider = LatticeMain.Version.class,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "Runs the Lattice sync server: WebSocket at ws://HOST:PORT/v1/sync, health at"
          + " http://HOST:PORT/healthz and /readyz.",
      "Every option can also be set by the environment variable shown; a flag beats its variable.",
      "Stops gracefully on SIGTERM or Ctrl-C.",
      ""
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:stopped normally", "1:could not start", "2:bad option (usage error)"})
public final class LatticeMain implements Callable<Integer> {

  private static final Logger log = LoggerFactory.getLogger(LatticeMain.class);

  /** Prefix of every option's environment variable: {@code --data-dir} is LATTICE_DATA_DIR. */
  static final String ENV_PREFIX = "LATTICE_";

  @Spec CommandSpec spec;

  @Option(
      names = "--port",
      paramLabel = "PORT",
      defaultValue = "7070",
      description = "TCP port, 0 for an ephemeral one. Env LATTICE_PORT; default ${DEFAULT-VALUE}.")
  int port;

  @Option(
      names = "--bind",
      paramLabel = "ADDRESS",
      description =
          "Address to listen on. Env LATTICE_BIND; default 0.0.0.0 with authentication"
              + " configured, else 127.0.0.1 (another address without authentication needs"
              + " --insecure-no-auth).")
  String bind;

  @Option(
      names = "--data-dir",
      paramLabel = "DIR",
      defaultValue = "lattice-data",
      description =
          "Directory of the embedded (RocksDB) store; created if missing."
              + " Env LATTICE_DATA_DIR; default ${DEFAULT-VALUE}.")
  Path dataDir;

  @Option(
      names = "--in-memory",
      arity = "0..1",
      paramLabel = "true|false",
      defaultValue = "false",
      description =
          "Keep documents in memory only (lost at shutdown) instead of the embedded store;"
              + " --in-memory=false overrides LATTICE_IN_MEMORY=true. Env LATTICE_IN_MEMORY.")
  boolean inMemory;

  @Option(
      names = "--max-frame-bytes",
      paramLabel = "BYTES",
      defaultValue = "1048576",
      description =
          "Largest WebSocket frame accepted (larger ones close with 1009)."
              + " Env LATTICE_MAX_FRAME_BYTES; default ${DEFAULT-VALUE}.")
  int maxFrameBytes;

  @Option(
      names = "--max-documents-per-connection",
      paramLabel = "N",
      defaultValue = "100",
      description =
          "Documents one connection may subscribe at once."
              + " Env LATTICE_MAX_DOCUMENTS_PER_CONNECTION; default ${DEFAULT-VALUE}.")
  int maxDocumentsPerConnection;

  @Option(
      names = "--max-fields-per-document",
      paramLabel = "N",
      defaultValue = "10000",
      description =
          "Most fields a document may hold."
              + " Env LATTICE_MAX_FIELDS_PER_DOCUMENT; default ${DEFAULT-VALUE}.")
  int maxFieldsPerDocument;

  @Option(
      names = "--updates-per-second",
      paramLabel = "N",
      defaultValue = "100",
      description =
          "Sustained UPDATE rate per connection."
              + " Env LATTICE_UPDATES_PER_SECOND; default ${DEFAULT-VALUE}.")
  int updatesPerSecond;

  @Option(
      names = "--update-burst",
      paramLabel = "N",
      defaultValue = "200",
      description =
          "UPDATEs a connection may send at once (token bucket size)."
              + " Env LATTICE_UPDATE_BURST; default ${DEFAULT-VALUE}.")
  int updateBurst;

  @Option(
      names = "--rate-limit-close-threshold",
      paramLabel = "N",
      defaultValue = "1000",
      description =
          "RATE_LIMITED refusals a connection may collect (forgiven at --updates-per-second)"
              + " before the next closes it with 4005."
              + " Env LATTICE_RATE_LIMIT_CLOSE_THRESHOLD; default ${DEFAULT-VALUE}.")
  int rateLimitCloseThreshold;

  @Option(
      names = "--catch-ups-per-minute",
      paramLabel = "N",
      defaultValue = "300",
      description =
          "SUBSCRIBEs (each a catch-up over the whole document) a connection may send a minute;"
              + " more are refused with RATE_LIMITED."
              + " Env LATTICE_CATCH_UPS_PER_MINUTE; default ${DEFAULT-VALUE}.")
  int catchUpsPerMinute;

  @Option(
      names = "--bytes-in-per-second",
      paramLabel = "BYTES",
      defaultValue = "4194304",
      description =
          "Bytes a connection may send a second; past it the server reads it more slowly."
              + " Env LATTICE_BYTES_IN_PER_SECOND; default ${DEFAULT-VALUE}.")
  long bytesInPerSecond;

  @Option(
      names = "--max-connections-per-address",
      paramLabel = "N",
      defaultValue = "1024",
      description =
          "Connections open at once from one remote address; more are refused at the upgrade"
              + " with HTTP 429. Env LATTICE_MAX_CONNECTIONS_PER_ADDRESS;"
              + " default ${DEFAULT-VALUE}.")
  int maxConnectionsPerAddress;

  @Option(
      names = "--handshakes-per-second",
      paramLabel = "N",
      defaultValue = "1000",
      description =
          "WebSocket upgrades accepted a second, server-wide; more are refused with HTTP 503"
              + " and Retry-After. Env LATTICE_HANDSHAKES_PER_SECOND; default ${DEFAULT-VALUE}.")
  int handshakesPerSecond;

  @Option(
      names = "--close-grace",
      paramLabel = "DURATION",
      defaultValue = "5s",
      converter = DurationConverter.class,
      description =
          "How long a connection the server closes may take to read up to the close frame"
              + " before it is dropped (the client then sees 1006, not the close code)."
              + " Env LATTICE_CLOSE_GRACE; default ${DEFAULT-VALUE}.")
  Duration closeGrace;

  @Option(
      names = "--idle-timeout",
      paramLabel = "DURATION",
      defaultValue = "30s",
      converter = DurationConverter.class,
      description =
          "Close a connection silent this long (it is PINGed at half): 500ms, 30s, 5m, 1h or"
              + " ISO-8601 like PT30S. Env LATTICE_IDLE_TIMEOUT; default ${DEFAULT-VALUE}.")
  Duration idleTimeout;

  @Option(
      names = "--max-outgoing-bytes",
      paramLabel = "BYTES",
      defaultValue = "4194304",
      description =
          "Bytes queued for one slow connection before it is closed with 4003."
              + " Env LATTICE_MAX_OUTGOING_BYTES; default ${DEFAULT-VALUE}.")
  long maxOutgoingBytes;

  @Option(
      names = "--cache-max-bytes",
      paramLabel = "BYTES",
      defaultValue = "67108864",
      description =
          "Approximate heap bytes of idle documents kept in memory (0 keeps none)."
              + " Env LATTICE_CACHE_MAX_BYTES; default ${DEFAULT-VALUE}.")
  long cacheMaxBytes;

  @Option(
      names = "--max-threads",
      paramLabel = "N",
      defaultValue = "0",
      description =
          "Most threads for connections (Jetty's pool), at least 8; 0 = 4 per core, at least 8."
              + " Env LATTICE_MAX_THREADS; default ${DEFAULT-VALUE}.")
  int maxThreads;

  @Option(
      names = "--min-round-interval",
      paramLabel = "DURATION",
      defaultValue = "0",
      converter = DurationConverter.class,
      description =
          "Least time between two fan-out rounds of one document: a busier document sends fewer,"
              + " larger frames; 0 sends each round at once. Env LATTICE_MIN_ROUND_INTERVAL;"
              + " default ${DEFAULT-VALUE}.")
  Duration minRoundInterval;

  @Option(
      names = "--max-clock-drift",
      paramLabel = "DURATION",
      defaultValue = "500ms",
      converter = DurationConverter.class,
      description =
          "How far ahead of the server's clock a timestamp in an update may be; an update further"
              + " ahead is refused (CLOCK_DRIFT). Also how far one client can move the server's"
              + " clock ahead. At least 1ms. Env LATTICE_MAX_CLOCK_DRIFT; default ${DEFAULT-VALUE}.")
  Duration maxClockDrift;

  @Option(
      names = "--redis",
      paramLabel = "URI",
      description =
          "Redis mode: keep documents in Redis and join every server started with the same Redis"
              + " (redis://host:port, rediss:// for TLS); no data directory is used."
              + " Env LATTICE_REDIS.")
  String redis;

  @Option(
      names = "--redis-cluster",
      paramLabel = "URI",
      split = ",",
      description =
          "Redis mode on a Redis Cluster: one or more of its nodes, comma-separated"
              + " (redis://host:port,...). Env LATTICE_REDIS_CLUSTER.")
  List<String> redisCluster;

  @Option(
      names = "--redis-wait-replicas",
      paramLabel = "N",
      defaultValue = "0",
      description =
          "Acknowledge an update only once N Redis replicas have it too (WAIT)."
              + " Env LATTICE_REDIS_WAIT_REPLICAS; default ${DEFAULT-VALUE}.")
  int redisWaitReplicas;

  @Option(
      names = "--redis-wait-timeout",
      paramLabel = "DURATION",
      defaultValue = "1s",
      converter = DurationConverter.class,
      description =
          "How long an update waits for --redis-wait-replicas before it is refused (retryable)."
              + " Env LATTICE_REDIS_WAIT_TIMEOUT; default ${DEFAULT-VALUE}.")
  Duration redisWaitTimeout;

  @Option(
      names = "--redis-key-prefix",
      paramLabel = "PREFIX",
      defaultValue = "lattice",
      description =
          "Prefix of every Redis key and channel; servers with the same prefix share documents."
              + " Env LATTICE_REDIS_KEY_PREFIX; default ${DEFAULT-VALUE}.")
  String redisKeyPrefix;

  @Option(
      names = "--auth-jwt-secret-file",
      paramLabel = "FILE",
      description =
          "Require JWTs signed with this HMAC secret (HS256/384/512; the file's bytes, trailing"
              + " whitespace dropped, at least 32). Env LATTICE_AUTH_JWT_SECRET_FILE.")
  Path authJwtSecretFile;

  @Option(
      names = "--auth-jwt-jwks",
      paramLabel = "FILE|URL",
      description =
          "Require JWTs signed with an RSA or EC key of this JWKS (a file, or an http(s) URL"
              + " fetched and cached). Env LATTICE_AUTH_JWT_JWKS.")
  String authJwtJwks;

  @Option(
      names = "--auth-issuer",
      paramLabel = "ISSUER",
      description = "Require this iss claim in every JWT. Env LATTICE_AUTH_ISSUER.")
  String authIssuer;

  @Option(
      names = "--auth-audience",
      paramLabel = "AUDIENCE",
      description = "Require this value in every JWT's aud claim. Env LATTICE_AUTH_AUDIENCE.")
  String authAudience;

  @Option(
      names = "--insecure-no-auth",
      arity = "0..1",
      paramLabel = "true|false",
      defaultValue = "false",
      description =
          "Serve addresses other than loopback WITHOUT authentication: anyone who reaches the"
              + " server reads and writes every document. Env LATTICE_INSECURE_NO_AUTH.")
  boolean insecureNoAuth;

  @Option(
      names = "--allowed-origins",
      paramLabel = "ORIGIN",
      split = ",",
      description =
          "Browser origins allowed to open a WebSocket (e.g. https://app.example), comma-separated;"
              + " another Origin gets 403, requests without Origin pass. Default: any."
              + " Env LATTICE_ALLOWED_ORIGINS.")
  List<String> allowedOrigins;

  @Option(
      names = "--tls-keystore",
      paramLabel = "FILE",
      description =
          "Serve TLS (wss://, https://) with the key and certificate of this PKCS#12 or JKS key"
              + " store. Env LATTICE_TLS_KEYSTORE.")
  Path tlsKeystore;

  @Option(
      names = "--tls-keystore-password-file",
      paramLabel = "FILE",
      description =
          "File holding the --tls-keystore password (trailing whitespace dropped)."
              + " Env LATTICE_TLS_KEYSTORE_PASSWORD_FILE.")
  Path tlsKeystorePasswordFile;

  private volatile Running running;

  /** Entry point of the runnable jar. */
  public static void main(String[] args) {
    System.exit(commandLine(System.getenv()).execute(args));
  }

  /**
   * The command, reading option defaults from {@code env} (for tests: any map; for the jar: the
   * process environment).
   */
  static CommandLine commandLine(Map<String, String> env) {
    CommandLine cmd = new CommandLine(new LatticeMain());
    cmd.setDefaultValueProvider(new EnvironmentDefaults(env));
    return cmd;
  }

  /**
   * Parses arguments and environment into options, starting nothing.
   *
   * @throws ParameterException on a bad or unknown option or value
   */
  static ServerOptions parse(Map<String, String> env, String... args) {
    CommandLine cmd = commandLine(env);
    cmd.parseArgs(args);
    return cmd.<LatticeMain>getCommand().options();
  }

  /** The parsed options, validated as the server will; a bad value is a usage error. */
  ServerOptions options() {
    try {
      SessionConfig session =
          SessionConfig.builder()
              .protocolLimits(ProtocolLimits.builder().maxFrameBytes(maxFrameBytes).build())
              .maxDocumentsPerConnection(maxDocumentsPerConnection)
              .updatesPerSecond(updatesPerSecond)
              .updateBurst(updateBurst)
              .idleTimeout(idleTimeout)
              .rateLimitCloseThreshold(rateLimitCloseThreshold)
              .catchUpsPerMinute(catchUpsPerMinute)
              .bytesInPerSecond(bytesInPerSecond)
              .build();
      ServerOptions.Redis redisMode = redisMode();
      ServerOptions.Security security = security();
      ServerOptions options =
          new ServerOptions(
              bindAddress(security),
              port,
              dataDir.toAbsolutePath().normalize(),
              inMemory,
              session,
              maxFieldsPerDocument,
              maxOutgoingBytes,
              cacheMaxBytes,
              maxThreads,
              minRoundInterval,
              maxClockDrift,
              new ServerOptions.Connections(
                  maxConnectionsPerAddress, handshakesPerSecond, closeGrace),
              redisMode,
              security);
      options.toBuilder(); // the builder's own checks (port range, positive bounds)
      return options;
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), "Invalid option: " + e.getMessage(), e);
    }
  }

  private ServerOptions.Security security() {
    if (tlsKeystorePasswordFile != null && tlsKeystore == null) {
      throw new IllegalArgumentException("--tls-keystore-password-file needs --tls-keystore");
    }
    if (tlsKeystore != null && tlsKeystorePasswordFile == null) {
      throw new IllegalArgumentException("--tls-keystore needs --tls-keystore-password-file");
    }
    boolean jwt = authJwtSecretFile != null || authJwtJwks != null;
    if (!jwt && (authIssuer != null || authAudience != null)) {
      throw new IllegalArgumentException(
          "--auth-issuer and --auth-audience need --auth-jwt-secret-file or --auth-jwt-jwks");
    }
    return new ServerOptions.Security(
        authJwtSecretFile,
        authJwtJwks,
        authIssuer,
        authAudience,
        insecureNoAuth,
        allowedOrigins == null ? List.of() : allowedOrigins.stream().map(String::trim).toList(),
        tlsKeystore,
        tlsKeystorePasswordFile);
  }

  /**
   * The address to bind: loopback unless authentication is configured (or explicitly waived);
   * another address without authentication is a usage error naming --insecure-no-auth.
   */
  private String bindAddress(ServerOptions.Security security) {
    boolean open = security.authenticates() || security.insecureNoAuth();
    if (bind == null) {
      return open ? "0.0.0.0" : "127.0.0.1";
    }
    if (!open && !isLoopback(bind)) {
      throw new IllegalArgumentException(
          "--bind "
              + bind
              + " serves other machines, but no authentication is configured: give"
              + " --auth-jwt-secret-file or --auth-jwt-jwks, or --insecure-no-auth to serve"
              + " without it");
    }
    return bind;
  }

  private static boolean isLoopback(String address) {
    try {
      return java.net.InetAddress.getByName(address).isLoopbackAddress();
    } catch (java.net.UnknownHostException e) {
      return false;
    }
  }

  private ServerOptions.Redis redisMode() {
    boolean cluster = redisCluster != null && !redisCluster.isEmpty();
    if (redis != null && cluster) {
      throw new IllegalArgumentException("give --redis or --redis-cluster, not both");
    }
    if (redis == null && !cluster) {
      if (redisWaitReplicas != 0) {
        throw new IllegalArgumentException(
            "--redis-wait-replicas needs --redis or --redis-cluster");
      }
      return null;
    }
    if (inMemory) {
      throw new IllegalArgumentException(
          "--in-memory and Redis mode exclude each other: with --redis, Redis keeps the documents");
    }
    List<String> uris = cluster ? List.copyOf(redisCluster) : List.of(redis);
    return new ServerOptions.Redis(
        uris, cluster, redisWaitReplicas, redisWaitTimeout, redisKeyPrefix);
  }

  @Override
  public Integer call() throws InterruptedException {
    ServerOptions options = options();
    Running run;
    try {
      run = start(options);
    } catch (IllegalStateException e) {
      log.error("Lattice server did not start: {}", e.getMessage(), e.getCause());
      return 1;
    }
    running = run;
    Thread hook = new Thread(run::shutdown, "lattice-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    run.awaitStopped();
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException alreadyShuttingDown) {
      // The hook itself stopped us.
    }
    return 0;
  }

  /** The running server once {@link #call()} has started it, else null. */
  Running running() {
    return running;
  }

  /** Starts a server from the options and logs where it listens and where its data lives. */
  static Running start(ServerOptions options) {
    LatticeServer server = options.toBuilder().build().start();
    String ws = server.uri().toString();
    String http = ws.replaceFirst("^ws", "http").replace(LatticeServer.SYNC_PATH, "");
    log.info(
        "Lattice server listening on {} (health: {}/healthz, metrics: {}/metrics), {}, {}",
        ws,
        http,
        http,
        options.storage(),
        options.security().describe(options.bindAddress()));
    return new Running(server);
  }

  /** A started server and the one way to stop it, shared by the shutdown hook and tests. */
  static final class Running {
    private final LatticeServer server;
    private final CountDownLatch stopped = new CountDownLatch(1);

    Running(LatticeServer server) {
      this.server = Objects.requireNonNull(server);
    }

    LatticeServer server() {
      return server;
    }

    /** Graceful shutdown (see {@link LatticeServer#close()}); idempotent. */
    void shutdown() {
      if (stopped.getCount() == 0) {
        return;
      }
      log.info("Lattice server shutting down: closing connections, flushing the store");
      try {
        server.close();
        log.info("Lattice server stopped");
      } catch (RuntimeException e) {
        log.error("Lattice server shutdown failed", e);
      } finally {
        stopped.countDown();
      }
    }

    void awaitStopped() throws InterruptedException {
      stopped.await();
    }

    boolean isStopped() {
      return stopped.getCount() == 0;
    }
  }

  /** Defaults from LATTICE_* variables: {@code --data-dir} reads LATTICE_DATA_DIR. */
  static final class EnvironmentDefaults implements CommandLine.IDefaultValueProvider {
    private final Map<String, String> env;

    EnvironmentDefaults(Map<String, String> env) {
      this.env = Map.copyOf(env);
    }

    @Override
    public String defaultValue(ArgSpec arg) {
      if (!(arg instanceof OptionSpec option) || option.usageHelp() || option.versionHelp()) {
        return null;
      }
      String value = env.get(variable(option.longestName()));
      return value == null || value.isBlank() ? null : value.trim();
    }

    static String variable(String optionName) {
      return ENV_PREFIX + optionName.replaceFirst("^-+", "").replace('-', '_').toUpperCase();
    }
  }

  /** 250us, 500ms, 30s, 5m, 1h, 2d, 0, or ISO-8601 (PT30S). */
  static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String text) {
      String t = text.trim();
      if (t.toUpperCase().startsWith("P")) {
        return Duration.parse(t);
      }
      if (t.equals("0")) {
        return Duration.ZERO;
      }
      var m = java.util.regex.Pattern.compile("(\\d+)(us|ms|s|m|h|d)").matcher(t);
      if (!m.matches()) {
        throw new CommandLine.TypeConversionException(
            "'" + text + "' is not a duration (examples: 250us, 500ms, 30s, 5m, 1h, PT30S)");
      }
      long n = Long.parseLong(m.group(1));
      return switch (m.group(2)) {
        case "us" -> Duration.ofNanos(Math.multiplyExact(n, 1000));
        case "ms" -> Duration.ofMillis(n);
        case "s" -> Duration.ofSeconds(n);
        case "m" -> Duration.ofMinutes(n);
        case "h" -> Duration.ofHours(n);
        default -> Duration.ofDays(n);
      };
    }
  }

  /** The jar manifest's Implementation-Version, or "development build". */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = LatticeMain.class.getPackage().getImplementationVersion();
      return new String[] {"lattice-server " + (v != null ? v : "(development build)")};
    }
  }
}

package dev.lattice.server.app;

import dev.lattice.protocol.ProtocolLimits;
import dev.lattice.server.LatticeServer;
import dev.lattice.server.spi.SessionConfig;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
      "Runs the Lattice sync server: WebSocket at ws://HOST:PORT/v1/sync; beside it over HTTP"
          + " /healthz, /readyz (503 while starting or stopping), /metrics (Prometheus text)"
          + " and GET /v1/docs/{id} (a document as JSON).",
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
      names = "--handshakes-per-second-per-address",
      paramLabel = "N",
      defaultValue = "100",
      description =
          "WebSocket upgrades accepted a second from one remote address; more are refused with"
              + " HTTP 503 and Retry-After. Behind a proxy every client shares its address: raise"
              + " it there. Env LATTICE_HANDSHAKES_PER_SECOND_PER_ADDRESS; default"
              + " ${DEFAULT-VALUE}.")
  int handshakesPerSecondPerAddress;

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
      defaultValue = "60s",
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
      defaultValue = "2ms",
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

  @Option(
      names = "--webhook-url",
      paramLabel = "URL",
      description =
          "POST every document's durable changes to this http(s) URL as JSON (the changed fields as"
              + " GET /v1/docs/{id} renders them, the replica ids), gathered per document for"
              + " --webhook-debounce and retried with back-off. Env LATTICE_WEBHOOK_URL.")
  String webhookUrl;

  @Option(
      names = "--webhook-secret-file",
      paramLabel = "FILE",
      description =
          "Sign each webhook POST with this secret (the file's bytes, trailing whitespace dropped,"
              + " at least 16): header X-Lattice-Signature: sha256=<HMAC-SHA256 of the body>."
              + " Env LATTICE_WEBHOOK_SECRET_FILE.")
  Path webhookSecretFile;

  @Option(
      names = "--webhook-debounce",
      paramLabel = "DURATION",
      defaultValue = "2s",
      converter = DurationConverter.class,
      description =
          "How long a document's changes are gathered into one webhook POST: at most one POST per"
              + " document per interval. Env LATTICE_WEBHOOK_DEBOUNCE; default ${DEFAULT-VALUE}.")
  Duration webhookDebounce;

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
    cmd.setParameterExceptionHandler(LatticeMain::usageError);
    return cmd;
  }

  /**
   * A bad flag or value: the message and one usage line, not the whole help (which hides the
   * message above a page of options).
   */
  private static int usageError(ParameterException e, String[] args) {
    CommandLine cmd = e.getCommandLine();
    java.io.PrintWriter err = cmd.getErr();
    err.println("lattice-server: " + e.getMessage());
    err.println("Usage: lattice-server [OPTIONS]  (--help lists every option and its variable)");
    err.flush();
    return 2;
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
                  maxConnectionsPerAddress,
                  handshakesPerSecond,
                  handshakesPerSecondPerAddress,
                  closeGrace),
              redisMode,
              security,
              webhook());
      options.toBuilder(); // the builder's own checks (port range, positive bounds)
      return options;
    } catch (IllegalArgumentException e) {
      throw new ParameterException(
          spec.commandLine(), "Invalid option: " + inFlagTerms(e.getMessage()), e);
    }
  }

  private ServerOptions.Webhook webhook() {
    if (webhookUrl == null) {
      if (webhookSecretFile != null) {
        throw new IllegalArgumentException("--webhook-secret-file needs --webhook-url");
      }
      return null;
    }
    java.net.URI url;
    try {
      url = new java.net.URI(webhookUrl);
    } catch (java.net.URISyntaxException e) {
      throw new IllegalArgumentException("--webhook-url is not a URL: " + e.getMessage());
    }
    if (url.getHost() == null
        || !("http".equals(url.getScheme()) || "https".equals(url.getScheme()))) {
      throw new IllegalArgumentException(
          "--webhook-url must be an http:// or https:// URL with a host, was " + webhookUrl);
    }
    if (webhookDebounce.isNegative() || webhookDebounce.isZero()) {
      throw new IllegalArgumentException(
          "--webhook-debounce must be positive, was " + webhookDebounce);
    }
    ServerOptions.Webhook webhook =
        new ServerOptions.Webhook(url, webhookSecretFile, webhookDebounce);
    try {
      webhook.extension(); // reads the secret now: a bad file is a usage error, not a failed start
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--webhook-secret-file: " + e.getMessage(), e);
    }
    return webhook;
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

  /**
   * The builders' names (Java setters) as the operator knows them: a flag and its variable. Longest
   * names first, so that no name is replaced inside a longer one.
   */
  private static final Map<String, String> FLAG_OF_SETTING =
      new java.util.LinkedHashMap<>(
          Map.ofEntries(
              Map.entry("maxOutgoingBytesPerConnection", "--max-outgoing-bytes"),
              Map.entry("maxConnectionsPerAddress", "--max-connections-per-address"),
              Map.entry("rateLimitCloseThreshold", "--rate-limit-close-threshold"),
              Map.entry("handshakesPerSecondPerAddress", "--handshakes-per-second-per-address"),
              Map.entry("handshakesPerSecond", "--handshakes-per-second"),
              Map.entry("catchUpsPerMinute", "--catch-ups-per-minute"),
              Map.entry("bytesInPerSecond", "--bytes-in-per-second"),
              Map.entry("maxClockDrift", "--max-clock-drift"),
              Map.entry("closeGrace", "--close-grace"),
              Map.entry("maxDocumentsPerConnection", "--max-documents-per-connection"),
              Map.entry("maxFieldsPerDocument", "--max-fields-per-document"),
              Map.entry("minRoundInterval", "--min-round-interval"),
              Map.entry("redisWaitReplicas", "--redis-wait-replicas"),
              Map.entry("the WAIT timeout", "--redis-wait-timeout"),
              Map.entry("updatesPerSecond", "--updates-per-second"),
              Map.entry("maxFrameBytes", "--max-frame-bytes"),
              Map.entry("cacheMaxBytes", "--cache-max-bytes"),
              Map.entry("bindAddress", "--bind"),
              Map.entry("idleTimeout", "--idle-timeout"),
              Map.entry("updateBurst", "--update-burst"),
              Map.entry("maxThreads", "--max-threads"),
              Map.entry("port", "--port")));

  private static final Pattern SETTING;

  static {
    StringBuilder alternatives = new StringBuilder();
    FLAG_OF_SETTING.keySet().stream()
        .sorted(java.util.Comparator.comparingInt(String::length).reversed())
        .forEach(k -> alternatives.append(alternatives.length() == 0 ? "" : "|").append(k));
    // Only as the subject of a builder's complaint ("port must be within..."): "host:port" in an
    // example stays as it is.
    SETTING = Pattern.compile("\\b(" + alternatives + ")(?= must)");
  }

  /** Replaces the builders' setting names in {@code message} by "--flag (LATTICE_FLAG)". */
  static String inFlagTerms(String message) {
    if (message == null) {
      return "";
    }
    Matcher m = SETTING.matcher(message);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      String flag = FLAG_OF_SETTING.get(m.group(1));
      m.appendReplacement(
          out, Matcher.quoteReplacement(flag + " (" + EnvironmentDefaults.variable(flag) + ")"));
    }
    m.appendTail(out);
    return out.toString();
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
      // One line that names what to change; the stack trace only for those who ask (debug).
      log.error("Lattice server did not start: {}", startupFailure(options, e));
      log.debug("Lattice server start-up failure in full", e);
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

  /**
   * Starts a server from the options and logs where it listens and where its data lives.
   *
   * @throws IllegalStateException if it cannot start; {@link #startupFailure} words it for the log
   */
  static Running start(ServerOptions options) {
    // The store opens before Jetty binds: try the port first, so that a taken port leaves nothing
    // behind in the data directory (a race with another process remains, and is harmless).
    if (options.port() != 0) {
      checkPortFree(options.bindAddress(), options.port());
    }
    LatticeServer server = options.toBuilder().build().start();
    String ws = server.uri().toString();
    String http = ws.replaceFirst("^ws", "http").replace(LatticeServer.SYNC_PATH, "");
    log.info(
        "Lattice server listening on {} ({}; health: {}/healthz, metrics: {}/metrics), {}, {}",
        hostPort(options.bindAddress(), server.port()),
        ws,
        http,
        http,
        options.storage(),
        options.security().describe(options.bindAddress())
            + (options.webhook() != null ? ", " + options.webhook().describe() : ""));
    return new Running(server);
  }

  private static String hostPort(String host, int port) {
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }

  private static void checkPortFree(String bindAddress, int port) {
    InetSocketAddress address = new InetSocketAddress(bindAddress, port);
    if (address.isUnresolved()) {
      throw new IllegalStateException(
          "could not bind " + hostPort(bindAddress, port),
          new java.net.UnknownHostException(bindAddress));
    }
    try (ServerSocket probe = new ServerSocket()) {
      probe.setReuseAddress(true); // as Jetty binds: a port in TIME_WAIT is free
      probe.bind(address);
    } catch (IOException e) {
      throw new IllegalStateException(
          "could not bind " + hostPort(bindAddress, port) + ": " + e.getMessage(), e);
    }
  }

  /**
   * One line for an operator: what failed and which flag (and variable) changes it, without a stack
   * trace.
   */
  static String startupFailure(ServerOptions options, Throwable failure) {
    String where = hostPort(options.bindAddress(), options.port());
    Throwable bind = null;
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof BindException
          || (bind == null && String.valueOf(t.getMessage()).contains("Failed to bind"))) {
        bind = t; // the innermost BindException says why
      }
    }
    if (bind != null) {
      String text = String.valueOf(bind.getMessage());
      String lower = text.toLowerCase(java.util.Locale.ROOT);
      if (lower.contains("in use")) {
        return "port "
            + options.port()
            + " on "
            + options.bindAddress()
            + " is already in use: choose another with --port or LATTICE_PORT";
      }
      if (lower.contains("permission") || lower.contains("access")) {
        return "port "
            + options.port()
            + " on "
            + options.bindAddress()
            + " needs privileges this process lacks: choose one above 1023 with --port or"
            + " LATTICE_PORT";
      }
      return "cannot listen on "
          + where
          + " ("
          + text
          + "): choose another address with --bind or LATTICE_BIND";
    }
    for (Throwable t = failure; t != null; t = t.getCause()) {
      String text = String.valueOf(t.getMessage());
      if (t instanceof java.nio.channels.UnresolvedAddressException
          || t instanceof java.net.UnknownHostException) {
        return "bind address "
            + options.bindAddress()
            + " is not an address of this machine: choose another with --bind or LATTICE_BIND";
      }
      if (t instanceof dev.lattice.server.spi.StoreException && options.redis() == null) {
        if (t instanceof dev.lattice.server.spi.StoreLockedException) {
          return "the data directory "
              + options.dataDirectory()
              + " is in use by another Lattice server: stop that server or choose another"
              + " directory with --data-dir or LATTICE_DATA_DIR";
        }
        return text + ": choose another directory with --data-dir or LATTICE_DATA_DIR";
      }
    }
    Throwable root = failure;
    while (root.getCause() != null) {
      root = root.getCause();
    }
    String flag =
        options.redis() == null
            ? ""
            : options.redis().cluster()
                ? ": check --redis-cluster or LATTICE_REDIS_CLUSTER"
                : ": check --redis or LATTICE_REDIS";
    return String.valueOf(root.getMessage())
        + flag
        + " (--help lists the options; the full error is"
        + " logged at debug level)";
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

package dev.lattice.server.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.server.session.SessionConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

class LatticeMainTest {

  private static final List<String> OPTIONS =
      List.of(
          "--port",
          "--bind",
          "--data-dir",
          "--in-memory",
          "--max-frame-bytes",
          "--max-documents-per-connection",
          "--max-fields-per-document",
          "--updates-per-second",
          "--update-burst",
          "--idle-timeout",
          "--max-outgoing-bytes",
          "--cache-max-bytes",
          "--max-threads",
          "--min-round-interval",
          "--redis",
          "--redis-cluster",
          "--redis-wait-replicas",
          "--redis-wait-timeout",
          "--redis-key-prefix");

  @Test
  void defaultsMatchTheServerDefaults() {
    ServerOptions o = LatticeMain.parse(Map.of());
    SessionConfig d = SessionConfig.defaults();

    assertThat(o.port()).isEqualTo(7070);
    assertThat(o.bindAddress()).isEqualTo("0.0.0.0");
    assertThat(o.dataDirectory()).isEqualTo(Path.of("lattice-data").toAbsolutePath());
    assertThat(o.inMemory()).isFalse();
    assertThat(o.sessionConfig().protocolLimits().maxFrameBytes())
        .isEqualTo(d.protocolLimits().maxFrameBytes());
    assertThat(o.sessionConfig().maxDocumentsPerConnection())
        .isEqualTo(d.maxDocumentsPerConnection());
    assertThat(o.sessionConfig().updatesPerSecond()).isEqualTo(d.updatesPerSecond());
    assertThat(o.sessionConfig().updateBurst()).isEqualTo(d.updateBurst());
    assertThat(o.sessionConfig().idleTimeout()).isEqualTo(d.idleTimeout());
    assertThat(o.maxFieldsPerDocument()).isEqualTo(10_000);
    assertThat(o.maxOutgoingBytes()).isEqualTo(4L * 1024 * 1024);
    assertThat(o.redis()).as("no Redis unless asked").isNull();
  }

  @Test
  void redisFlagSelectsRedisMode() {
    ServerOptions o =
        LatticeMain.parse(
            Map.of(),
            "--redis=redis://127.0.0.1:6380",
            "--redis-wait-replicas=1",
            "--redis-wait-timeout=250ms",
            "--redis-key-prefix=team");

    assertThat(o.redis())
        .isEqualTo(
            new ServerOptions.Redis(
                List.of("redis://127.0.0.1:6380"), false, 1, Duration.ofMillis(250), "team"));
    assertThat(o.storage()).isEqualTo("data in Redis at redis://127.0.0.1:6380");
    o.toBuilder().build(); // the builder takes the combination
  }

  @Test
  void redisComesFromTheEnvironmentAndHidesItsPasswordInTheLog() {
    ServerOptions o =
        LatticeMain.parse(Map.of("LATTICE_REDIS", "redis://:s3cret@cache.internal:6379/0"));

    assertThat(o.redis().uris()).containsExactly("redis://:s3cret@cache.internal:6379/0");
    assertThat(o.redis().waitReplicas()).isZero();
    assertThat(o.redis().keyPrefix()).isEqualTo("lattice");
    assertThat(o.storage())
        .isEqualTo("data in Redis at redis://***@cache.internal:6379/0")
        .doesNotContain("s3cret");
  }

  @Test
  void redisClusterTakesSeveralSeeds() {
    ServerOptions o =
        LatticeMain.parse(
            Map.of(), "--redis-cluster=redis://127.0.0.1:7001,redis://127.0.0.1:7002");
    ServerOptions fromEnv =
        LatticeMain.parse(
            Map.of("LATTICE_REDIS_CLUSTER", "redis://127.0.0.1:7001,redis://127.0.0.1:7002"));

    assertThat(o.redis().cluster()).isTrue();
    assertThat(o.redis().uris())
        .containsExactly("redis://127.0.0.1:7001", "redis://127.0.0.1:7002");
    assertThat(fromEnv.redis()).isEqualTo(o.redis());
  }

  @Test
  void redisModeRefusesContradictions() {
    assertUsageError(
        Map.of(), List.of("--redis=redis://a:1", "--redis-cluster=redis://b:2"), "not both");
    assertUsageError(
        Map.of("LATTICE_IN_MEMORY", "true"), "--redis=redis://a:1", "exclude each other");
    assertUsageError(Map.of(), "--redis-wait-replicas=1", "needs --redis");
    assertUsageError(Map.of(), "--redis=localhost:6379", "redis://host:port");
    assertUsageError(
        Map.of(), List.of("--redis=redis://a:1", "--redis-wait-replicas=-1"), "negative");
  }

  @Test
  void everyFlagIsParsed() {
    ServerOptions o =
        LatticeMain.parse(
            Map.of(),
            "--port=9000",
            "--bind=127.0.0.1",
            "--data-dir=/tmp/lattice-x",
            "--in-memory",
            "--max-frame-bytes=2048",
            "--max-documents-per-connection=7",
            "--max-fields-per-document=50",
            "--updates-per-second=11",
            "--update-burst=22",
            "--idle-timeout=PT45S",
            "--max-outgoing-bytes=65536");

    assertThat(o.port()).isEqualTo(9000);
    assertThat(o.bindAddress()).isEqualTo("127.0.0.1");
    assertThat(o.dataDirectory()).isEqualTo(Path.of("/tmp/lattice-x"));
    assertThat(o.inMemory()).isTrue();
    assertThat(o.sessionConfig().protocolLimits().maxFrameBytes()).isEqualTo(2048);
    assertThat(o.sessionConfig().maxDocumentsPerConnection()).isEqualTo(7);
    assertThat(o.maxFieldsPerDocument()).isEqualTo(50);
    assertThat(o.sessionConfig().updatesPerSecond()).isEqualTo(11);
    assertThat(o.sessionConfig().updateBurst()).isEqualTo(22);
    assertThat(o.sessionConfig().idleTimeout()).isEqualTo(Duration.ofSeconds(45));
    assertThat(o.maxOutgoingBytes()).isEqualTo(65536);
  }

  @Test
  void environmentVariablesSupplyDefaults() {
    ServerOptions o =
        LatticeMain.parse(
            Map.ofEntries(
                Map.entry("LATTICE_PORT", "9100"),
                Map.entry("LATTICE_BIND", "127.0.0.2"),
                Map.entry("LATTICE_DATA_DIR", "/var/lib/lattice"),
                Map.entry("LATTICE_IN_MEMORY", "true"),
                Map.entry("LATTICE_MAX_FRAME_BYTES", "4096"),
                Map.entry("LATTICE_MAX_DOCUMENTS_PER_CONNECTION", "8"),
                Map.entry("LATTICE_MAX_FIELDS_PER_DOCUMENT", "60"),
                Map.entry("LATTICE_UPDATES_PER_SECOND", "12"),
                Map.entry("LATTICE_UPDATE_BURST", "24"),
                Map.entry("LATTICE_IDLE_TIMEOUT", "2m"),
                Map.entry("LATTICE_MAX_OUTGOING_BYTES", "1000"),
                Map.entry("LATTICE_CACHE_MAX_BYTES", "0"),
                Map.entry("LATTICE_MAX_THREADS", "12"),
                Map.entry("LATTICE_MIN_ROUND_INTERVAL", "250us")));

    assertThat(o.port()).isEqualTo(9100);
    assertThat(o.bindAddress()).isEqualTo("127.0.0.2");
    assertThat(o.dataDirectory()).isEqualTo(Path.of("/var/lib/lattice"));
    assertThat(o.inMemory()).isTrue();
    assertThat(o.sessionConfig().protocolLimits().maxFrameBytes()).isEqualTo(4096);
    assertThat(o.sessionConfig().maxDocumentsPerConnection()).isEqualTo(8);
    assertThat(o.maxFieldsPerDocument()).isEqualTo(60);
    assertThat(o.sessionConfig().updatesPerSecond()).isEqualTo(12);
    assertThat(o.sessionConfig().updateBurst()).isEqualTo(24);
    assertThat(o.sessionConfig().idleTimeout()).isEqualTo(Duration.ofMinutes(2));
    assertThat(o.maxOutgoingBytes()).isEqualTo(1000);
    assertThat(o.cacheMaxBytes()).isZero();
    assertThat(o.maxThreads()).isEqualTo(12);
    assertThat(o.minRoundInterval()).isEqualTo(Duration.ofNanos(250_000));
  }

  @Test
  void inMemoryFalseOverridesTheEnvironment() {
    assertThat(
            LatticeMain.parse(Map.of("LATTICE_IN_MEMORY", "true"), "--in-memory=false").inMemory())
        .isFalse();
    assertThat(LatticeMain.parse(Map.of(), "--in-memory").inMemory()).isTrue();
    assertThat(LatticeMain.parse(Map.of()).inMemory()).isFalse();
    assertThat(LatticeMain.parse(Map.of()).cacheMaxBytes()).isEqualTo(64L * 1024 * 1024);
  }

  @Test
  void aFlagBeatsItsEnvironmentVariable() {
    ServerOptions o =
        LatticeMain.parse(
            Map.of("LATTICE_PORT", "9100", "LATTICE_IDLE_TIMEOUT", "2m"),
            "--port",
            "9200",
            "--idle-timeout",
            "500ms");

    assertThat(o.port()).isEqualTo(9200);
    assertThat(o.sessionConfig().idleTimeout()).isEqualTo(Duration.ofMillis(500));
  }

  @Test
  void unrelatedOrBlankVariablesAreIgnored() {
    ServerOptions o = LatticeMain.parse(Map.of("PORT", "1", "LATTICE_BIND", " "));

    assertThat(o.port()).isEqualTo(7070);
    assertThat(o.bindAddress()).isEqualTo("0.0.0.0");
  }

  @Test
  void badValuesAreUsageErrorsWithExitCode2() {
    assertUsageError(Map.of(), "--port=abc", "Invalid value");
    assertUsageError(Map.of(), "--port=70000", "--port (LATTICE_PORT) must be within 0..65535");
    assertUsageError(Map.of(), "--idle-timeout=soon", "is not a duration");
    assertUsageError(Map.of(), "--update-burst=0", "--update-burst (LATTICE_UPDATE_BURST)");
    assertUsageError(Map.of(), "--no-such-flag", "Unknown option");
    assertUsageError(Map.of("LATTICE_PORT", "x"), "--in-memory", "Invalid value");
  }

  @Test
  void parseRefusesBadValuesWithoutStartingAnything() {
    assertThatThrownBy(() -> LatticeMain.parse(Map.of(), "--max-frame-bytes=1"))
        .isInstanceOf(ParameterException.class)
        .hasMessageContaining("--max-frame-bytes (LATTICE_MAX_FRAME_BYTES)");
  }

  @Test
  void validationMessagesNameFlagsAndVariablesNotJavaNames() {
    String[][] cases = {
      {"--max-frame-bytes=1", "--max-frame-bytes (LATTICE_MAX_FRAME_BYTES)", "maxFrameBytes"},
      {"--update-burst=0", "--update-burst (LATTICE_UPDATE_BURST)", "updateBurst"},
      {
        "--updates-per-second=0",
        "--updates-per-second (LATTICE_UPDATES_PER_SECOND)",
        "updatesPerSecond"
      },
      {"--max-threads=3", "--max-threads (LATTICE_MAX_THREADS)", "maxThreads"},
      {"--port=70000", "--port (LATTICE_PORT)", "port must"},
      {
        "--max-outgoing-bytes=0", "--max-outgoing-bytes (LATTICE_MAX_OUTGOING_BYTES)", "maxOutgoing"
      },
      {"--cache-max-bytes=-1", "--cache-max-bytes (LATTICE_CACHE_MAX_BYTES)", "cacheMaxBytes"},
    };
    for (String[] c : cases) {
      StringWriter err = new StringWriter();
      CommandLine cmd = LatticeMain.commandLine(Map.of());
      cmd.setErr(new PrintWriter(err));
      cmd.setOut(new PrintWriter(new StringWriter()));
      assertThat(cmd.execute(c[0])).as(c[0]).isEqualTo(2);
      assertThat(err.toString()).as(c[0]).contains(c[1]).doesNotContain(c[2]);
    }
  }

  @Test
  void aBadFlagPrintsTheErrorAndOneUsageLineNotTheWholeHelp() {
    StringWriter err = new StringWriter();
    CommandLine cmd = LatticeMain.commandLine(Map.of());
    cmd.setErr(new PrintWriter(err));
    cmd.setOut(new PrintWriter(new StringWriter()));

    assertThat(cmd.execute("--no-such-flag")).isEqualTo(2);
    assertThat(err.toString().lines())
        .containsExactly(
            "lattice-server: Unknown option: '--no-such-flag'",
            "Usage: lattice-server [OPTIONS]  (--help lists every option and its variable)");
  }

  @Test
  void startupFailuresAreOneLineNamingTheFlagToChange() {
    ServerOptions o = LatticeMain.parse(Map.of(), "--port=7070", "--bind=127.0.0.1");
    assertThat(
            LatticeMain.startupFailure(
                o,
                new IllegalStateException(
                    "could not start", new java.net.BindException("Address already in use"))))
        .isEqualTo(
            "port 7070 on 127.0.0.1 is already in use: choose another with --port or LATTICE_PORT");
    assertThat(
            LatticeMain.startupFailure(
                o,
                new IllegalStateException(
                    "could not start",
                    new java.io.IOException(
                        "Failed to bind to /127.0.0.1:7070",
                        new java.net.BindException("Permission denied")))))
        .contains("needs privileges")
        .contains("--port or LATTICE_PORT");
    assertThat(
            LatticeMain.startupFailure(
                o,
                new IllegalStateException(
                    "could not start",
                    new dev.lattice.server.store.StoreLockedException("locked", null))))
        .isEqualTo(
            "the data directory "
                + o.dataDirectory()
                + " is in use by another Lattice server: stop that server or choose another"
                + " directory with --data-dir or LATTICE_DATA_DIR");
    assertThat(
            LatticeMain.startupFailure(
                o,
                new IllegalStateException(
                    "could not start", new java.net.UnknownHostException("no.such.host"))))
        .contains("choose another with --bind or LATTICE_BIND");
    ServerOptions redis = LatticeMain.parse(Map.of(), "--redis=redis://db:6379");
    assertThat(
            LatticeMain.startupFailure(
                redis,
                new IllegalStateException(
                    "could not start",
                    new RuntimeException("Connection refused: db/10.0.0.1:6379"))))
        .startsWith("Connection refused: db/10.0.0.1:6379: check --redis or LATTICE_REDIS")
        .doesNotContain("\n");
  }

  @Test
  void helpListsEveryOptionAndItsVariable() {
    StringWriter out = new StringWriter();
    CommandLine cmd = LatticeMain.commandLine(Map.of());
    cmd.setOut(new PrintWriter(out));

    assertThat(cmd.execute("--help")).isZero();
    for (String option : OPTIONS) {
      assertThat(out.toString())
          .contains(option)
          .contains(LatticeMain.EnvironmentDefaults.variable(option));
    }
    assertThat(out.toString())
        .contains("--version", "default 7070", "LATTICE_DATA_DIR")
        .contains("/metrics", "/healthz", "/readyz", "/v1/docs/{id}");
  }

  @Test
  void versionPrints() {
    StringWriter out = new StringWriter();
    CommandLine cmd = LatticeMain.commandLine(Map.of());
    cmd.setOut(new PrintWriter(out));

    assertThat(cmd.execute("--version")).isZero();
    assertThat(out.toString()).startsWith("lattice-server ");
  }

  @Test
  void durationsAcceptShortAndIsoForms() {
    var c = new LatticeMain.DurationConverter();
    assertThat(c.convert("30s")).isEqualTo(Duration.ofSeconds(30));
    assertThat(c.convert("5m")).isEqualTo(Duration.ofMinutes(5));
    assertThat(c.convert("1h")).isEqualTo(Duration.ofHours(1));
    assertThat(c.convert("1d")).isEqualTo(Duration.ofDays(1));
    assertThat(c.convert("250ms")).isEqualTo(Duration.ofMillis(250));
    assertThat(c.convert("250us")).isEqualTo(Duration.ofNanos(250_000));
    assertThat(c.convert("0")).isEqualTo(Duration.ZERO);
    assertThat(c.convert("pt1m30s")).isEqualTo(Duration.ofSeconds(90));
  }

  private static void assertUsageError(Map<String, String> env, String arg, String message) {
    assertUsageError(env, List.of(arg), message);
  }

  private static void assertUsageError(Map<String, String> env, List<String> args, String message) {
    String arg = String.join(" ", args);
    StringWriter err = new StringWriter();
    CommandLine cmd = LatticeMain.commandLine(env);
    cmd.setErr(new PrintWriter(err));
    cmd.setOut(new PrintWriter(new StringWriter()));

    assertThat(cmd.execute(args.toArray(String[]::new))).as(arg).isEqualTo(2);
    assertThat(err.toString()).as(arg).contains(message).contains("Usage: lattice-server");
  }
}

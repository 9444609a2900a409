package dev.lattice.load;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class LoadMainTest {

  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private int run(String... args) {
    CommandLine cmd = LoadMain.commandLine();
    cmd.setOut(new PrintWriter(out));
    cmd.setErr(new PrintWriter(err));
    return cmd.execute(args);
  }

  @Test
  void throughputRunsEndToEndAndPrintsAResultLine() {
    int code =
        run("throughput", "--in-memory", "-c", "2", "-w", "4", "-n", "200", "--warmup", "0s");

    assertThat(code).as(err.toString()).isZero();
    assertThat(out.toString())
        .contains("rate limit raised")
        .contains("server counter 200, acknowledged increments 200: OK")
        .containsPattern(
            "RESULT \\{\"scenario\":\"throughput\",.*\"acked\":200,.*\"serverCounter\":200,.*\"ok\":true\\}");
  }

  @Test
  void fanoutRunsEndToEndAndPrintsAResultLine() {
    int code = run("fanout", "--in-memory", "-s", "2", "-r", "500", "-n", "10", "--warmup", "0s");

    assertThat(code).as(err.toString()).isZero();
    assertThat(out.toString())
        .contains("deliveries = sent x subscribers: OK")
        .containsPattern("RESULT \\{\"scenario\":\"fanout\",.*\"deliveries\":20,.*\"ok\":true\\}");
  }

  @Test
  void catchupRunsEndToEndAndPrintsAResultLine() {
    int code = run("catchup", "--in-memory", "--missed", "50", "--repeats", "2", "--warmup", "0s");

    assertThat(code).as(err.toString()).isZero();
    assertThat(out.toString())
        .contains("after every catch-up the reader held each writer's exact count: OK")
        .contains("target: under 50 ms")
        .containsPattern(
            "RESULT \\{\"scenario\":\"catchup\",\"missed\":50,\"writers\":2,.*\"measured\":2,"
                + ".*\"framesMin\":1,\"framesMax\":1,.*\"ok\":true\\}");
  }

  @Test
  void aServerMustBeNamed() {
    assertThat(run("throughput")).isEqualTo(2);
    assertThat(err.toString()).contains("--uri").contains("--embedded").contains("--in-memory");
  }

  @Test
  void onlyOneServerMayBeNamed() {
    assertThat(run("throughput", "--in-memory", "--embedded")).isEqualTo(2);
    assertThat(err.toString()).contains("mutually exclusive");
  }

  @Test
  void badValuesAreUsageErrorsNamingTheValue() {
    assertThat(run("throughput", "--in-memory", "-c", "0")).isEqualTo(2);
    assertThat(err.toString()).contains("connections must be at least 1, was 0");

    assertThat(run("catchup", "--in-memory", "--missed", "1", "--writers", "3")).isEqualTo(2);
    assertThat(err.toString()).contains("missed must be at least the number of writers (3)");

    assertThat(run("fanout", "--in-memory", "--duration", "soon")).isEqualTo(2);
    assertThat(err.toString()).contains("'soon' is not a duration");

    assertThat(run("throughput", "--uri", "http://localhost:7070/v1/sync")).isEqualTo(2);
    assertThat(err.toString()).contains("ws://");
  }

  @Test
  void withoutAScenarioTheWorkloadRunsAndStillNeedsAServer() {
    assertThat(LoadMain.withDefaultScenario(new String[] {"--in-memory"}))
        .containsExactly("workload", "--in-memory");
    assertThat(LoadMain.withDefaultScenario(new String[0])).containsExactly("workload");
    assertThat(LoadMain.withDefaultScenario(new String[] {"fanout", "--in-memory"}))
        .containsExactly("fanout", "--in-memory");
    assertThat(LoadMain.withDefaultScenario(new String[] {"--help"})).containsExactly("--help");

    assertThat(run(LoadMain.withDefaultScenario(new String[0]))).isEqualTo(2);
    assertThat(err.toString()).contains("--uri").contains("--in-memory");
  }

  @Test
  void badWorkloadValuesAreUsageErrors() {
    assertThat(run("workload", "--in-memory", "--clients", "2", "--docs", "3")).isEqualTo(2);
    assertThat(err.toString()).contains("docs must be between 1 and the number of clients (2)");
  }

  @Test
  void anUnreachableServerFailsTheRunWithExitCodeOne() throws Exception {
    int freePort;
    try (java.net.ServerSocket s =
        new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      freePort = s.getLocalPort();
    }
    int code =
        run(
            "throughput",
            "--uri",
            "ws://127.0.0.1:" + freePort + "/v1/sync",
            "--timeout",
            "2s",
            "--warmup",
            "0s");

    assertThat(code).isEqualTo(1);
    assertThat(err.toString()).contains("could not connect");
  }

  /** A server that lets in only connections whose upgrade carries {@code Bearer load-secret}. */
  private static dev.lattice.server.LatticeServer tokenCheckingServer() {
    return dev.lattice.server.LatticeServer.builder()
        .bindAddress("127.0.0.1")
        .port(0)
        .inMemory(true)
        .sessionConfig(
            dev.lattice.server.spi.SessionConfig.defaults().toBuilder()
                .updatesPerSecond(Target.RAISED_RATE)
                .updateBurst(Target.RAISED_RATE)
                .build())
        .authenticator(
            dev.lattice.server.spi.Authenticator.of(
                token ->
                    token.filter("load-secret"::equals).isPresent()
                        ? dev.lattice.server.spi.AuthResult.granted(
                            dev.lattice.server.spi.Principal.of("load"))
                        : dev.lattice.server.spi.AuthResult.refused("wrong token")))
        .build()
        .start();
  }

  @Test
  void aTokenOrTokenFileLetsTheRunIntoAnAuthenticatingServer(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    try (dev.lattice.server.LatticeServer server = tokenCheckingServer()) {
      String uri = server.uri().toString();
      String[] common = {"-c", "2", "-w", "4", "-n", "100", "--warmup", "0s", "--timeout", "5s"};

      assertThat(run(concat(new String[] {"throughput", "--uri", uri}, common)))
          .as("without a token")
          .isEqualTo(1);
      assertThat(err.toString()).contains("credentials refused");

      assertThat(
              run(
                  concat(
                      new String[] {"throughput", "--uri", uri, "--token", "load-secret"}, common)))
          .as(err.toString())
          .isZero();
      assertThat(out.toString()).contains("acknowledged increments 100: OK");

      java.nio.file.Path file = dir.resolve("token");
      java.nio.file.Files.writeString(file, "load-secret\n");
      assertThat(
              run(
                  concat(
                      new String[] {"throughput", "--uri", uri, "--token-file", file.toString()},
                      common)))
          .as(err.toString())
          .isZero();
      // The token never reaches the report.
      assertThat(out.toString()).doesNotContain("load-secret");
    }
    assertThat(UpgradeToken.get()).as("cleared after the run").isEmpty();
  }

  @Test
  void tokenAndTokenFileAreExclusiveAndAnEmptyFileIsAUsageError(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path empty = java.nio.file.Files.writeString(dir.resolve("empty"), " \n");
    assertThat(run("throughput", "--in-memory", "--token", "a", "--token-file", empty.toString()))
        .isEqualTo(2);
    assertThat(err.toString()).contains("mutually exclusive");
    assertThat(run("throughput", "--in-memory", "--token-file", empty.toString())).isEqualTo(2);
    assertThat(err.toString()).contains("is empty");
  }

  private static String[] concat(String[] a, String[] b) {
    String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, all, a.length, b.length);
    return all;
  }
}

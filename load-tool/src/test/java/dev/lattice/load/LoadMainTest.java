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
}

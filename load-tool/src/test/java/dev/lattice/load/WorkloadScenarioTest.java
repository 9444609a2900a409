package dev.lattice.load;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Smoke runs with tiny counts against an in-process server: bookkeeping, never speed. */
class WorkloadScenarioTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(20);

  @Test
  void closedLoopConvergesWithExactCountsAndOrderedPercentiles() throws Exception {
    try (Target target = Target.inProcess(true)) {
      WorkloadScenario.Result r =
          WorkloadScenario.run(
              List.of(target.uri()), new WorkloadScenario.Config(6, 2, 20, 0, 5, TIMEOUT));

      assertThat(WorkloadScenario.describe(r)).isEmpty();
      assertThat(r.ok()).isTrue();
      assertThat(r.warmupUpdates()).isEqualTo(5);
      assertThat(r.sent()).isEqualTo(120);
      assertThat(r.acked()).isEqualTo(120);
      assertThat(r.errors()).isZero();
      // Each document has 3 members: each update is observed by the 2 others.
      assertThat(r.expectedObserved()).isEqualTo(120 * 2);
      assertThat(r.observed()).isEqualTo(r.expectedObserved());
      assertThat(r.deliveries()).isPositive().isLessThanOrEqualTo(r.expectedObserved());
      assertThat(r.clientsWrong()).isZero();
      assertThat(r.fanout().getTotalCount()).isEqualTo(120);
      assertThat(r.ack().getTotalCount()).isEqualTo(120);
      assertOrdered(r.fanout());
      assertOrdered(r.ack());
      assertThat(r.seconds()).isPositive();
      assertThat(r.ackedPerSecond()).isPositive();
      // Version 2's UPDATE_OWN of an increment of "c<g>" with numbers below 128: 10 bytes of
      // MessagePack plus 6 of framing (an UPDATE, version 1, would be over 30).
      assertThat(r.wireBytesPerUpdate()).isEqualTo(16.0);
    }
  }

  @Test
  void requestIdsStayInOneByteSoAnIncrementPastTheTwoHundredFiftySixthTakesTwentyWireBytes()
      throws Exception {
    try (Target target = Target.inProcess(true)) {
      WorkloadScenario.Result r =
          WorkloadScenario.run(
              List.of(target.uri()), new WorkloadScenario.Config(2, 1, 300, 0, 0, TIMEOUT));

      assertThat(WorkloadScenario.describe(r)).isEmpty();
      // UPDATE_OWN of "c0" with a one-byte request id and alias, 6 bytes of framing: 16 bytes
      // while seq and count are below 128, 18 to 255, 20 from 256 (counting the request id up
      // from 2 would add 1 byte from the 127th update and 2 from the 255th).
      double perClient = 127 * 16 + 128 * 18 + 45 * 20;
      assertThat(r.wireBytesPerUpdate()).isEqualTo(perClient / 300);
    }
  }

  @Test
  void openLoopAtASmallRateConverges() throws Exception {
    try (Target target = Target.inProcess(true)) {
      // 6 clients at 50/s, 10 updates each: the schedule lasts 0.2 s.
      WorkloadScenario.Result r =
          WorkloadScenario.run(
              List.of(target.uri()), new WorkloadScenario.Config(6, 2, 10, 50, 0, TIMEOUT));

      assertThat(WorkloadScenario.describe(r)).isEmpty();
      assertThat(r.ok()).isTrue();
      assertThat(r.acked()).isEqualTo(60);
      assertThat(r.observed()).isEqualTo(120);
      assertThat(r.fanout().getTotalCount()).isEqualTo(60);
      // First send to last ACK spans at least the schedule: the last send is due at
      // (5/6 + 9) / 50 s = 197 ms.
      assertThat(r.seconds()).isGreaterThanOrEqualTo(0.19);
      assertOrdered(r.fanout());
    }
  }

  @Test
  void aTimeLimitThatPassesFailsTheRunAndSaysSo() throws Exception {
    try (Target target = Target.inProcess(true)) {
      // Closed loop, 2 x 1,000,000 updates within 300 ms: 6.7 M round trips/s, far beyond any
      // server; the run stops at the limit (the ledger of 2 M updates takes about 40 MB).
      WorkloadScenario.Result r =
          WorkloadScenario.run(
              List.of(target.uri()),
              new WorkloadScenario.Config(2, 1, 1_000_000, 0, 0, Duration.ofMillis(300)));

      assertThat(r.ok()).isFalse();
      assertThat(String.join(" ", WorkloadScenario.describe(r)))
          .contains("time limit")
          .contains("acknowledged");
    }
  }

  @Test
  void theDefaultScenarioWritesItsJson(@TempDir Path dir) throws Exception {
    Path json = dir.resolve("out/result.json");
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = LoadMain.commandLine();
    cmd.setOut(new PrintWriter(out));
    cmd.setErr(new PrintWriter(err));
    String[] args = {
      "--in-memory",
      "--clients",
      "4",
      "--docs",
      "2",
      "--updates",
      "5",
      "--warmup-updates",
      "2",
      "--json",
      json.toString()
    };

    int code = cmd.execute(LoadMain.withDefaultScenario(args));

    assertThat(code).as(err.toString()).isZero();
    assertThat(out.toString())
        .contains("lattice-load workload")
        .contains("warm-up done: 4 clients x 2 updates")
        .contains("convergence: every client ended with members x K on its document: OK")
        .containsPattern("RESULT \\{\"scenario\":\"workload\",.*\"acked\":20,.*\"ok\":true\\}");
    String written = Files.readString(json).trim();
    assertThat(written)
        .startsWith("{\"scenario\":\"workload\"")
        .contains("\"observed\":20,\"expectedObserved\":20")
        .endsWith("\"ok\":true}");
    assertThat(out.toString()).contains("RESULT " + written);
  }

  private static void assertOrdered(Histogram h) {
    long p50 = Report.at(h, 50);
    long p90 = Report.at(h, 90);
    long p99 = Report.at(h, 99);
    long p999 = Report.at(h, 99.9);
    assertThat(p50).isPositive();
    assertThat(p50).isLessThanOrEqualTo(p90);
    assertThat(p90).isLessThanOrEqualTo(p99);
    assertThat(p99).isLessThanOrEqualTo(p999);
    assertThat(h.getMaxValue()).isLessThanOrEqualTo(p999);
    assertThat(h.getMaxValue()).isGreaterThanOrEqualTo(h.lowestEquivalentValue(p999));
  }
}

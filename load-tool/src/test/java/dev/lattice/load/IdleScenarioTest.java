package dev.lattice.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class IdleScenarioTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  @Test
  void idleConnectionsAnswerPingsAndStayOpenInProcess() throws Exception {
    // The server PINGs a silent connection at half its idle timeout (1 s of 2 s) and closes it
    // at 2 s: holding 3 s only works if every connection answers.
    try (Target target = Target.inProcess(true, Duration.ofSeconds(2))) {
      IdleScenario.Result r =
          IdleScenario.run(
              target.uri(),
              new IdleScenario.Config(20, 3, Duration.ofSeconds(3), 0, Duration.ZERO, TIMEOUT),
              ServerProbe.self(),
              true);

      assertThat(r.ok()).isTrue();
      assertThat(r.established()).isEqualTo(20);
      assertThat(r.closedDuringHold()).isZero();
      assertThat(r.pongs()).isGreaterThanOrEqualTo(20);
      assertThat(r.clientsInServerProcess()).isTrue();
      assertThat(r.heapAfter()).isPositive();
      assertThat(r.holdSeconds()).isGreaterThanOrEqualTo(3.0);
    }
  }

  @Test
  void aWorkerJvmOpensItsShareAndIsStopped() throws Exception {
    try (Target target = Target.inProcess(true)) {
      IdleScenario.Result r =
          IdleScenario.run(
              target.uri(),
              new IdleScenario.Config(10, 2, Duration.ZERO, 1, Duration.ZERO, TIMEOUT),
              ServerProbe.self(),
              true);

      assertThat(r.ok()).isTrue();
      assertThat(r.established()).isEqualTo(10);
      assertThat(r.clientsInServerProcess()).isFalse();
    }
  }

  @Test
  void workersShareTheConnectionsWithoutGapsOrOverlap() {
    IdleScenario.Config c =
        new IdleScenario.Config(10, 1, Duration.ZERO, 3, Duration.ZERO, TIMEOUT);
    assertThat(c.share(0)).containsExactly(0, 4);
    assertThat(c.share(1)).containsExactly(4, 3);
    assertThat(c.share(2)).containsExactly(7, 3);
    assertThatThrownBy(
            () -> new IdleScenario.Config(20_000, 1, Duration.ZERO, 0, Duration.ZERO, TIMEOUT))
        .hasMessageContaining("--procs");
    assertThatThrownBy(
            () -> new IdleScenario.Config(10, 1, Duration.ofMinutes(6), 0, Duration.ZERO, TIMEOUT))
        .hasMessageContaining("hold");
  }

  @Test
  void sourceAddressesMoveToTheNextLoopbackAddressEvery25000Connections() throws Exception {
    InetAddress loopback = InetAddress.getByName("127.0.0.1");
    assertThat(IdleClients.sourceAddress(0, loopback).getHostAddress()).isEqualTo("127.0.0.1");
    assertThat(IdleClients.sourceAddress(24_999, loopback).getHostAddress()).isEqualTo("127.0.0.1");
    assertThat(IdleClients.sourceAddress(25_000, loopback).getHostAddress()).isEqualTo("127.0.0.2");
    assertThat(IdleClients.sourceAddress(0, InetAddress.getByName("10.1.2.3"))).isNull();
  }

  @Test
  void procFiguresAndHeapInfoParse() {
    String stat =
        "1234 (java main (x)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 30 0 1 2 3";
    assertThat(ServerProbe.parseCpuTicks(stat)).isEqualTo(325);
    String heapInfo =
        "1234:\n garbage-first heap   total 262144K, used 12345K [0x0000000700000000, ...)\n"
            + "  region size 1024K, 2 young (2048K), 0 survivors (0K)\n";
    assertThat(ServerProbe.parseHeapUsedBytes(heapInfo)).isEqualTo(12345L * 1024);
    assertThat(ServerProbe.parseHeapUsedBytes("nothing")).isEqualTo(-1);
    assertThat(ServerProbe.self().rssBytes()).isPositive();
    assertThat(ServerProbe.self().cpuNanos()).isPositive();
  }
}

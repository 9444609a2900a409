package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The upgrade gate's limits on a manual clock: per address, per address and second, server-wide.
 */
class UpgradeGateTest {

  private final AtomicLong now = new AtomicLong(1_000_000_000L);

  private void advanceMillis(long millis) {
    now.addAndGet(millis * 1_000_000L);
  }

  @Test
  void oneAddressPastItsHandshakeRateIsRefusedWith503WhileOthersGetIn() {
    UpgradeGate gate = new UpgradeGate(1024, 1000, 3, now::get);
    for (int i = 0; i < 3; i++) {
      assertThat(gate.admit("10.0.0.1")).isNull();
      gate.release("10.0.0.1"); // connect and disconnect in a loop: the rate still counts
    }

    UpgradeGate.Refusal refused = gate.admit("10.0.0.1");

    assertThat(refused.status()).isEqualTo(503);
    assertThat(refused.retryAfterSeconds()).isEqualTo(1);
    assertThat(refused.reason()).contains("handshakesPerSecondPerAddress 3");
    assertThat(gate.connections("10.0.0.1")).as("the refusal holds no slot").isZero();
    assertThat(gate.admit("10.0.0.2")).as("another address").isNull();

    advanceMillis(334); // a third of a second refills one token
    assertThat(gate.admit("10.0.0.1")).isNull();
  }

  @Test
  void aFloodingAddressDoesNotUseUpTheServerWideRate() {
    UpgradeGate gate = new UpgradeGate(1024, 5, 2, now::get);
    assertThat(gate.admit("flood")).isNull();
    assertThat(gate.admit("flood")).isNull();
    for (int i = 0; i < 10; i++) {
      assertThat(gate.admit("flood").status()).isEqualTo(503);
    }
    // The flood's refused handshakes took nothing from the server-wide bucket.
    assertThat(gate.admit("a")).isNull();
    assertThat(gate.admit("b")).isNull();
    assertThat(gate.admit("c")).isNull();
    UpgradeGate.Refusal serverWide = gate.admit("d");
    assertThat(serverWide.status()).isEqualTo(503);
    assertThat(serverWide.reason()).contains("handshakesPerSecond 5");
  }

  @Test
  void bucketsOfQuietAddressesAreForgotten() {
    UpgradeGate gate = new UpgradeGate(1024, 1000, 2, now::get);
    for (int i = 0; i < 50; i++) {
      gate.admit("10.0.1." + i);
    }
    assertThat(gate.trackedAddresses()).isEqualTo(50);

    advanceMillis(1_000);
    gate.admit("10.0.2.1");

    assertThat(gate.trackedAddresses()).isEqualTo(1);
  }

  @Test
  void connectionsPerAddressComeFirstWith429() {
    UpgradeGate gate = new UpgradeGate(1, 1000, 100, now::get);
    assertThat(gate.admit("x")).isNull();
    UpgradeGate.Refusal refused = gate.admit("x");
    assertThat(refused.status()).isEqualTo(429);
    gate.release("x");
    assertThat(gate.admit("x")).isNull();
  }
}

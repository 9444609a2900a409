package dev.lattice.server;

import dev.lattice.protocol.TokenBucket;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * Decides, before a WebSocket upgrade, whether the server takes another connection: at most {@code
 * maxConnectionsPerAddress} open (or opening) connections from one remote address, and at most
 * {@code handshakesPerSecond} upgrades server-wide (a token bucket of a second's worth). Both are
 * checked before any session exists, so a flood of connections costs an HTTP response each and
 * nothing more.
 *
 * <p>Thread-safe: upgrades arrive on many Jetty threads at once.
 */
final class UpgradeGate {

  /** Why an upgrade was refused: the HTTP status, the Retry-After seconds and a short reason. */
  record Refusal(int status, long retryAfterSeconds, String reason) {}

  private final int maxConnectionsPerAddress;
  private final int handshakesPerSecond;
  private final TokenBucket handshakes;
  private final LongSupplier nanoTime;
  private final ConcurrentHashMap<String, AtomicInteger> byAddress = new ConcurrentHashMap<>();

  UpgradeGate(int maxConnectionsPerAddress, int handshakesPerSecond, LongSupplier nanoTime) {
    this.maxConnectionsPerAddress = maxConnectionsPerAddress;
    this.handshakesPerSecond = handshakesPerSecond;
    this.nanoTime = nanoTime;
    this.handshakes =
        new TokenBucket(handshakesPerSecond, handshakesPerSecond, nanoTime.getAsLong());
  }

  /**
   * Admits an upgrade from {@code address}, reserving one of its connections (give it back with
   * {@link #release} once the connection ends), or says why not: 429 when the address already has
   * its share, 503 when the server takes no more handshakes this second.
   */
  Refusal admit(String address) {
    // Counted and uncounted only inside compute, so a release that drops the entry never races
    // with an admit that counts in it.
    int[] count = new int[1];
    byAddress.compute(
        address,
        (a, open) -> {
          AtomicInteger o = open == null ? new AtomicInteger() : open;
          count[0] = o.incrementAndGet();
          return o;
        });
    if (count[0] > maxConnectionsPerAddress) {
      release(address);
      return new Refusal(
          429,
          1,
          "too many connections from one address (maxConnectionsPerAddress "
              + maxConnectionsPerAddress
              + ")");
    }
    long wait;
    synchronized (handshakes) {
      if (handshakes.tryAcquire(nanoTime.getAsLong())) {
        return null;
      }
      wait = handshakes.millisToNextToken();
    }
    release(address);
    return new Refusal(
        503,
        Math.max(1, (wait + 999) / 1000),
        "too many handshakes (handshakesPerSecond " + handshakesPerSecond + ")");
  }

  /** Gives back a connection {@link #admit} reserved for {@code address}. */
  void release(String address) {
    byAddress.computeIfPresent(address, (a, open) -> open.decrementAndGet() <= 0 ? null : open);
  }

  /** Connections counted for {@code address} now. */
  int connections(String address) {
    AtomicInteger open = byAddress.get(address);
    return open == null ? 0 : open.get();
  }
}

package dev.lattice.server;

import dev.lattice.protocol.TokenBucket;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * Decides, before a WebSocket upgrade, whether the server takes another connection: at most {@code
 * maxConnectionsPerAddress} open (or opening) connections from one remote address, at most {@code
 * handshakesPerSecondPerAddress} upgrades a second from one address, and at most {@code
 * handshakesPerSecond} upgrades server-wide (each a token bucket of a second's worth). All are
 * checked before any session exists, so a flood of connections costs an HTTP response each and
 * nothing more. The per-address rate comes before the server-wide one, so that one address
 * connecting and disconnecting in a loop uses up its own budget, not every client's.
 *
 * <p>A per-address bucket is kept while its address handshook within the last second (after that it
 * would be full again, so forgetting it changes nothing): stale ones are swept at most once a
 * second, so the map holds only the addresses of the last second or two.
 *
 * <p>Thread-safe: upgrades arrive on many Jetty threads at once.
 */
final class UpgradeGate {

  /** Why an upgrade was refused: the HTTP status, the Retry-After seconds and a short reason. */
  record Refusal(int status, long retryAfterSeconds, String reason) {}

  private static final long SECOND_NANOS = 1_000_000_000L;

  private final int maxConnectionsPerAddress;
  private final int handshakesPerSecond;
  private final int handshakesPerSecondPerAddress;
  private final TokenBucket handshakes;
  private final ConcurrentHashMap<String, AddressRate> rates = new ConcurrentHashMap<>();
  private final AtomicLong lastSweep;
  private final LongSupplier nanoTime;
  private final ConcurrentHashMap<String, AtomicInteger> byAddress = new ConcurrentHashMap<>();

  /** One address's handshake bucket and when it last took from it; guarded by itself. */
  private static final class AddressRate {
    final TokenBucket bucket;
    long lastNanos;

    AddressRate(int perSecond, long now) {
      this.bucket = new TokenBucket(perSecond, perSecond, now);
      this.lastNanos = now;
    }
  }

  UpgradeGate(
      int maxConnectionsPerAddress,
      int handshakesPerSecond,
      int handshakesPerSecondPerAddress,
      LongSupplier nanoTime) {
    this.maxConnectionsPerAddress = maxConnectionsPerAddress;
    this.handshakesPerSecond = handshakesPerSecond;
    this.handshakesPerSecondPerAddress = handshakesPerSecondPerAddress;
    this.nanoTime = nanoTime;
    this.lastSweep = new AtomicLong(nanoTime.getAsLong());
    this.handshakes =
        new TokenBucket(handshakesPerSecond, handshakesPerSecond, nanoTime.getAsLong());
  }

  /**
   * Admits an upgrade from {@code address}, reserving one of its connections (give it back with
   * {@link #release} once the connection ends), or says why not: 429 when the address already has
   * its share, 503 when the address or the server takes no more handshakes this second.
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
    long now = nanoTime.getAsLong();
    sweep(now);
    AddressRate rate =
        rates.computeIfAbsent(address, a -> new AddressRate(handshakesPerSecondPerAddress, now));
    long wait;
    synchronized (rate) {
      rate.lastNanos = now;
      wait = rate.bucket.tryAcquire(now) ? -1 : rate.bucket.millisToNextToken();
    }
    if (wait >= 0) {
      release(address);
      return new Refusal(
          503,
          Math.max(1, (wait + 999) / 1000),
          "too many handshakes from one address (handshakesPerSecondPerAddress "
              + handshakesPerSecondPerAddress
              + ")");
    }
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

  /** Forgets the buckets of addresses quiet for a second (full again), at most once a second. */
  private void sweep(long now) {
    long last = lastSweep.get();
    if (now - last < SECOND_NANOS || !lastSweep.compareAndSet(last, now)) {
      return;
    }
    rates
        .entrySet()
        .removeIf(
            e -> {
              synchronized (e.getValue()) {
                return now - e.getValue().lastNanos >= SECOND_NANOS;
              }
            });
  }

  /** Addresses whose handshake bucket is kept now; for tests. */
  int trackedAddresses() {
    return rates.size();
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

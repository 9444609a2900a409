package dev.lattice.client.internal;

import java.time.Clock;
import java.util.ArrayDeque;
import java.util.function.LongConsumer;

/**
 * The estimated offset of the server's clock from this machine's wall clock, NTP style: each
 * request/response pair (HELLO/WELCOME, PING/PONG) gives a sample {@code offset = serverTime -
 * (sent + received) / 2}, whose error is at most half the round trip; of the recent samples the one
 * with the smallest round trip is used. The client's HLC reads {@link #correctedMillis()}, so a
 * machine whose wall clock is minutes off still writes timestamps close to the server's time.
 *
 * <p>Thread-safe: {@link #sample} is synchronized, {@link #correctedMillis()} reads a volatile.
 */
public final class ClockSync {

  /** Samples kept: old enough ones age out, so a drifting wall clock is followed. */
  static final int WINDOW = 8;

  /** How far the estimate must move before it is saved again. */
  static final long SAVE_THRESHOLD_MILLIS = 1_000;

  private final Clock wallClock;
  private final LongConsumer save;
  private final ArrayDeque<long[]> samples = new ArrayDeque<>();
  private volatile long offsetMillis;
  private long savedMillis;

  public ClockSync(Clock wallClock) {
    this(wallClock, 0, offset -> {});
  }

  /**
   * @param initialOffsetMillis the offset to use until the first sample (the last one saved, so a
   *     client that starts offline still corrects its timestamps)
   * @param save told a new estimate once it moved more than a second from the last one told
   */
  public ClockSync(Clock wallClock, long initialOffsetMillis, LongConsumer save) {
    this.wallClock = wallClock;
    this.save = save;
    this.offsetMillis = initialOffsetMillis;
    this.savedMillis = initialOffsetMillis;
  }

  /** Wall-clock epoch milliseconds. */
  long wallMillis() {
    return wallClock.millis();
  }

  /** The wall clock corrected by the estimated offset: what the HLC uses as physical time. */
  public long correctedMillis() {
    return Math.max(0, wallClock.millis() + offsetMillis);
  }

  long offsetMillis() {
    return offsetMillis;
  }

  /**
   * Adds a sample.
   *
   * @param serverMillis the physical part of the server's time in its response
   * @param sentWallMillis this machine's wall clock when the request left
   * @param receivedWallMillis and when the response arrived
   * @param rttNanos the round trip measured on a monotonic clock
   */
  synchronized void sample(
      long serverMillis, long sentWallMillis, long receivedWallMillis, long rttNanos) {
    long offset = serverMillis - (sentWallMillis + receivedWallMillis) / 2;
    samples.addLast(new long[] {rttNanos, offset});
    if (samples.size() > WINDOW) {
      samples.removeFirst();
    }
    long[] best = samples.getFirst();
    for (long[] s : samples) {
      if (s[0] < best[0]) {
        best = s;
      }
    }
    offsetMillis = best[1];
    if (Math.abs(offsetMillis - savedMillis) > SAVE_THRESHOLD_MILLIS) {
      savedMillis = offsetMillis;
      save.accept(offsetMillis);
    }
  }
}

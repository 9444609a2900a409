package dev.lattice.hlc;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * A hybrid logical clock (Kulkarni, Demirbas et al., "Logical Physical Clocks", 2014): issues
 * {@link HlcTimestamp}s that stay close to physical time yet respect causality, so that a timestamp
 * issued after seeing another is always greater than it.
 *
 * <p>Writing {@code (l, c)} for the clock's last value and {@code pt} for the physical clock
 * reading:
 *
 * <ul>
 *   <li>{@link #now()} (local or send event): {@code l' = max(l, pt)}; {@code c' = c + 1} if {@code
 *       l' == l}, else {@code 0}.
 *   <li>{@link #update(HlcTimestamp) update(m)} (receive event): {@code l' = max(l, m.l, pt)};
 *       {@code c'} is {@code max(c, m.c) + 1} if {@code l' == l == m.l}, {@code c + 1} if only
 *       {@code l' == l}, {@code m.c + 1} if only {@code l' == m.l}, else {@code 0}.
 * </ul>
 *
 * <p>Consequences: every value is strictly greater than every value this clock returned or received
 * before it; the clock never runs backwards when the physical clock does (it keeps {@code l} and
 * bumps the counter); and {@code l} only exceeds the largest physical reading or accepted remote
 * time through counter carries. When the counter would pass {@link HlcTimestamp#MAX_LOGICAL} it
 * carries into the physical part ({@code l + 1}, counter 0) instead of wrapping or failing. On the
 * packed form both rules collapse to {@code max(last + 1, pt << 16)} and {@code max(max(last, m) +
 * 1, pt << 16)}, which is how they are computed.
 *
 * <p>{@link #update(HlcTimestamp) update} refuses, with a {@link ClockDriftException}, a remote
 * whose physical part is more than {@link #maxDrift()} ahead of the physical clock, and leaves the
 * clock unchanged.
 *
 * <p>The physical clock must return epoch milliseconds in [0, {@link
 * HlcTimestamp#MAX_PHYSICAL_MILLIS}]. A reading outside that range is treated as a broken clock
 * source, not as skew: the call throws {@link IllegalStateException} and the clock is unchanged.
 * Clamping was rejected because a too-large reading clamped to the maximum would pin the clock at
 * the end of time for good, and a negative one most likely hides a unit or wiring bug.
 *
 * <p>Thread-safe and lock-free: the whole state is one {@link AtomicLong} holding the packed last
 * timestamp, advanced by compare-and-swap.
 */
public final class HybridLogicalClock {

  /** Maximum drift used by {@link #HybridLogicalClock()}: 60 seconds. */
  public static final Duration DEFAULT_MAX_DRIFT = Duration.ofSeconds(60);

  private final LongSupplier physicalMillis;
  private final Duration maxDrift;
  // Cached because update() compares against it on every call; saturated for absurdly large drifts.
  private final long maxDriftMillis;
  private final AtomicLong last = new AtomicLong(HlcTimestamp.ZERO.toLong());

  /**
   * Creates a clock reading {@link System#currentTimeMillis()} with {@link #DEFAULT_MAX_DRIFT}.
   *
   * <p>Thread-safe, like every method of this class.
   */
  public HybridLogicalClock() {
    this(System::currentTimeMillis, DEFAULT_MAX_DRIFT);
  }

  /**
   * Creates a clock over the given physical clock and drift bound. The clock starts at {@link
   * HlcTimestamp#ZERO}, treated like any earlier value (as in the paper), so its first value
   * follows the physical clock and is never {@code ZERO} itself.
   *
   * <p>Thread-safe, like every method of this class; {@code physicalMillis} may be called
   * concurrently from several threads.
   *
   * @param physicalMillis physical time in epoch milliseconds, within [0, {@link
   *     HlcTimestamp#MAX_PHYSICAL_MILLIS}]
   * @param maxDrift how far ahead of the physical clock a remote timestamp may be; at least one
   *     millisecond, the clock's resolution
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code maxDrift} is shorter than one millisecond
   */
  public HybridLogicalClock(LongSupplier physicalMillis, Duration maxDrift) {
    this.physicalMillis = Objects.requireNonNull(physicalMillis, "physicalMillis must not be null");
    Objects.requireNonNull(maxDrift, "maxDrift must not be null");
    // Sub-millisecond drifts would truncate to 0 ms and silently mean "no remote may be ahead".
    if (maxDrift.compareTo(Duration.ofMillis(1)) < 0) {
      throw new IllegalArgumentException(
          "maxDrift must be at least 1 ms (PT0.001S), was " + maxDrift);
    }
    this.maxDrift = maxDrift;
    this.maxDriftMillis = saturatedMillis(maxDrift);
  }

  private static long saturatedMillis(Duration d) {
    try {
      return d.toMillis();
    } catch (ArithmeticException tooLong) {
      return Long.MAX_VALUE;
    }
  }

  /**
   * Returns a timestamp for a local or send event: strictly greater than every timestamp this clock
   * has returned or accepted, on any thread, and at least the current physical time.
   *
   * <p>Thread-safe and lock-free.
   *
   * @throws IllegalStateException if the physical clock reads outside [0, {@link
   *     HlcTimestamp#MAX_PHYSICAL_MILLIS}]; the clock is unchanged
   * @throws ArithmeticException if the clock already holds the largest representable timestamp
   */
  public HlcTimestamp now() {
    // Read once, outside the loop: a reading that is stale by a CAS retry is still a valid lower
    // bound, and re-reading would only add supplier calls under contention.
    long floor = readPhysical() << HlcTimestamp.LOGICAL_BITS;
    while (true) {
      long prev = last.get();
      long next = Math.max(increment(prev), floor);
      if (last.compareAndSet(prev, next)) {
        return HlcTimestamp.fromLong(next);
      }
    }
  }

  /**
   * Merges a timestamp received from another node (a receive event) and returns the clock's new
   * value, which is strictly greater than both {@code remote} and the clock's previous value, and
   * at least the current physical time.
   *
   * <p>Thread-safe and lock-free.
   *
   * @throws ClockDriftException if {@code remote.physicalMillis()} is more than {@link #maxDrift()}
   *     ahead of the physical clock; a remote exactly at the bound is accepted. The clock is
   *     unchanged.
   * @throws IllegalStateException if the physical clock reads outside [0, {@link
   *     HlcTimestamp#MAX_PHYSICAL_MILLIS}]; the clock is unchanged
   * @throws ArithmeticException if the result would pass the largest representable timestamp
   * @throws NullPointerException if {@code remote} is null
   */
  public HlcTimestamp update(HlcTimestamp remote) {
    Objects.requireNonNull(remote, "remote must not be null");
    long pt = readPhysical();
    // Both operands are in [0, 2^47), so the subtraction cannot overflow.
    if (remote.physicalMillis() - pt > maxDriftMillis) {
      throw new ClockDriftException(remote, pt, maxDrift);
    }
    long floor = pt << HlcTimestamp.LOGICAL_BITS;
    long remotePacked = remote.toLong();
    while (true) {
      long prev = last.get();
      long next = Math.max(increment(Math.max(prev, remotePacked)), floor);
      if (last.compareAndSet(prev, next)) {
        return HlcTimestamp.fromLong(next);
      }
    }
  }

  /**
   * Returns a timestamp for a local write that must order after {@code seen}, a timestamp the
   * writer has observed (the value it overwrites): the clock's {@link #update(HlcTimestamp)
   * update(seen)} when {@code seen} is within {@link #maxDrift()}, else {@code seen}'s {@link
   * HlcTimestamp#successor() successor}, and plain {@link #now()} when {@code seen} is already
   * below that.
   *
   * <p>In the second case the clock is not moved: a far-ahead timestamp the drift check refused
   * must not drag every later timestamp of this node along, yet a write made after seeing a value
   * must not lose to it (a last-writer-wins register would drop it silently). The result then lies
   * above every value this clock returned but is not remembered by it, so it is meant for one write
   * whose field holds {@code seen}; the next write of that field sees the written timestamp and
   * steps past it again.
   *
   * <p>Thread-safe and lock-free.
   *
   * @throws IllegalStateException if the physical clock reads outside [0, {@link
   *     HlcTimestamp#MAX_PHYSICAL_MILLIS}]; the clock is unchanged
   * @throws ArithmeticException if no timestamp follows {@code seen} or the clock's value
   * @throws NullPointerException if {@code seen} is null
   */
  public HlcTimestamp nowAfter(HlcTimestamp seen) {
    Objects.requireNonNull(seen, "seen must not be null");
    HlcTimestamp now = now();
    if (now.isAfter(seen)) {
      return now;
    }
    try {
      return update(seen);
    } catch (ClockDriftException tooFarAhead) {
      return seen.successor();
    }
  }

  /**
   * Moves the clock to at least {@code floor}, without the drift check, so that every later value
   * is greater than it: for timestamps this node itself holds durably, such as the greatest one in
   * a server's store at start, which its own clock (perhaps set back since) must not fall below.
   * Does nothing if the clock is already past {@code floor}.
   *
   * <p>Thread-safe and lock-free.
   *
   * @throws NullPointerException if {@code floor} is null
   */
  public void advancePast(HlcTimestamp floor) {
    Objects.requireNonNull(floor, "floor must not be null");
    last.accumulateAndGet(floor.toLong(), Math::max);
  }

  /**
   * The physical clock's current reading as a timestamp with counter 0, without advancing the
   * clock: what a peer should estimate this node's clock offset from. Not the hybrid clock's value,
   * which a remote timestamp within {@link #maxDrift()} may have moved ahead of physical time;
   * handing that out would let one peer's fast clock shift every other peer's estimate.
   *
   * <p>Thread-safe.
   *
   * @throws IllegalStateException if the physical clock reads outside [0, {@link
   *     HlcTimestamp#MAX_PHYSICAL_MILLIS}]
   */
  public HlcTimestamp physicalTime() {
    return HlcTimestamp.of(readPhysical(), 0);
  }

  /**
   * Returns the clock's last value without advancing it: {@link HlcTimestamp#ZERO} before the first
   * event. Not a fresh timestamp; use {@link #now()} to stamp an event.
   *
   * <p>Thread-safe; may be stale as soon as it returns if other threads are ticking the clock.
   */
  public HlcTimestamp peek() {
    return HlcTimestamp.fromLong(last.get());
  }

  /**
   * How far ahead of the physical clock a remote timestamp accepted by {@link
   * #update(HlcTimestamp)} may be.
   *
   * <p>Thread-safe (immutable).
   */
  public Duration maxDrift() {
    return maxDrift;
  }

  /** The last value and the drift bound, for logs. Thread-safe. */
  @Override
  public String toString() {
    return "HybridLogicalClock[last=" + peek() + ", maxDrift=" + maxDrift + "]";
  }

  private long readPhysical() {
    long pt = physicalMillis.getAsLong();
    if (pt < 0 || pt > HlcTimestamp.MAX_PHYSICAL_MILLIS) {
      throw new IllegalStateException(
          "physical clock must read epoch millis in [0, "
              + HlcTimestamp.MAX_PHYSICAL_MILLIS
              + "], read "
              + pt);
    }
    return pt;
  }

  // Packed + 1 is "counter + 1, carrying into the millis when the counter is full".
  private static long increment(long packed) {
    if (packed == Long.MAX_VALUE) {
      throw new ArithmeticException(
          "HLC exhausted: no timestamp after " + HlcTimestamp.fromLong(packed));
    }
    return packed + 1;
  }
}

package dev.lattice.crdt;

import java.math.BigInteger;
import java.util.Objects;
import java.util.function.Predicate;

/**
 * A counter that goes up and down: two {@link GCounter}s, one of increments and one of decrements;
 * the value is their difference.
 *
 * <p>The total of increments and the total of decrements must each fit in a {@code long}, which
 * keeps the value in range too; a change that would break that is refused, never wrapped. Immutable
 * and thread-safe.
 */
public final class PNCounter implements Crdt<PNCounter> {

  private static final PNCounter EMPTY = new PNCounter(GCounter.empty(), GCounter.empty());

  private final GCounter increments;
  private final GCounter decrements;

  private PNCounter(GCounter increments, GCounter decrements) {
    this.increments = increments;
    this.decrements = decrements;
  }

  /** The counter at zero. */
  public static PNCounter empty() {
    return EMPTY;
  }

  /** The counter made of these two grow-only halves. */
  public static PNCounter of(GCounter increments, GCounter decrements) {
    Objects.requireNonNull(increments, "increments");
    Objects.requireNonNull(decrements, "decrements");
    if (increments.isEmpty() && decrements.isEmpty()) {
      return EMPTY;
    }
    return new PNCounter(increments, decrements);
  }

  /**
   * Adds {@code amount}, which may be negative, on behalf of {@code replica}.
   *
   * @throws ArithmeticException if the increments or decrements would overflow a long
   */
  public Mutation<PNCounter> add(ReplicaId replica, long amount) {
    if (amount >= 0) {
      Mutation<GCounter> m = increments.increment(replica, amount);
      return new Mutation<>(
          new PNCounter(m.state(), decrements), new PNCounter(m.delta(), GCounter.empty()));
    }
    if (amount == Long.MIN_VALUE) {
      throw new ArithmeticException("PN-Counter cannot subtract Long.MIN_VALUE in one step");
    }
    Mutation<GCounter> m = decrements.increment(replica, -amount);
    return new Mutation<>(
        new PNCounter(increments, m.state()), new PNCounter(GCounter.empty(), m.delta()));
  }

  /**
   * The sum of increments minus the sum of decrements, clamped to {@code [Long.MIN_VALUE,
   * Long.MAX_VALUE]} in the rare case that a merge let a half pass {@code Long.MAX_VALUE} (see
   * {@link #fitsInLong()}). Never throws.
   */
  public long value() {
    if (fitsInLong()) {
      // Both halves are in [0, Long.MAX_VALUE], so the difference always fits.
      return increments.value() - decrements.value();
    }
    BigInteger exact = exactValue();
    if (exact.bitLength() < Long.SIZE) {
      return exact.longValue();
    }
    return exact.signum() > 0 ? Long.MAX_VALUE : Long.MIN_VALUE;
  }

  /** The exact sum of increments minus the sum of decrements, however large either is. */
  public BigInteger exactValue() {
    return increments.exactValue().subtract(decrements.exactValue());
  }

  /**
   * Whether the increments and the decrements each sum to at most {@code Long.MAX_VALUE}: the range
   * every local change and every update a sync server accepts keeps, in which {@link #value()} is
   * exact.
   */
  public boolean fitsInLong() {
    return increments.fitsInLong() && decrements.fitsInLong();
  }

  /** The grow-only counter of increments. */
  public GCounter increments() {
    return increments;
  }

  /** The grow-only counter of decrements, as positive counts. */
  public GCounter decrements() {
    return decrements;
  }

  @Override
  public PNCounter merge(PNCounter other) {
    GCounter p = increments.merge(other.increments);
    GCounter n = decrements.merge(other.decrements);
    if (p == increments && n == decrements) {
      return this;
    }
    return new PNCounter(p, n);
  }

  @Override
  public boolean isEmpty() {
    return increments.isEmpty() && decrements.isEmpty();
  }

  @Override
  public PNCounter contributionsOf(Predicate<ReplicaId> replicas) {
    return of(increments.contributionsOf(replicas), decrements.contributionsOf(replicas));
  }

  @Override
  public CrdtType type() {
    return CrdtType.PN_COUNTER;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PNCounter other
        && other.increments.equals(increments)
        && other.decrements.equals(decrements);
  }

  @Override
  public int hashCode() {
    return 31 * increments.hashCode() + decrements.hashCode();
  }

  @Override
  public String toString() {
    return "PNCounter[+" + increments.counts() + ", -" + decrements.counts() + "]";
  }
}

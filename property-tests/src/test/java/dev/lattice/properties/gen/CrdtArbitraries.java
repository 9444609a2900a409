package dev.lattice.properties.gen;

import dev.lattice.crdt.Dot;
import dev.lattice.crdt.DotRange;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.LWWRegister;
import dev.lattice.crdt.Mutation;
import dev.lattice.crdt.PNCounter;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.properties.laws.Mutator;
import dev.lattice.properties.laws.Partition;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Tuple;

/**
 * Generators of CRDT states, built the way replicas build them: by sequences of real mutations over
 * a small pool of replica ids, so that independently generated states share writers and their
 * merges overlap. Counts reach the {@code Long.MAX_VALUE} boundary, but every generated mutation is
 * clamped to the headroom its state has left, so generation itself never overflows.
 */
public final class CrdtArbitraries {

  /**
   * The replica pool. The ids include the largest unsigned value and the sign bit, where signed and
   * unsigned orderings disagree.
   */
  public static final List<ReplicaId> REPLICAS =
      List.of(
          ReplicaId.of(0x1L),
          ReplicaId.of(0x2L),
          ReplicaId.of(0x8000_0000_0000_0000L),
          ReplicaId.of(0xffff_ffff_ffff_ffffL));

  private CrdtArbitraries() {}

  /** A replica of the pool. */
  public static Arbitrary<ReplicaId> replicas() {
    return Arbitraries.of(REPLICAS);
  }

  /** Partitions of the pool into up to four groups. */
  public static Arbitrary<Partition> partitions() {
    return Arbitraries.integers()
        .between(0, 3)
        .list()
        .ofSize(REPLICAS.size())
        .map(groups -> Partition.of(REPLICAS, groups));
  }

  /** Non-negative amounts: mostly small (zero included), sometimes huge, up to Long.MAX_VALUE. */
  public static Arbitrary<Long> increments() {
    return Arbitraries.frequencyOf(
        Tuple.of(6, Arbitraries.longs().between(0, 10)),
        Tuple.of(2, Arbitraries.longs().between(0, 1_000_000_000L)),
        Tuple.of(1, Arbitraries.longs().between(Long.MAX_VALUE / 4, Long.MAX_VALUE / 2)),
        Tuple.of(1, Arbitraries.longs().between(Long.MAX_VALUE - 16, Long.MAX_VALUE)));
  }

  /** Signed amounts for a PN-Counter, from small to the extremes (Long.MIN_VALUE excluded). */
  public static Arbitrary<Long> signedAmounts() {
    return Arbitraries.frequencyOf(
        Tuple.of(6, Arbitraries.longs().between(-10, 10)),
        Tuple.of(2, Arbitraries.longs().between(-1_000_000_000L, 1_000_000_000L)),
        Tuple.of(1, Arbitraries.longs().between(Long.MAX_VALUE - 16, Long.MAX_VALUE)),
        Tuple.of(1, Arbitraries.longs().between(Long.MIN_VALUE + 1, Long.MIN_VALUE + 17)));
  }

  // ---------------------------------------------------------------- G-Counter

  /** Increment by at most {@code amount}, clamped so that the counter's value cannot overflow. */
  public static Mutation<GCounter> clampedIncrement(GCounter c, ReplicaId replica, long amount) {
    return c.increment(replica, Math.min(amount, Long.MAX_VALUE - c.value()));
  }

  /** G-Counter increments, labelled, clamped to the headroom of the state they are applied to. */
  public static Arbitrary<Mutator<GCounter>> gCounterMutators() {
    return Combinators.combine(replicas(), increments())
        .as(
            (replica, amount) ->
                new Mutator<>(
                    "increment(" + replica + ", " + amount + ")",
                    c -> clampedIncrement(c, replica, amount)));
  }

  /** G-Counters reached by up to eight increments. */
  public static Arbitrary<GCounter> gCounters() {
    return gCounterMutators().list().ofMaxSize(8).map(ops -> fold(GCounter.empty(), ops));
  }

  // ---------------------------------------------------------------- PN-Counter

  /** Add at most {@code amount} in magnitude, clamped so neither half can overflow. */
  public static Mutation<PNCounter> clampedAdd(PNCounter c, ReplicaId replica, long amount) {
    long clamped =
        amount >= 0
            ? Math.min(amount, Long.MAX_VALUE - c.increments().value())
            : -Math.min(-amount, Long.MAX_VALUE - c.decrements().value());
    return c.add(replica, clamped);
  }

  /** PN-Counter adds, labelled, clamped to the headroom of the state they are applied to. */
  public static Arbitrary<Mutator<PNCounter>> pnCounterMutators() {
    return Combinators.combine(replicas(), signedAmounts())
        .as(
            (replica, amount) ->
                new Mutator<>(
                    "add(" + replica + ", " + amount + ")", c -> clampedAdd(c, replica, amount)));
  }

  /** PN-Counters reached by up to eight adds. */
  public static Arbitrary<PNCounter> pnCounters() {
    return pnCounterMutators().list().ofMaxSize(8).map(ops -> fold(PNCounter.empty(), ops));
  }

  // ---------------------------------------------------------------- LWW-Register

  /**
   * HLC timestamps, mostly from a tiny domain so that different writes often carry equal
   * timestamps, sometimes anywhere in the representable range.
   */
  public static Arbitrary<HlcTimestamp> timestamps() {
    return Arbitraries.frequencyOf(
        Tuple.of(
            6,
            Combinators.combine(
                    Arbitraries.longs().between(0, 3), Arbitraries.integers().between(0, 2))
                .as(HlcTimestamp::of)),
        Tuple.of(
            1,
            Combinators.combine(
                    Arbitraries.longs().between(0, HlcTimestamp.MAX_PHYSICAL_MILLIS),
                    Arbitraries.integers().between(0, HlcTimestamp.MAX_LOGICAL))
                .as(HlcTimestamp::of)));
  }

  /**
   * Register writes; values come from a small domain so that ties on everything but value occur.
   */
  public static Arbitrary<Mutator<LWWRegister>> lwwRegisterMutators() {
    return Combinators.combine(ValueArbitraries.smallValues(), timestamps(), replicas())
        .as(
            (value, ts, writer) ->
                new Mutator<>(
                    "set(" + value + ", " + ts + ", " + writer + ")",
                    r -> r.set(value, ts, writer)));
  }

  /** Registers reached by up to six writes. */
  public static Arbitrary<LWWRegister> lwwRegisters() {
    return lwwRegisterMutators().list().ofMaxSize(6).map(ops -> fold(LWWRegister.empty(), ops));
  }

  /** Single writes, as registers holding them. */
  public static Arbitrary<LWWRegister> writes() {
    return Combinators.combine(ValueArbitraries.smallValues(), timestamps(), replicas())
        .as(LWWRegister::of);
  }

  // ---------------------------------------------------------------- causality

  /** Sequence numbers: mostly small, sometimes near Long.MAX_VALUE. */
  public static Arbitrary<Long> sequences() {
    return Arbitraries.frequencyOf(
        Tuple.of(8, Arbitraries.longs().between(0, 6)),
        Tuple.of(1, Arbitraries.longs().between(0, 1_000_000)),
        Tuple.of(1, Arbitraries.longs().between(Long.MAX_VALUE - 4, Long.MAX_VALUE)));
  }

  /** Version vectors over the pool. */
  public static Arbitrary<VersionVector> versionVectors() {
    return Arbitraries.maps(replicas(), sequences())
        .ofMaxSize(REPLICAS.size())
        .map(VersionVector::of);
  }

  /** Dots over the pool with small sequences. */
  public static Arbitrary<Dot> dots() {
    return Combinators.combine(replicas(), Arbitraries.longs().between(1, 12)).as(Dot::new);
  }

  /** Short ranges of low dots. */
  public static Arbitrary<DotRange> dotRanges() {
    return Combinators.combine(
            replicas(), Arbitraries.longs().between(1, 12), Arbitraries.longs().between(0, 4))
        .as((r, first, length) -> new DotRange(r, first, first + length));
  }

  /** Short ranges at or just below Long.MAX_VALUE. */
  public static Arbitrary<DotRange> dotRangesNearLongMax() {
    return Combinators.combine(
            replicas(),
            Arbitraries.longs().between(Long.MAX_VALUE - 6, Long.MAX_VALUE),
            Arbitraries.longs().between(0, 6))
        .as(
            (r, first, length) ->
                new DotRange(r, first, first + Math.min(length, Long.MAX_VALUE - first)));
  }

  /** Lists of low dot ranges (which may overlap, touch or repeat). */
  public static Arbitrary<List<DotRange>> dotRangeLists() {
    return dotRanges().list().ofMaxSize(6);
  }

  /** Lists of dot ranges, some of them reaching Long.MAX_VALUE. */
  public static Arbitrary<List<DotRange>> dotRangeListsReachingLongMax() {
    return Arbitraries.frequencyOf(Tuple.of(1, dotRanges()), Tuple.of(1, dotRangesNearLongMax()))
        .list()
        .ofMaxSize(6);
  }

  private static <T> T fold(T start, List<Mutator<T>> ops) {
    T state = start;
    for (Mutator<T> op : ops) {
      state = op.applyTo(state).state();
    }
    return state;
  }
}

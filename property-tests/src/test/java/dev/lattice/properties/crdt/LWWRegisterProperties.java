package dev.lattice.properties.crdt;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.LWWRegister;
import dev.lattice.crdt.Mutation;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.properties.gen.CrdtArbitraries;
import dev.lattice.properties.gen.ValueArbitraries;
import dev.lattice.properties.laws.CrdtLaws;
import dev.lattice.properties.laws.Mutator;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;

/**
 * The CRDT laws and the last-writer-wins rule of {@link LWWRegister}: the write with the greatest
 * (timestamp, replica) pair wins everywhere, whatever the order of merges, equal timestamps
 * included (CBaquero/delta-enabled-crdts#7).
 */
class LWWRegisterProperties implements CrdtLaws<LWWRegister> {

  /** The total order of writes a register must follow: timestamp, then replica, then value. */
  static final Comparator<LWWRegister> WRITE_ORDER =
      Comparator.comparing((LWWRegister r) -> r.timestamp().orElseThrow())
          .thenComparing(r -> r.writer().orElseThrow())
          .thenComparing(r -> r.value().orElseThrow());

  @Override
  @Provide
  public Arbitrary<LWWRegister> states() {
    return CrdtArbitraries.lwwRegisters();
  }

  @Override
  @Provide
  public Arbitrary<Mutator<LWWRegister>> mutators() {
    return CrdtArbitraries.lwwRegisterMutators();
  }

  @Override
  public LWWRegister empty() {
    return LWWRegister.empty();
  }

  @Provide
  Arbitrary<LWWRegister> writes() {
    return CrdtArbitraries.writes();
  }

  @Provide
  Arbitrary<ReplicaId> replicas() {
    return CrdtArbitraries.replicas();
  }

  @Provide
  Arbitrary<HlcTimestamp> timestamps() {
    return CrdtArbitraries.timestamps();
  }

  @Provide
  Arbitrary<Value> values() {
    return ValueArbitraries.values();
  }

  @Property
  void mergeOfAnyWritesInAnyOrderKeepsTheGreatestTimestampAndReplica(
      @ForAll @Size(min = 1, max = 8) List<@From("writes") LWWRegister> writes,
      @ForAll long shuffleSeed) {
    LWWRegister expected = Collections.max(writes, WRITE_ORDER);
    List<LWWRegister> shuffled = new ArrayList<>(writes);
    Collections.shuffle(shuffled, new Random(shuffleSeed));
    LWWRegister forward = LWWRegister.empty();
    for (LWWRegister w : writes) {
      forward = forward.merge(w);
    }
    LWWRegister reordered = LWWRegister.empty();
    for (LWWRegister w : shuffled) {
      reordered = w.merge(reordered);
    }
    assertThat(forward).isEqualTo(expected);
    assertThat(reordered).isEqualTo(expected);
  }

  @Property
  void concurrentWritesWithEqualTimestampsFromDifferentReplicasResolveIdenticallyEverywhere(
      @ForAll("timestamps") HlcTimestamp ts,
      @ForAll("replicas") ReplicaId first,
      @ForAll("replicas") ReplicaId second,
      @ForAll("values") Value v1,
      @ForAll("values") Value v2) {
    Assume.that(!first.equals(second));
    LWWRegister a = LWWRegister.of(v1, ts, first);
    LWWRegister b = LWWRegister.of(v2, ts, second);
    ReplicaId greater = first.compareTo(second) > 0 ? first : second;
    assertThat(a.merge(b)).isEqualTo(b.merge(a));
    assertThat(a.merge(b).writer()).contains(greater);
    assertThat(a.merge(b).value()).contains(greater.equals(first) ? v1 : v2);
  }

  @Property
  void replicaIdsBreakTiesInUnsignedOrder(
      @ForAll("timestamps") HlcTimestamp ts, @ForAll("values") Value v) {
    ReplicaId low = ReplicaId.of(0x7fff_ffff_ffff_ffffL);
    ReplicaId high = ReplicaId.of(0x8000_0000_0000_0000L);
    LWWRegister merged = LWWRegister.of(v, ts, low).merge(LWWRegister.of(v, ts, high));
    assertThat(merged.writer()).contains(high);
    assertThat(LWWRegister.of(v, ts, high).merge(LWWRegister.of(v, ts, low))).isEqualTo(merged);
  }

  @Property
  void writesOfOneReplicaWithEqualTimestampsResolveByValueInEveryOrder(
      @ForAll("timestamps") HlcTimestamp ts,
      @ForAll("replicas") ReplicaId writer,
      @ForAll("values") Value v1,
      @ForAll("values") Value v2) {
    LWWRegister a = LWWRegister.of(v1, ts, writer);
    LWWRegister b = LWWRegister.of(v2, ts, writer);
    assertThat(a.merge(b)).isEqualTo(b.merge(a));
    assertThat(a.merge(b).value()).contains(v1.compareTo(v2) >= 0 ? v1 : v2);
  }

  @Property
  void aWriteWithAGreaterTimestampWins(
      @ForAll("states") LWWRegister state,
      @ForAll("replicas") ReplicaId writer,
      @ForAll("values") Value value) {
    Assume.that(state.timestamp().map(t -> t.toLong() < Long.MAX_VALUE).orElse(true));
    HlcTimestamp later = state.timestamp().map(HlcTimestamp::successor).orElse(HlcTimestamp.ZERO);
    Mutation<LWWRegister> m = state.set(value, later, writer);
    assertThat(m.state().value()).contains(value);
    assertThat(m.state().timestamp()).contains(later);
    assertThat(m.state().writer()).contains(writer);
    assertThat(m.delta()).isEqualTo(LWWRegister.of(value, later, writer));
  }

  @Property
  void aWriteOlderThanTheStateLeavesItUnchangedButStillShipsAsDelta(
      @ForAll("states") LWWRegister state,
      @ForAll("replicas") ReplicaId writer,
      @ForAll("values") Value value) {
    Assume.that(!state.isEmpty() && state.timestamp().orElseThrow().toLong() > 0);
    HlcTimestamp earlier = HlcTimestamp.fromLong(state.timestamp().orElseThrow().toLong() - 1);
    Mutation<LWWRegister> m = state.set(value, earlier, writer);
    assertThat(m.state()).isEqualTo(state);
    assertThat(m.delta()).isEqualTo(LWWRegister.of(value, earlier, writer));
  }

  @Property
  void contributionsOfAReplicaAreItsWinningWriteOrNothing(
      @ForAll("states") LWWRegister state, @ForAll("replicas") ReplicaId replica) {
    LWWRegister part = state.contributionsOf(replica::equals);
    if (state.writer().filter(replica::equals).isPresent()) {
      assertThat(part).isEqualTo(state);
    } else {
      assertThat(part.isEmpty()).isTrue();
    }
  }
}

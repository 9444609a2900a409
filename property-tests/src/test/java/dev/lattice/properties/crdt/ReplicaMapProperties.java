package dev.lattice.properties.crdt;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Causality;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.VersionVector;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Predicate;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * {@link GCounter} and {@link VersionVector} against a {@code TreeMap<ReplicaId, Long>} model, over
 * random histories of raises, merges and filters that cross the size at which their replica maps
 * change representation (a flat array up to 32 entries, a tree above) in both directions. Replica
 * ids include ones with the top bit set, whose unsigned order differs from the signed one; values
 * include ones near {@code Long.MAX_VALUE}, so that a counter's sum passes it. Each history is
 * drawn from one {@code seed}, which jqwik reports on failure.
 */
class ReplicaMapProperties {

  /** A state and the model it must match. */
  private record Pair<T>(T state, TreeMap<ReplicaId, Long> model) {}

  @Property(tries = 300)
  void gCountersMatchTheModel(@ForAll long seed) {
    Random rnd = new Random(seed);
    List<ReplicaId> pool = pool(rnd);
    List<Pair<GCounter>> states = new ArrayList<>();
    states.add(new Pair<>(GCounter.empty(), new TreeMap<>()));
    for (int i = 0; i < 3; i++) {
      TreeMap<ReplicaId, Long> model = randomModel(rnd, pool);
      states.add(new Pair<>(GCounter.of(model), model));
    }
    for (int step = 0; step < 60; step++) {
      Pair<GCounter> a = states.get(rnd.nextInt(states.size()));
      Pair<GCounter> b = states.get(rnd.nextInt(states.size()));
      Pair<GCounter> next;
      switch (rnd.nextInt(5)) {
        case 0 -> {
          ReplicaId r = pool.get(rnd.nextInt(pool.size()));
          long v = value(rnd);
          TreeMap<ReplicaId, Long> raised = new TreeMap<>(a.model());
          raised.merge(r, v, Math::max);
          next = new Pair<>(a.state().merge(GCounter.of(Map.of(r, v))), raised);
          assertMergeIdentity(a.state(), a.model(), next.state(), raised);
        }
        case 1 -> {
          ReplicaId r = pool.get(rnd.nextInt(pool.size()));
          long amount = rnd.nextInt(1000);
          if (!a.state().fitsInLong() || a.state().value() > Long.MAX_VALUE - amount) {
            continue;
          }
          TreeMap<ReplicaId, Long> raised = new TreeMap<>(a.model());
          if (amount > 0) {
            raised.merge(r, amount, Long::sum);
          }
          next = new Pair<>(a.state().increment(r, amount).state(), raised);
        }
        case 2 -> {
          TreeMap<ReplicaId, Long> merged = mergeModels(a.model(), b.model());
          next = new Pair<>(a.state().merge(b.state()), merged);
          assertMergeIdentity(a.state(), a.model(), next.state(), merged);
          assertThat(b.state().merge(a.state())).isEqualTo(next.state());
        }
        case 3 -> {
          Predicate<ReplicaId> keep = subset(rnd);
          TreeMap<ReplicaId, Long> kept = filterModel(a.model(), keep);
          GCounter filtered = a.state().contributionsOf(keep);
          if (kept.size() == a.model().size()) {
            assertThat(filtered).isSameAs(a.state());
          }
          next = new Pair<>(filtered, kept);
        }
        default -> {
          TreeMap<ReplicaId, Long> model = randomModel(rnd, pool);
          next = new Pair<>(GCounter.of(model), model);
        }
      }
      check(next.state(), next.model(), pool);
      states.add(next);
    }
  }

  @Property(tries = 300)
  void versionVectorsMatchTheModel(@ForAll long seed) {
    Random rnd = new Random(seed);
    List<ReplicaId> pool = pool(rnd);
    List<Pair<VersionVector>> states = new ArrayList<>();
    states.add(new Pair<>(VersionVector.empty(), new TreeMap<>()));
    for (int i = 0; i < 3; i++) {
      TreeMap<ReplicaId, Long> model = randomModel(rnd, pool);
      states.add(new Pair<>(VersionVector.of(model), model));
    }
    for (int step = 0; step < 60; step++) {
      Pair<VersionVector> a = states.get(rnd.nextInt(states.size()));
      Pair<VersionVector> b = states.get(rnd.nextInt(states.size()));
      Pair<VersionVector> next;
      switch (rnd.nextInt(4)) {
        case 0 -> {
          ReplicaId r = pool.get(rnd.nextInt(pool.size()));
          long v = value(rnd);
          TreeMap<ReplicaId, Long> raised = new TreeMap<>(a.model());
          raised.merge(r, v, Math::max);
          next = new Pair<>(a.state().with(r, v), raised);
          if (raised.equals(a.model())) {
            assertThat(next.state()).isSameAs(a.state());
          }
        }
        case 1 -> {
          TreeMap<ReplicaId, Long> merged = mergeModels(a.model(), b.model());
          next = new Pair<>(a.state().merge(b.state()), merged);
          if (merged.equals(a.model())) {
            assertThat(next.state()).isSameAs(a.state());
          }
          assertThat(a.state().compare(b.state())).isEqualTo(compareModels(a.model(), b.model()));
        }
        case 2 -> {
          Predicate<ReplicaId> keep = subset(rnd);
          TreeMap<ReplicaId, Long> kept = filterModel(a.model(), keep);
          next = new Pair<>(a.state().filter(keep), kept);
        }
        default -> {
          TreeMap<ReplicaId, Long> model = randomModel(rnd, pool);
          next = new Pair<>(VersionVector.of(model), model);
        }
      }
      check(next.state(), next.model(), pool);
      states.add(next);
    }
  }

  /** Replica ids for one history: half with the top bit set, some sharing high bits. */
  private static List<ReplicaId> pool(Random rnd) {
    int n = 1 + rnd.nextInt(rnd.nextBoolean() ? 40 : 200);
    List<ReplicaId> pool = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      long id =
          switch (rnd.nextInt(3)) {
            case 0 -> rnd.nextLong();
            case 1 -> Long.MIN_VALUE + rnd.nextInt(1000);
            default -> 1 + rnd.nextInt(1000);
          };
      pool.add(ReplicaId.of(id));
    }
    return pool;
  }

  /** Mostly small values, sometimes near {@code Long.MAX_VALUE} so that sums overflow. */
  private static long value(Random rnd) {
    return switch (rnd.nextInt(6)) {
      case 0 -> Long.MAX_VALUE - rnd.nextInt(3);
      case 1 -> Long.MAX_VALUE / (2 + rnd.nextInt(40));
      default -> 1 + rnd.nextInt(50);
    };
  }

  private static TreeMap<ReplicaId, Long> randomModel(Random rnd, List<ReplicaId> pool) {
    TreeMap<ReplicaId, Long> model = new TreeMap<>();
    int n = rnd.nextInt(pool.size() + 1);
    for (int i = 0; i < n; i++) {
      model.put(pool.get(rnd.nextInt(pool.size())), value(rnd));
    }
    return model;
  }

  /** Keeps about {@code 1 - 1/k} of the replicas, or sometimes all or none. */
  private static Predicate<ReplicaId> subset(Random rnd) {
    long salt = rnd.nextLong();
    int k = 1 + rnd.nextInt(12);
    boolean invert = rnd.nextBoolean();
    return r -> (Long.hashCode(r.value() ^ salt) & Integer.MAX_VALUE) % k != 0 ^ invert;
  }

  private static TreeMap<ReplicaId, Long> mergeModels(
      Map<ReplicaId, Long> a, Map<ReplicaId, Long> b) {
    TreeMap<ReplicaId, Long> out = new TreeMap<>(a);
    b.forEach((r, v) -> out.merge(r, v, Math::max));
    return out;
  }

  private static TreeMap<ReplicaId, Long> filterModel(
      Map<ReplicaId, Long> model, Predicate<ReplicaId> keep) {
    TreeMap<ReplicaId, Long> out = new TreeMap<>();
    model.forEach(
        (r, v) -> {
          if (keep.test(r)) {
            out.put(r, v);
          }
        });
    return out;
  }

  private static Causality compareModels(Map<ReplicaId, Long> a, Map<ReplicaId, Long> b) {
    boolean aAhead = false;
    boolean bAhead = false;
    TreeMap<ReplicaId, Long> all = mergeModels(a, b);
    for (ReplicaId r : all.keySet()) {
      long x = a.getOrDefault(r, 0L);
      long y = b.getOrDefault(r, 0L);
      aAhead |= x > y;
      bAhead |= y > x;
    }
    if (aAhead && bAhead) {
      return Causality.CONCURRENT;
    }
    return aAhead ? Causality.AFTER : bAhead ? Causality.BEFORE : Causality.EQUAL;
  }

  /** A merge that adds nothing returns the receiver itself, as callers detect "no change" so. */
  private static void assertMergeIdentity(
      GCounter a, Map<ReplicaId, Long> aModel, GCounter merged, Map<ReplicaId, Long> model) {
    if (model.equals(aModel)) {
      assertThat(merged).isSameAs(a);
    }
  }

  private static void check(GCounter c, TreeMap<ReplicaId, Long> model, List<ReplicaId> pool) {
    assertThat(c.replicaCount()).isEqualTo(model.size());
    assertThat(c.isEmpty()).isEqualTo(model.isEmpty());
    int i = 0;
    BigInteger sum = BigInteger.ZERO;
    for (Map.Entry<ReplicaId, Long> e : model.entrySet()) {
      assertThat(c.replicaAt(i)).isEqualTo(e.getKey());
      assertThat(c.countAt(i)).isEqualTo(e.getValue());
      assertThat(c.countOf(e.getKey())).isEqualTo(e.getValue());
      sum = sum.add(BigInteger.valueOf(e.getValue()));
      i++;
    }
    for (ReplicaId r : pool) {
      assertThat(c.countOf(r)).isEqualTo(model.getOrDefault(r, 0L));
    }
    assertThat(c.exactValue()).isEqualTo(sum);
    boolean fits = sum.bitLength() < Long.SIZE;
    assertThat(c.fitsInLong()).isEqualTo(fits);
    assertThat(c.value()).isEqualTo(fits ? sum.longValueExact() : Long.MAX_VALUE);
    assertThat(c.counts()).containsExactlyEntriesOf(model);
    // The same content built at once (another tree shape, or flat) is equal and hashes equally.
    GCounter rebuilt = GCounter.of(model);
    assertThat(c).isEqualTo(rebuilt);
    assertThat(rebuilt).isEqualTo(c);
    assertThat(c.hashCode()).isEqualTo(rebuilt.hashCode());
    assertThat(c.toString()).isEqualTo(rebuilt.toString());
    if (!model.isEmpty()) {
      TreeMap<ReplicaId, Long> other = new TreeMap<>(model);
      long first = model.firstEntry().getValue();
      other.put(model.firstKey(), first == Long.MAX_VALUE ? first - 1 : first + 1);
      assertThat(c).isNotEqualTo(GCounter.of(other));
    }
  }

  private static void check(VersionVector v, TreeMap<ReplicaId, Long> model, List<ReplicaId> pool) {
    assertThat(v.size()).isEqualTo(model.size());
    assertThat(v.isEmpty()).isEqualTo(model.isEmpty());
    int i = 0;
    for (Map.Entry<ReplicaId, Long> e : model.entrySet()) {
      assertThat(v.replicaAt(i)).isEqualTo(e.getKey());
      assertThat(v.sequenceAt(i)).isEqualTo(e.getValue());
      i++;
    }
    for (ReplicaId r : pool) {
      assertThat(v.get(r)).isEqualTo(model.getOrDefault(r, 0L));
    }
    assertThat(v.entries()).containsExactlyEntriesOf(model);
    VersionVector rebuilt = VersionVector.of(model);
    assertThat(v).isEqualTo(rebuilt);
    assertThat(v.hashCode()).isEqualTo(rebuilt.hashCode());
    assertThat(v.toString()).isEqualTo(rebuilt.toString());
    assertThat(v.compare(rebuilt)).isEqualTo(Causality.EQUAL);
  }
}

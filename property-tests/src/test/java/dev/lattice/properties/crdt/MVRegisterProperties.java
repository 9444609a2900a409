package dev.lattice.properties.crdt;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Dot;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.MVRegister;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.properties.gen.CausalArbitraries;
import dev.lattice.properties.gen.CrdtArbitraries;
import dev.lattice.properties.laws.CrdtLaws;
import dev.lattice.properties.laws.Mutator;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * The CRDT laws and the multi-value rule of {@link MVRegister}: after any merges, the register
 * holds exactly the writes that no other write it holds had seen.
 */
class MVRegisterProperties implements CrdtLaws<MVRegister> {

  @Override
  @Provide
  public Arbitrary<MVRegister> states() {
    return CausalArbitraries.registers();
  }

  @Override
  @Provide
  public Arbitrary<Mutator<MVRegister>> mutators() {
    return CausalArbitraries.mutators("write", CausalArbitraries::registerOp);
  }

  @Override
  public MVRegister empty() {
    return MVRegister.empty();
  }

  /**
   * Replicas write and exchange states at random; every write remembers the context its writer had
   * seen. The join of everything holds exactly the writes no other write had seen, and so does
   * every replica's state, over the writes it has seen.
   */
  @Property
  void readAfterMergeHoldsExactlyTheMaximalConcurrentWrites(
      @ForAll long seed, @ForAll @IntRange(min = 1, max = 40) int steps) {
    Random r = new Random(seed);
    List<ReplicaId> replicas = CrdtArbitraries.REPLICAS;
    List<MVRegister> states = new ArrayList<>();
    for (int i = 0; i < replicas.size(); i++) {
      states.add(MVRegister.empty());
    }
    Map<Dot, DotSet> seenBy = new HashMap<>();
    Map<Dot, Value> written = new HashMap<>();
    for (int step = 0; step < steps; step++) {
      int i = r.nextInt(replicas.size());
      MVRegister mine = states.get(i);
      if (r.nextInt(3) > 0) {
        Dot dot = mine.nextDot(replicas.get(i));
        Value value = CausalArbitraries.ELEMENTS.get(r.nextInt(CausalArbitraries.ELEMENTS.size()));
        seenBy.put(dot, mine.context());
        written.put(dot, value);
        states.set(i, mine.write(dot, value).state());
      } else {
        states.set(i, mine.merge(states.get(r.nextInt(states.size()))));
      }
    }
    MVRegister all = MVRegister.empty();
    for (MVRegister s : states) {
      all = all.merge(s);
    }
    for (MVRegister s : states) {
      TreeSet<Value> maximal = new TreeSet<>();
      List<Dot> maximalDots = new ArrayList<>();
      for (Dot w : written.keySet()) {
        if (!s.context().contains(w)) {
          continue;
        }
        boolean superseded =
            written.keySet().stream()
                .anyMatch(o -> s.context().contains(o) && seenBy.get(o).contains(w));
        if (!superseded) {
          maximal.add(written.get(w));
          maximalDots.add(w);
        }
      }
      assertThat(s.values()).isEqualTo(maximal);
      assertThat(s.writes().keySet()).containsExactlyInAnyOrderElementsOf(maximalDots);
    }
    assertThat(all.merge(all)).isEqualTo(all);
  }
}

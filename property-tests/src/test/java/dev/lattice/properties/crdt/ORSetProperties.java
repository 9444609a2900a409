package dev.lattice.properties.crdt;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Dot;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.properties.gen.CausalArbitraries;
import dev.lattice.properties.gen.CrdtArbitraries;
import dev.lattice.properties.laws.CrdtLaws;
import dev.lattice.properties.laws.Mutator;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * The CRDT laws and the add-wins, observed-remove rules of {@link ORSet}: an add concurrent with a
 * remove survives it, a remove retracts exactly the adds its writer had seen, and one replica alone
 * sees a plain set.
 */
class ORSetProperties implements CrdtLaws<ORSet> {

  private static final ReplicaId A = CrdtArbitraries.REPLICAS.get(0);
  private static final ReplicaId B = CrdtArbitraries.REPLICAS.get(3);

  @Override
  @Provide
  public Arbitrary<ORSet> states() {
    return CausalArbitraries.sets();
  }

  @Override
  @Provide
  public Arbitrary<Mutator<ORSet>> mutators() {
    return CausalArbitraries.mutators("setOp", CausalArbitraries::setOp);
  }

  @Override
  public ORSet empty() {
    return ORSet.empty();
  }

  @Provide
  Arbitrary<Value> elements() {
    return Arbitraries.of(CausalArbitraries.ELEMENTS);
  }

  @Property
  void anAddConcurrentWithARemoveWins(
      @ForAll("states") ORSet base, @ForAll("elements") Value element) {
    ORSet removed = base.remove(base.nextDot(A), element).state();
    ORSet added = base.add(base.nextDot(B), element).state();
    assertThat(removed.contains(element)).isFalse();
    assertThat(removed.merge(added).contains(element)).isTrue();
    assertThat(added.merge(removed).contains(element)).isTrue();
  }

  @Property
  void aRemoveRetractsExactlyTheAddsItObserved(
      @ForAll("states") ORSet base,
      @ForAll("elements") Value element,
      @ForAll("states") ORSet other) {
    ORSet observed = base.merge(other);
    ORSet removeDelta = observed.remove(observed.nextDot(A), element).delta();
    // Everything the remover had seen of the element goes; any add it had not seen stays.
    ORSet after = other.merge(base).merge(removeDelta);
    assertThat(after.contains(element)).isFalse();
    ORSet unseen = other.add(observed.nextDot(B), element).state();
    assertThat(unseen.merge(removeDelta).contains(element)).isTrue();
    List<Dot> unseenDots = unseen.entries().get(element);
    assertThat(unseen.merge(removeDelta).entries().get(element))
        .isEqualTo(unseenDots.stream().filter(d -> !removeDelta.context().contains(d)).toList());
  }

  @Property
  void oneReplicaAloneSeesAPlainSet(
      @ForAll @Size(max = 30) List<@IntRange(min = 0, max = 7) Integer> ops) {
    ORSet set = ORSet.empty();
    TreeSet<Value> model = new TreeSet<>();
    for (int op : ops) {
      Value e = CausalArbitraries.ELEMENTS.get(op % CausalArbitraries.ELEMENTS.size());
      if (op < 4) {
        set = set.add(A, e).state();
        model.add(e);
      } else {
        set = set.remove(A, e).state();
        model.remove(e);
      }
      assertThat(set.elements()).isEqualTo(model);
      assertThat(set.dotCount()).as("one dot per element").isEqualTo(model.size());
    }
  }

  @Property
  void everyViewOfTheHistoryMergesIntoTheJoinOfAllDeltas(@ForAll long seed) {
    List<ORSet> deltas = CausalArbitraries.setHistory().deltas();
    ORSet all = ORSet.empty();
    for (ORSet d : deltas) {
      all = all.merge(d);
    }
    Random random = new Random(seed);
    ORSet shuffled = ORSet.empty();
    for (int i = 0; i < 3 * deltas.size(); i++) {
      shuffled = shuffled.merge(deltas.get(random.nextInt(deltas.size())));
    }
    for (ORSet d : deltas) {
      shuffled = shuffled.merge(d);
    }
    assertThat(shuffled).isEqualTo(all);
    for (ORSet view : CausalArbitraries.setHistory().views()) {
      assertThat(view.merge(all)).isEqualTo(all);
    }
  }
}

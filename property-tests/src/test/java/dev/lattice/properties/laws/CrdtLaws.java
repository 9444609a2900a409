package dev.lattice.properties.laws;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.Mutation;
import dev.lattice.properties.gen.CrdtArbitraries;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;

/**
 * The laws every {@link Crdt} keeps (see its javadoc), written once. A type's property class
 * implements this interface and supplies its states, its delta-mutators and its empty state; jqwik
 * then checks every law for that type.
 *
 * <p>States should come from sequences of real mutations over the small replica pool of {@link
 * CrdtArbitraries#REPLICAS}, so that independently generated states share writers and their merges
 * overlap.
 *
 * @param <T> the CRDT type under test
 */
public interface CrdtLaws<T extends Crdt<T>> {

  /** States of the type, reached by real mutations. */
  @Provide
  Arbitrary<T> states();

  /** Delta-mutators of the type that may be applied to any state {@link #states()} gives. */
  @Provide
  Arbitrary<Mutator<T>> mutators();

  /** The empty (bottom) state. */
  T empty();

  /** Partitions of the replica pool into one to four groups. */
  @Provide
  default Arbitrary<Partition> partitions() {
    return CrdtArbitraries.partitions();
  }

  @Property
  default void mergeIsCommutative(@ForAll("states") T a, @ForAll("states") T b) {
    T ab = a.merge(b);
    T ba = b.merge(a);
    assertThat(ab).isEqualTo(ba);
    assertThat(ab.hashCode()).as("hashCode of equal states").isEqualTo(ba.hashCode());
  }

  @Property
  default void mergeIsAssociative(
      @ForAll("states") T a, @ForAll("states") T b, @ForAll("states") T c) {
    assertThat(a.merge(b).merge(c)).isEqualTo(a.merge(b.merge(c)));
  }

  @Property
  default void mergeIsIdempotent(@ForAll("states") T a) {
    assertThat(a.merge(a)).isEqualTo(a);
  }

  @Property
  default void mergeIsAnUpperBoundOfBothStates(@ForAll("states") T a, @ForAll("states") T b) {
    T joined = a.merge(b);
    assertThat(joined.merge(a)).as("a <= a merge b").isEqualTo(joined);
    assertThat(joined.merge(b)).as("b <= a merge b").isEqualTo(joined);
  }

  @Property
  default void emptyStateIsTheIdentityOfMerge(@ForAll("states") T a) {
    T empty = empty();
    assertThat(empty.isEmpty()).isTrue();
    assertThat(a.merge(empty)).isEqualTo(a);
    assertThat(empty.merge(a)).isEqualTo(a);
  }

  @Property
  default void onlyTheEmptyStateIsEmpty(@ForAll("states") T a) {
    assertThat(a.isEmpty()).as("isEmpty() of " + a).isEqualTo(a.equals(empty()));
  }

  @Property
  default void mutatorDeltaMergedIntoTheOldStateGivesTheNewState(
      @ForAll("states") T old, @ForAll("mutators") Mutator<T> mutator) {
    Mutation<T> mutation = mutator.applyTo(old);
    assertThat(old.merge(mutation.delta())).isEqualTo(mutation.state());
    assertThat(mutation.delta().merge(old)).isEqualTo(mutation.state());
  }

  @Property
  default void mutatorsOnlyInflateTheState(
      @ForAll("states") T old, @ForAll("mutators") Mutator<T> mutator) {
    Mutation<T> mutation = mutator.applyTo(old);
    assertThat(old.merge(mutation.state())).isEqualTo(mutation.state());
  }

  @Property
  default void mutatorDeltaIsPartOfTheNewState(
      @ForAll("states") T old, @ForAll("mutators") Mutator<T> mutator) {
    Mutation<T> mutation = mutator.applyTo(old);
    assertThat(mutation.state().merge(mutation.delta())).isEqualTo(mutation.state());
  }

  @Property
  default void deltasMergedInAnyOrderWithDuplicatesGiveTheState(
      @ForAll("states") T start,
      @ForAll @Size(max = 6) List<@From("mutators") Mutator<T>> mutators,
      @ForAll long shuffleSeed) {
    T state = start;
    List<T> deltas = new ArrayList<>();
    for (Mutator<T> mutator : mutators) {
      Mutation<T> mutation = mutator.applyTo(state);
      deltas.add(mutation.delta());
      state = mutation.state();
    }
    Random random = new Random(shuffleSeed);
    List<T> delivered = new ArrayList<>();
    for (T delta : deltas) {
      for (int copies = 1 + random.nextInt(2); copies > 0; copies--) {
        delivered.add(delta);
      }
    }
    Collections.shuffle(delivered, random);
    T merged = start;
    for (T delta : delivered) {
      merged = merged.merge(delta);
    }
    assertThat(merged).as("deltas delivered as %s", delivered).isEqualTo(state);
  }

  @Property
  default void contributionsOfAllReplicasAreTheState(@ForAll("states") T a) {
    assertThat(a.contributionsOf(replica -> true)).isEqualTo(a);
  }

  @Property
  default void contributionsOfNoReplicaAreEmpty(@ForAll("states") T a) {
    T none = a.contributionsOf(replica -> false);
    assertThat(none.isEmpty()).as("isEmpty() of " + none).isTrue();
    assertThat(none).isEqualTo(empty());
  }

  @Property
  default void contributionsOfAPartitionOfReplicasMergeBackToTheState(
      @ForAll("states") T a, @ForAll("partitions") Partition partition) {
    T merged = empty();
    for (int g = 0; g < partition.groups(); g++) {
      T part = a.contributionsOf(partition.group(g));
      assertThat(a.merge(part)).as("group %d is part of the state", g).isEqualTo(a);
      merged = merged.merge(part);
    }
    assertThat(merged).isEqualTo(a);
  }

  @Property
  default void typeIsFixedByTheClass(@ForAll("states") T a) {
    assertThat(a.type()).isEqualTo(empty().type());
    assertThat(a.type().stateClass()).isEqualTo(a.getClass());
    assertThat(a.type().empty()).isEqualTo(empty());
  }
}

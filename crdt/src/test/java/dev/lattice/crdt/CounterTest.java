package dev.lattice.crdt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class CounterTest {

  private static final ReplicaId A = ReplicaId.of(1);
  private static final ReplicaId B = ReplicaId.of(2);

  @Test
  void gCounterMergeTakesPerReplicaMaximum() {
    GCounter a = GCounter.of(Map.of(A, 5L, B, 1L));
    GCounter b = GCounter.of(Map.of(A, 3L, B, 4L));

    assertThat(a.merge(b).counts()).containsExactly(Map.entry(A, 5L), Map.entry(B, 4L));
    assertThat(a.merge(b).value()).isEqualTo(9);
  }

  @Test
  void gCounterRefusesNegativeIncrement() {
    assertThatThrownBy(() -> GCounter.empty().increment(A, -1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("G-Counter increment must be >= 0, was -1");
  }

  @Test
  void gCounterRefusesOverflowInsteadOfWrapping() {
    GCounter nearMax = GCounter.empty().increment(A, Long.MAX_VALUE - 1).state();
    assertThatThrownBy(() -> nearMax.increment(B, 2))
        .isInstanceOf(ArithmeticException.class)
        .hasMessageContaining("G-Counter overflow");
    assertThat(nearMax.increment(B, 1).state().value()).isEqualTo(Long.MAX_VALUE);
  }

  @Test
  void gCounterValueReportsOverflowFromConcurrentReplicas() {
    GCounter a = GCounter.empty().increment(A, Long.MAX_VALUE).state();
    GCounter b = GCounter.empty().increment(B, 1).state();
    assertThatThrownBy(() -> a.merge(b).value()).isInstanceOf(ArithmeticException.class);
  }

  @Test
  void pnCounterGoesUpAndDown() {
    PNCounter c = PNCounter.empty().add(A, 10).state().add(B, -4).state().add(A, -1).state();
    assertThat(c.value()).isEqualTo(5);
    assertThat(c.increments().counts()).containsExactly(Map.entry(A, 10L));
    assertThat(c.decrements().counts()).containsExactly(Map.entry(A, 1L), Map.entry(B, 4L));
  }

  @Test
  void pnCounterDeltaTouchesOnlyOneHalf() {
    Mutation<PNCounter> m = PNCounter.empty().add(A, -3);
    assertThat(m.delta().increments().isEmpty()).isTrue();
    assertThat(m.delta().decrements().counts()).containsExactly(Map.entry(A, 3L));
  }

  @Test
  void pnCounterRefusesMinValueAndOverflow() {
    assertThatThrownBy(() -> PNCounter.empty().add(A, Long.MIN_VALUE))
        .isInstanceOf(ArithmeticException.class);
    PNCounter full = PNCounter.empty().add(A, Long.MAX_VALUE).state();
    assertThatThrownBy(() -> full.add(A, 1)).isInstanceOf(ArithmeticException.class);
  }

  @Test
  void contributionsOfKeepsOnlyTheChosenReplicas() {
    GCounter c = GCounter.of(Map.of(A, 5L, B, 1L));
    assertThat(c.contributionsOf(A::equals).counts()).containsExactly(Map.entry(A, 5L));
    assertThat(c.contributionsOf(r -> false).isEmpty()).isTrue();
    assertThat(c.contributionsOf(r -> true)).isSameAs(c);
  }
}

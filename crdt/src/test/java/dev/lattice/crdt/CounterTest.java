package dev.lattice.crdt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
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
  void gCounterValueSaturatesWhenConcurrentReplicasMeetPastALong() {
    GCounter a = GCounter.empty().increment(A, Long.MAX_VALUE).state();
    GCounter b = GCounter.empty().increment(B, 1).state();
    GCounter merged = a.merge(b);

    assertThat(merged.fitsInLong()).isFalse();
    assertThat(merged.value()).isEqualTo(Long.MAX_VALUE);
    assertThat(merged.exactValue()).isEqualTo(BigInteger.TWO.pow(63));
    assertThatThrownBy(() -> merged.increment(A, 0))
        .isInstanceOf(ArithmeticException.class)
        .hasMessageContaining("9223372036854775808");
    assertThat(a.fitsInLong()).isTrue();
    assertThat(a.exactValue()).isEqualTo(BigInteger.valueOf(Long.MAX_VALUE));
  }

  @Test
  void pnCounterValueIsClampedAndExactValueIsTheTruth() {
    GCounter max = GCounter.of(Map.of(A, Long.MAX_VALUE, B, Long.MAX_VALUE));
    GCounter one = GCounter.of(Map.of(A, 1L));

    PNCounter up = PNCounter.of(max, one);
    PNCounter down = PNCounter.of(one, max);
    PNCounter both = PNCounter.of(max, max);

    assertThat(up.fitsInLong()).isFalse();
    assertThat(up.value()).isEqualTo(Long.MAX_VALUE);
    assertThat(up.exactValue()).isEqualTo(BigInteger.TWO.pow(64).subtract(BigInteger.valueOf(3)));
    assertThat(down.value()).isEqualTo(Long.MIN_VALUE);
    assertThat(both.value()).isZero();
    assertThat(both.exactValue()).isZero();
    assertThat(PNCounter.of(max, GCounter.of(Map.of(A, Long.MAX_VALUE))).value())
        .isEqualTo(Long.MAX_VALUE);
  }

  @Test
  void documentNamesTheCounterADeltaWouldOverflow() {
    Document doc = Document.create("d");
    doc.incrementGCounter(A, "g", Long.MAX_VALUE);
    doc.addPNCounter(A, "pn", -Long.MAX_VALUE);
    DocumentDelta gPlusOne = Document.create("d").incrementGCounter(B, "g", 1);
    DocumentDelta pnDown = Document.create("d").addPNCounter(B, "pn", -1);
    DocumentDelta pnUp = Document.create("d").addPNCounter(B, "pn", Long.MAX_VALUE);

    assertThat(doc.counterOverflow(gPlusOne)).contains("g");
    assertThat(doc.counterOverflow(pnDown)).contains("pn");
    assertThat(doc.counterOverflow(pnUp)).isEmpty();
    assertThat(doc.counterOverflow(doc.deltaSince(VersionVector.empty()))).isEmpty();

    doc.merge(gPlusOne);
    assertThat(doc.counterValue("g")).isEqualTo(Long.MAX_VALUE);
    // Already out of range: a delta that adds nothing is not refused, one that grows it is.
    assertThat(doc.counterOverflow(gPlusOne)).isEmpty();
    assertThat(doc.counterOverflow(Document.create("d").incrementGCounter(B, "g", 2)))
        .contains("g");
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

package dev.lattice.crdt;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.hlc.HlcTimestamp;
import org.junit.jupiter.api.Test;

class LWWRegisterTest {

  private static final ReplicaId LOW = ReplicaId.of(1);
  private static final ReplicaId HIGH = ReplicaId.of(-1); // top bit set: greatest unsigned id

  @Test
  void laterTimestampWins() {
    LWWRegister early = LWWRegister.of(Value.of("a"), HlcTimestamp.of(10, 0), HIGH);
    LWWRegister late = LWWRegister.of(Value.of("b"), HlcTimestamp.of(10, 1), LOW);
    assertThat(early.merge(late)).isEqualTo(late);
    assertThat(late.merge(early)).isEqualTo(late);
  }

  @Test
  void equalTimestampsAreBrokenByReplicaIdInUnsignedOrder() {
    HlcTimestamp ts = HlcTimestamp.of(10, 0);
    LWWRegister low = LWWRegister.of(Value.of("low"), ts, LOW);
    LWWRegister high = LWWRegister.of(Value.of("high"), ts, HIGH);
    assertThat(low.merge(high).value()).contains(Value.of("high"));
    assertThat(high.merge(low).value()).contains(Value.of("high"));
  }

  @Test
  void sameWriteStampWithDifferentValuesStillMergesCommutatively() {
    HlcTimestamp ts = HlcTimestamp.of(10, 0);
    LWWRegister x = LWWRegister.of(Value.of(1), ts, LOW);
    LWWRegister y = LWWRegister.of(Value.of(2), ts, LOW);
    assertThat(x.merge(y)).isEqualTo(y.merge(x));
  }

  @Test
  void emptyRegisterIsTheIdentity() {
    LWWRegister w = LWWRegister.of(Value.nil(), HlcTimestamp.of(1, 0), LOW);
    assertThat(LWWRegister.empty().merge(w)).isEqualTo(w);
    assertThat(w.merge(LWWRegister.empty())).isEqualTo(w);
    assertThat(w.value()).contains(Value.nil());
    assertThat(LWWRegister.empty().value()).isEmpty();
  }
}

package dev.lattice.crdt;

import dev.lattice.hlc.HlcTimestamp;
import java.util.Optional;

/** The kind of {@link LWWRegister}. Stateless; thread-safe. */
final class LWWRegisterKind extends CrdtKind<LWWRegister> {

  static final LWWRegisterKind INSTANCE = new LWWRegisterKind();

  private LWWRegisterKind() {
    super(LWWRegister.class);
  }

  @Override
  public CrdtType type() {
    return CrdtType.LWW_REGISTER;
  }

  @Override
  public LWWRegister empty() {
    return LWWRegister.empty();
  }

  @Override
  public long weigh(LWWRegister state) {
    return 48 + state.value().map(CrdtKind::weighValue).orElse(0L);
  }

  @Override
  public Object view(LWWRegister state) {
    return state.value().orElse(null);
  }

  @Override
  public Optional<HlcTimestamp> maxTimestamp(LWWRegister state) {
    return state.timestamp();
  }

  @Override
  public boolean onlyFrom(LWWRegister state, ReplicaId replica) {
    return state.writer().map(replica::equals).orElse(true);
  }
}

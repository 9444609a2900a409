package dev.lattice.crdt;

import java.util.ArrayList;
import java.util.List;

/** The kind of {@link MVRegister}. Stateless; thread-safe. */
final class MVRegisterKind extends CausalKind<MVRegister> {

  static final MVRegisterKind INSTANCE = new MVRegisterKind();

  private MVRegisterKind() {
    super(MVRegister.class);
  }

  @Override
  public CrdtType type() {
    return CrdtType.MV_REGISTER;
  }

  @Override
  public MVRegister empty() {
    return MVRegister.empty();
  }

  @Override
  boolean isSingleLeafAt(MVRegister state, Dot dot) {
    return state.singleLeafAt(dot);
  }

  @Override
  int liveCount(MVRegister state) {
    return state.liveCount();
  }

  @Override
  MVRegister leafAt(MVRegister state, Dot dot) {
    return state.leafAt(dot);
  }

  @Override
  MVRegister withoutDots(MVRegister state, List<Dot> sortedDots) {
    return state.withoutDots(sortedDots);
  }

  @Override
  public long weigh(MVRegister state) {
    long bytes = 64 + 32L * state.context().ranges().size();
    for (Value v : state.writes().values()) {
      bytes += 96 + weighValue(v);
    }
    return bytes;
  }

  @Override
  public Object view(MVRegister state) {
    return List.copyOf(new ArrayList<Object>(state.values()));
  }
}

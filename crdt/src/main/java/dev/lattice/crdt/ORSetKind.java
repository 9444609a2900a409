package dev.lattice.crdt;

import java.util.ArrayList;
import java.util.List;

/** The kind of {@link ORSet}. Stateless; thread-safe. */
final class ORSetKind extends CausalKind<ORSet> {

  static final ORSetKind INSTANCE = new ORSetKind();

  private ORSetKind() {
    super(ORSet.class);
  }

  @Override
  public CrdtType type() {
    return CrdtType.OR_SET;
  }

  @Override
  public ORSet empty() {
    return ORSet.empty();
  }

  @Override
  boolean isSingleLeafAt(ORSet state, Dot dot) {
    return state.singleLeafAt(dot);
  }

  @Override
  int liveCount(ORSet state) {
    return state.dotCount();
  }

  @Override
  ORSet leafAt(ORSet state, Dot dot) {
    return state.leafAt(dot);
  }

  @Override
  ORSet withoutDots(ORSet state, List<Dot> sortedDots) {
    return state.withoutDots(sortedDots);
  }

  @Override
  public long weigh(ORSet state) {
    long bytes = 64 + 32L * state.context().ranges().size() + 96L * state.dotCount();
    for (Value v : state.elements()) {
      bytes += 64 + weighValue(v);
    }
    return bytes;
  }

  @Override
  public Object view(ORSet state) {
    return List.copyOf(new ArrayList<Object>(state.elements()));
  }
}

package dev.lattice.crdt;

import java.util.ArrayList;
import java.util.List;

/** The kind of {@link ORSet}. Stateless; thread-safe. */
final class ORSetKind extends CrdtKind<ORSet> {

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
  public boolean isCausal() {
    return true;
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

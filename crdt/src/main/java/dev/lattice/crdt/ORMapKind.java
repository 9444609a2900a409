package dev.lattice.crdt;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The kind of {@link ORMap}. Stateless; thread-safe. */
final class ORMapKind extends CausalKind<ORMap> {

  static final ORMapKind INSTANCE = new ORMapKind();

  private ORMapKind() {
    super(ORMap.class);
  }

  @Override
  public CrdtType type() {
    return CrdtType.OR_MAP;
  }

  @Override
  public ORMap empty() {
    return ORMap.empty();
  }

  @Override
  boolean isSingleLeafAt(ORMap state, Dot dot) {
    return state.singleLeafAt(dot);
  }

  @Override
  int liveCount(ORMap state) {
    return state.liveCount();
  }

  @Override
  ORMap leafAt(ORMap state, Dot dot) {
    return state.leafAt(dot);
  }

  @Override
  ORMap withoutDots(ORMap state, List<Dot> sortedDots) {
    return state.withoutDots(sortedDots);
  }

  @Override
  public long weigh(ORMap state) {
    long bytes = 64 + 32L * state.context().ranges().size();
    for (Map.Entry<Dot, Map.Entry<String, Crdt<?>>> e : state.entries().entrySet()) {
      Crdt<?> nested = e.getValue().getValue();
      bytes += 128 + 2L * e.getValue().getKey().length() + nested.type().kind().weighAny(nested);
    }
    // A causal key's value is kept joined next to its single-leaf entries: a second index of its
    // elements, which the entries above do not count.
    for (Crdt<?> value : state.values().values()) {
      if (value.type().kind().isCausal()) {
        bytes += value.type().kind().weighAny(value);
      }
    }
    return bytes;
  }

  /** Keys to their values' views, in key order. */
  @Override
  public Object view(ORMap state) {
    TreeMap<String, Object> out = new TreeMap<>();
    state.values().forEach((key, nested) -> out.put(key, nested.type().kind().viewAny(nested)));
    return Collections.unmodifiableSortedMap(out);
  }
}

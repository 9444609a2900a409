package dev.lattice.crdt;

/** The kind of {@link PNCounter}. Stateless; thread-safe. */
final class PNCounterKind extends CrdtKind<PNCounter> {

  static final PNCounterKind INSTANCE = new PNCounterKind();

  private PNCounterKind() {
    super(PNCounter.class);
  }

  @Override
  public CrdtType type() {
    return CrdtType.PN_COUNTER;
  }

  @Override
  public PNCounter empty() {
    return PNCounter.empty();
  }

  @Override
  public long weigh(PNCounter state) {
    return 48 + 16L * (state.increments().replicaCount() + state.decrements().replicaCount());
  }

  @Override
  public Object view(PNCounter state) {
    // Exact, so that a JSON reader sees the true total even past the range of a long.
    java.math.BigInteger exact = state.exactValue();
    return exact.bitLength() < 64 ? (Object) exact.longValue() : exact;
  }

  @Override
  public boolean onlyFrom(PNCounter state, ReplicaId replica) {
    return GCounterKind.onlyFromCounter(state.increments(), replica)
        && GCounterKind.onlyFromCounter(state.decrements(), replica);
  }
}

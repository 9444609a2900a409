package dev.lattice.crdt;

/** The kind of {@link GCounter}. Stateless; thread-safe. */
final class GCounterKind extends CrdtKind<GCounter> {

  static final GCounterKind INSTANCE = new GCounterKind();

  private GCounterKind() {
    super(GCounter.class);
  }

  @Override
  public CrdtType type() {
    return CrdtType.G_COUNTER;
  }

  @Override
  public GCounter empty() {
    return GCounter.empty();
  }

  @Override
  public long weigh(GCounter state) {
    return 16L * state.replicaCount();
  }

  @Override
  public Object view(GCounter state) {
    // Exact, so that a JSON reader sees the true total even past the range of a long.
    java.math.BigInteger exact = state.exactValue();
    return exact.bitLength() < 64 ? (Object) exact.longValue() : exact;
  }

  @Override
  public boolean onlyFrom(GCounter state, ReplicaId replica) {
    return onlyFromCounter(state, replica);
  }

  static boolean onlyFromCounter(GCounter counter, ReplicaId replica) {
    int n = counter.replicaCount();
    return n == 0 || (n == 1 && counter.replicaAt(0).equals(replica));
  }
}

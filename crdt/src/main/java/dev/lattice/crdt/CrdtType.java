package dev.lattice.crdt;

/**
 * The CRDT type of a document field. A field's type is fixed once the field exists.
 *
 * <p>Immutable and thread-safe.
 */
public enum CrdtType {
  /** A grow-only counter: {@link GCounter}. */
  G_COUNTER(GCounter.class) {
    @Override
    public GCounter empty() {
      return GCounter.empty();
    }
  },
  /** A counter that goes up and down: {@link PNCounter}. */
  PN_COUNTER(PNCounter.class) {
    @Override
    public PNCounter empty() {
      return PNCounter.empty();
    }
  },
  /** A last-writer-wins register of a {@link Value}: {@link LWWRegister}. */
  LWW_REGISTER(LWWRegister.class) {
    @Override
    public LWWRegister empty() {
      return LWWRegister.empty();
    }
  };

  private final Class<? extends Crdt<?>> stateClass;

  CrdtType(Class<? extends Crdt<?>> stateClass) {
    this.stateClass = stateClass;
  }

  /** The empty state of this type. */
  public abstract Crdt<?> empty();

  /** The class of this type's states. */
  public Class<? extends Crdt<?>> stateClass() {
    return stateClass;
  }

  /** Merges two states of this type; both must be of {@link #stateClass()}. */
  @SuppressWarnings({"unchecked", "rawtypes"})
  static Crdt<?> mergeStates(Crdt<?> a, Crdt<?> b) {
    return (Crdt<?>) ((Crdt) a).merge((Crdt) b);
  }
}

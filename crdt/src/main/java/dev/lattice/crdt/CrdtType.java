package dev.lattice.crdt;

/**
 * The CRDT type of a document field. A field's type is fixed once the field exists.
 *
 * <p>Each constant only names its type; what the type does lives in its {@link CrdtKind}, reached
 * through {@link #kind()}, so code handling fields of any type never tests state classes.
 *
 * <p>Immutable and thread-safe.
 */
public enum CrdtType {
  /** A grow-only counter: {@link GCounter}. */
  G_COUNTER {
    @Override
    public CrdtKind<GCounter> kind() {
      return GCounterKind.INSTANCE;
    }
  },
  /** A counter that goes up and down: {@link PNCounter}. */
  PN_COUNTER {
    @Override
    public CrdtKind<PNCounter> kind() {
      return PNCounterKind.INSTANCE;
    }
  },
  /** A last-writer-wins register of a {@link Value}: {@link LWWRegister}. */
  LWW_REGISTER {
    @Override
    public CrdtKind<LWWRegister> kind() {
      return LWWRegisterKind.INSTANCE;
    }
  },
  /** An add-wins observed-remove set of {@link Value}s: {@link ORSet}. Causal. */
  OR_SET {
    @Override
    public CrdtKind<ORSet> kind() {
      return ORSetKind.INSTANCE;
    }
  },
  /** A multi-value register keeping every concurrent write: {@link MVRegister}. Causal. */
  MV_REGISTER {
    @Override
    public CrdtKind<MVRegister> kind() {
      return MVRegisterKind.INSTANCE;
    }
  },
  /** An observed-remove map of string keys to nested CRDTs: {@link ORMap}. Causal. */
  OR_MAP {
    @Override
    public CrdtKind<ORMap> kind() {
      return ORMapKind.INSTANCE;
    }
  };

  /** Everything else about this type. */
  public abstract CrdtKind<?> kind();

  /** The empty state of this type. */
  public Crdt<?> empty() {
    return kind().empty();
  }

  /** The class of this type's states. */
  public Class<? extends Crdt<?>> stateClass() {
    return kind().stateClass();
  }

  /** Merges two states of this type; both must be of {@link #stateClass()}. */
  @SuppressWarnings({"unchecked", "rawtypes"})
  static Crdt<?> mergeStates(Crdt<?> a, Crdt<?> b) {
    return (Crdt<?>) ((Crdt) a).merge((Crdt) b);
  }
}

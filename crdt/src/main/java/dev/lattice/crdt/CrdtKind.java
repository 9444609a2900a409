package dev.lattice.crdt;

import dev.lattice.hlc.HlcTimestamp;
import java.util.Objects;
import java.util.Optional;

/**
 * Everything the layers above need to know about one CRDT type, in one place: its {@link CrdtType},
 * state class and empty state, a rough heap weight for caches, a plain view for JSON, the greatest
 * clock reading it carries, and whether a state holds contributions of one replica only. Code that
 * handles fields of any type asks the field's kind ({@link CrdtType#kind()}) instead of testing
 * classes, so adding a type means adding one kind, its codec in {@code dev.lattice.crdt.codec} and
 * their tests.
 *
 * <p>Kinds are stateless singletons and thread-safe.
 *
 * @param <T> the state class
 */
public abstract class CrdtKind<T extends Crdt<T>> {

  private final Class<T> stateClass;

  CrdtKind(Class<T> stateClass) {
    this.stateClass = Objects.requireNonNull(stateClass, "stateClass");
  }

  /**
   * The kind whose states are of {@code stateClass}.
   *
   * @throws IllegalArgumentException if no type has that state class
   */
  @SuppressWarnings("unchecked")
  public static <T extends Crdt<T>> CrdtKind<T> of(Class<T> stateClass) {
    for (CrdtType type : CrdtType.values()) {
      if (type.kind().stateClass() == stateClass) {
        return (CrdtKind<T>) type.kind();
      }
    }
    throw new IllegalArgumentException("no CRDT type has the state class " + stateClass);
  }

  /** The type this kind describes. */
  public abstract CrdtType type();

  /** The empty state. */
  public abstract T empty();

  /** The class of the states. */
  public final Class<T> stateClass() {
    return stateClass;
  }

  /**
   * {@code state} as this kind's state class.
   *
   * @throws ClassCastException if it is a state of another type
   */
  public final T cast(Crdt<?> state) {
    return stateClass.cast(state);
  }

  /**
   * Whether deltas of this type carry the causal context they observed (Almeida et al., §6), so a
   * remove can retract what it saw. Causal kinds keep that context as an exact set of dots, gaps
   * allowed, so their deltas still join in any order, any number of times; see {@link CausalCrdt}.
   */
  public boolean isCausal() {
    return false;
  }

  /**
   * Approximate heap bytes of {@code state} beyond the field that holds it: an estimate for
   * bounding caches, not a measurement.
   */
  public abstract long weigh(T state);

  /**
   * The state as a plain value for JSON views: {@code null}, a {@link Long} (or a {@link
   * java.math.BigInteger} for a counter whose exact value leaves the range of a long), a {@link
   * Value}, a {@link java.util.List} of such views or a {@link java.util.SortedMap} from {@link
   * String} to such views. Renderers walk exactly these shapes.
   */
  public abstract Object view(T state);

  /** The greatest clock timestamp the state carries, fed to a replica's clock on receipt. */
  public Optional<HlcTimestamp> maxTimestamp(T state) {
    return Optional.empty();
  }

  /**
   * Whether the state holds contributions of {@code replica} only: {@code
   * state.contributionsOf(replica::equals).equals(state)}. Kinds override it to avoid building the
   * contributions.
   */
  public boolean onlyFrom(T state, ReplicaId replica) {
    return state.contributionsOf(replica::equals).equals(state);
  }

  /** {@link #weigh} of a state of this kind given untyped. */
  public final long weighAny(Crdt<?> state) {
    return weigh(cast(state));
  }

  /** {@link #view} of a state of this kind given untyped. */
  public final Object viewAny(Crdt<?> state) {
    return view(cast(state));
  }

  /** {@link #maxTimestamp} of a state of this kind given untyped. */
  public final Optional<HlcTimestamp> maxTimestampAny(Crdt<?> state) {
    return maxTimestamp(cast(state));
  }

  /** {@link #onlyFrom} of a state of this kind given untyped. */
  public final boolean onlyFromAny(Crdt<?> state, ReplicaId replica) {
    return onlyFrom(cast(state), replica);
  }

  /** Rough heap bytes of a value, for {@link #weigh}. */
  static long weighValue(Value value) {
    if (value instanceof Value.StringValue s) {
      return 48 + 2L * s.value().length();
    } else if (value instanceof Value.BinaryValue b) {
      return 32 + b.length();
    } else if (value instanceof Value.ArrayValue a) {
      long sum = 32;
      for (Value v : a.elements()) {
        sum += weighValue(v);
      }
      return sum;
    } else if (value instanceof Value.MapValue m) {
      long sum = 48;
      for (var e : m.entries().entrySet()) {
        sum += 32 + weighValue(e.getKey()) + weighValue(e.getValue());
      }
      return sum;
    }
    return 24;
  }

  @Override
  public String toString() {
    return "CrdtKind[" + type() + "]";
  }
}

package dev.lattice.crdt;

import dev.lattice.hlc.HlcTimestamp;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * A last-writer-wins register holding one {@link Value}. Each write carries the writer's hybrid
 * logical clock timestamp and replica id; merge keeps the write with the greater (timestamp,
 * replica) pair, so concurrent writes resolve identically everywhere, ties on equal timestamps
 * included (the CBaquero/delta-enabled-crdts#7 failure). Two different values under one (timestamp,
 * replica) pair cannot come from a correct replica; should they meet, the greater value wins so
 * that merge stays commutative.
 *
 * <p>The empty register has never been written. Immutable and thread-safe.
 */
public final class LWWRegister implements Crdt<LWWRegister> {

  private static final LWWRegister EMPTY = new LWWRegister(null, null, null);

  private final Value value;
  private final HlcTimestamp timestamp;
  private final ReplicaId writer;

  private LWWRegister(Value value, HlcTimestamp timestamp, ReplicaId writer) {
    this.value = value;
    this.timestamp = timestamp;
    this.writer = writer;
  }

  /** The register that was never written. */
  public static LWWRegister empty() {
    return EMPTY;
  }

  /** The register holding one write. */
  public static LWWRegister of(Value value, HlcTimestamp timestamp, ReplicaId writer) {
    return new LWWRegister(
        Objects.requireNonNull(value, "value"),
        Objects.requireNonNull(timestamp, "timestamp"),
        Objects.requireNonNull(writer, "writer"));
  }

  /**
   * Writes {@code value} at {@code timestamp} on behalf of {@code writer}. The delta is the write
   * itself. The caller takes the timestamp from its replica's clock, which has seen every timestamp
   * merged so far, so a local write always wins over what the replica has seen.
   */
  public Mutation<LWWRegister> set(Value value, HlcTimestamp timestamp, ReplicaId writer) {
    LWWRegister delta = of(value, timestamp, writer);
    return new Mutation<>(merge(delta), delta);
  }

  /** The value of the winning write, empty if never written. */
  public Optional<Value> value() {
    return Optional.ofNullable(value);
  }

  /** The timestamp of the winning write, empty if never written. */
  public Optional<HlcTimestamp> timestamp() {
    return Optional.ofNullable(timestamp);
  }

  /** The replica of the winning write, empty if never written. */
  public Optional<ReplicaId> writer() {
    return Optional.ofNullable(writer);
  }

  @Override
  public LWWRegister merge(LWWRegister other) {
    if (other.value == null) {
      return this;
    }
    if (value == null) {
      return other;
    }
    int c = timestamp.compareTo(other.timestamp);
    if (c == 0) {
      c = writer.compareTo(other.writer);
    }
    if (c == 0) {
      c = value.compareTo(other.value);
    }
    return c >= 0 ? this : other;
  }

  @Override
  public boolean isEmpty() {
    return value == null;
  }

  @Override
  public LWWRegister contributionsOf(Predicate<ReplicaId> replicas) {
    return value != null && replicas.test(writer) ? this : EMPTY;
  }

  @Override
  public CrdtType type() {
    return CrdtType.LWW_REGISTER;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof LWWRegister other
        && Objects.equals(value, other.value)
        && Objects.equals(timestamp, other.timestamp)
        && Objects.equals(writer, other.writer);
  }

  @Override
  public int hashCode() {
    return Objects.hash(value, timestamp, writer);
  }

  @Override
  public String toString() {
    return value == null
        ? "LWWRegister[]"
        : "LWWRegister[" + value + " @" + timestamp + " by " + writer + "]";
  }
}

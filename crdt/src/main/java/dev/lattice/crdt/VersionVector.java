package dev.lattice.crdt;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.function.Predicate;
import java.util.function.ToLongFunction;

/**
 * A version vector (causal context in its compact form): for each replica, the highest sequence
 * number such that this state contains the effects of that replica's mutations 1 through it.
 * Replicas that are absent count as 0.
 *
 * <p>Entries are sorted by replica id, so equal vectors iterate, print and encode identically.
 * Immutable and thread-safe.
 */
public final class VersionVector {

  private static final VersionVector EMPTY = new VersionVector(ReplicaLongs.EMPTY);

  /** Per-replica sequences in one of {@link ReplicaLongs}'s representations. */
  private final Object entries;

  private volatile SortedMap<ReplicaId, Long> view;

  private VersionVector(Object entries) {
    this.entries = entries;
  }

  private static VersionVector wrap(Object entries) {
    return ReplicaLongs.isEmpty(entries) ? EMPTY : new VersionVector(entries);
  }

  /** The vector of a replica that has seen nothing. */
  public static VersionVector empty() {
    return EMPTY;
  }

  /**
   * Returns the vector with these entries; zero entries are dropped.
   *
   * @throws IllegalArgumentException if a sequence number is negative
   */
  public static VersionVector of(Map<ReplicaId, Long> entries) {
    entries.forEach(
        (replica, seq) -> {
          Objects.requireNonNull(replica, "replica");
          if (seq < 0) {
            throw new IllegalArgumentException(
                "version vector entry for " + replica + " must be >= 0, was " + seq);
          }
        });
    return wrap(ReplicaLongs.of(entries));
  }

  /** The highest contiguous sequence number seen from {@code replica}, 0 if none. */
  public long get(ReplicaId replica) {
    return ReplicaLongs.get(entries, replica);
  }

  /** Whether this vector includes the dot. */
  public boolean contains(Dot dot) {
    return get(dot.replica()) >= dot.sequence();
  }

  /** The entries, sorted by replica id; unmodifiable. Built on first use. */
  public SortedMap<ReplicaId, Long> entries() {
    SortedMap<ReplicaId, Long> v = view;
    if (v == null) {
      v = ReplicaLongs.toSortedMap(entries);
      view = v;
    }
    return v;
  }

  /** The number of replicas with an entry. */
  public int size() {
    return ReplicaLongs.size(entries);
  }

  /** The {@code i}-th replica in replica order, for {@code 0 <= i < size()}. */
  public ReplicaId replicaAt(int i) {
    return ReplicaLongs.replica(entries, i);
  }

  /** The sequence number of the {@code i}-th replica in replica order. */
  public long sequenceAt(int i) {
    return ReplicaLongs.value(entries, i);
  }

  /** Whether no replica has an entry. */
  public boolean isEmpty() {
    return ReplicaLongs.isEmpty(entries);
  }

  /** This vector with {@code replica}'s entry raised to at least {@code sequence}. */
  public VersionVector with(ReplicaId replica, long sequence) {
    Object raised = ReplicaLongs.withMax(entries, replica.value(), sequence);
    return raised == entries ? this : new VersionVector(raised);
  }

  /** The pointwise maximum: the vector of a state that has seen what either has seen. */
  public VersionVector merge(VersionVector other) {
    Object merged = ReplicaLongs.merge(entries, other.entries);
    if (merged == entries) {
      return this;
    }
    return merged == other.entries ? other : new VersionVector(merged);
  }

  /** How this vector relates to {@code other}. */
  public Causality compare(VersionVector other) {
    return ReplicaLongs.compare(entries, other.entries);
  }

  /** The entries that exceed {@code other}'s: what this vector has seen and {@code other} lacks. */
  VersionVector above(VersionVector other) {
    Object kept = ReplicaLongs.above(entries, other.entries);
    return kept == entries ? this : wrap(kept);
  }

  /**
   * The vector of {@code entries}, each value read as a sequence by {@code sequenceOf}, which must
   * not give a negative one; zero entries are dropped. Builds no map of boxed sequences.
   */
  static <V> VersionVector of(Map<ReplicaId, V> entries, ToLongFunction<? super V> sequenceOf) {
    return wrap(ReplicaLongs.of(entries, sequenceOf));
  }

  /** The entries of the replicas {@code keep} accepts. */
  public VersionVector filter(Predicate<ReplicaId> keep) {
    Object kept = ReplicaLongs.filter(entries, keep);
    return kept == entries ? this : wrap(kept);
  }

  /**
   * The dots that {@code other} has seen and this vector lacks, one range per replica, sorted by
   * replica id. Empty when this vector has seen everything {@code other} has.
   */
  public List<DotRange> lacking(VersionVector other) {
    List<DotRange> missing = new ArrayList<>();
    for (int i = 0; i < other.size(); i++) {
      ReplicaId replica = other.replicaAt(i);
      long theirs = other.sequenceAt(i);
      long mine = get(replica);
      if (theirs > mine) {
        missing.add(new DotRange(replica, mine + 1, theirs));
      }
    }
    return List.copyOf(missing);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof VersionVector other && ReplicaLongs.equal(other.entries, entries);
  }

  @Override
  public int hashCode() {
    return ReplicaLongs.hash(entries);
  }

  /** For example {@code [00000000000000a1:3, 00000000000000b2:7]}. */
  @Override
  public String toString() {
    return "[" + ReplicaLongs.toString(entries, ":") + "]";
  }
}

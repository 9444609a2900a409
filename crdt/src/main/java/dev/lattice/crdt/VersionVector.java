package dev.lattice.crdt;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A version vector (causal context in its compact form): for each replica, the highest sequence
 * number such that this state contains the effects of that replica's mutations 1 through it.
 * Replicas that are absent count as 0.
 *
 * <p>Entries are sorted by replica id, so equal vectors iterate, print and encode identically.
 * Immutable and thread-safe.
 */
public final class VersionVector {

  private static final VersionVector EMPTY = new VersionVector(Collections.emptySortedMap());

  private final SortedMap<ReplicaId, Long> entries;

  private VersionVector(SortedMap<ReplicaId, Long> entries) {
    this.entries = entries;
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
    TreeMap<ReplicaId, Long> copy = new TreeMap<>();
    entries.forEach(
        (replica, seq) -> {
          Objects.requireNonNull(replica, "replica");
          if (seq < 0) {
            throw new IllegalArgumentException(
                "version vector entry for " + replica + " must be >= 0, was " + seq);
          }
          if (seq > 0) {
            copy.put(replica, seq);
          }
        });
    return copy.isEmpty() ? EMPTY : new VersionVector(Collections.unmodifiableSortedMap(copy));
  }

  /** The highest contiguous sequence number seen from {@code replica}, 0 if none. */
  public long get(ReplicaId replica) {
    Long seq = entries.get(replica);
    return seq == null ? 0 : seq;
  }

  /** Whether this vector includes the dot. */
  public boolean contains(Dot dot) {
    return get(dot.replica()) >= dot.sequence();
  }

  /** The entries, sorted by replica id; unmodifiable. */
  public SortedMap<ReplicaId, Long> entries() {
    return entries;
  }

  /** Whether no replica has an entry. */
  public boolean isEmpty() {
    return entries.isEmpty();
  }

  /** This vector with {@code replica}'s entry raised to at least {@code sequence}. */
  public VersionVector with(ReplicaId replica, long sequence) {
    if (get(replica) >= sequence) {
      return this;
    }
    TreeMap<ReplicaId, Long> copy = new TreeMap<>(entries);
    copy.put(replica, sequence);
    return new VersionVector(Collections.unmodifiableSortedMap(copy));
  }

  /** The pointwise maximum: the vector of a state that has seen what either has seen. */
  public VersionVector merge(VersionVector other) {
    if (other.entries.isEmpty() || this == other) {
      return this;
    }
    if (entries.isEmpty()) {
      return other;
    }
    if (compare(other) != Causality.BEFORE) {
      if (compare(other) != Causality.CONCURRENT) {
        return this;
      }
    } else {
      return other;
    }
    TreeMap<ReplicaId, Long> merged = new TreeMap<>(entries);
    other.entries.forEach((replica, seq) -> merged.merge(replica, seq, Math::max));
    return new VersionVector(Collections.unmodifiableSortedMap(merged));
  }

  /** How this vector relates to {@code other}. */
  public Causality compare(VersionVector other) {
    boolean thisAhead = false;
    boolean otherAhead = false;
    for (Map.Entry<ReplicaId, Long> e : entries.entrySet()) {
      long theirs = other.get(e.getKey());
      if (e.getValue() > theirs) {
        thisAhead = true;
      } else if (e.getValue() < theirs) {
        otherAhead = true;
      }
    }
    if (!otherAhead) {
      for (Map.Entry<ReplicaId, Long> e : other.entries.entrySet()) {
        if (e.getValue() > get(e.getKey())) {
          otherAhead = true;
          break;
        }
      }
    }
    if (thisAhead && otherAhead) {
      return Causality.CONCURRENT;
    }
    if (thisAhead) {
      return Causality.AFTER;
    }
    return otherAhead ? Causality.BEFORE : Causality.EQUAL;
  }

  /**
   * The dots that {@code other} has seen and this vector lacks, one range per replica, sorted by
   * replica id. Empty when this vector has seen everything {@code other} has.
   */
  public List<DotRange> lacking(VersionVector other) {
    List<DotRange> missing = new ArrayList<>();
    other.entries.forEach(
        (replica, theirs) -> {
          long mine = get(replica);
          if (theirs > mine) {
            missing.add(new DotRange(replica, mine + 1, theirs));
          }
        });
    return List.copyOf(missing);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof VersionVector other && other.entries.equals(entries);
  }

  @Override
  public int hashCode() {
    return entries.hashCode();
  }

  /** For example {@code [00000000000000a1:3, 00000000000000b2:7]}. */
  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("[");
    entries.forEach(
        (replica, seq) -> {
          if (sb.length() > 1) {
            sb.append(", ");
          }
          sb.append(replica).append(':').append(seq);
        });
    return sb.append(']').toString();
  }
}

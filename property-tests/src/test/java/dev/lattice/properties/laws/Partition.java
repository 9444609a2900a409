package dev.lattice.properties.laws;

import dev.lattice.crdt.ReplicaId;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * A partition of the replica pool into numbered groups: every replica belongs to exactly one group.
 * Replicas outside the pool fall into group 0, so the groups always cover every writer.
 *
 * @param groupOf the group of each pool replica
 * @param groups the number of groups (some may be empty)
 */
public record Partition(Map<ReplicaId, Integer> groupOf, int groups) {

  /** The partition giving {@code replicas.get(i)} the group {@code groups.get(i)}. */
  public static Partition of(List<ReplicaId> replicas, List<Integer> groups) {
    TreeMap<ReplicaId, Integer> map = new TreeMap<>();
    int count = 1;
    for (int i = 0; i < replicas.size(); i++) {
      map.put(replicas.get(i), groups.get(i));
      count = Math.max(count, groups.get(i) + 1);
    }
    return new Partition(map, count);
  }

  /** The members of group {@code group}. */
  public Predicate<ReplicaId> group(int group) {
    return replica -> groupOf.getOrDefault(replica, 0) == group;
  }

  @Override
  public String toString() {
    return "Partition" + groupOf;
  }
}

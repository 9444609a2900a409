package dev.lattice.server.redis;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A Redis Cluster of real {@link RedisServerProcess}es on loopback ports: masters that split the
 * 16384 slots evenly, joined with {@code CLUSTER ADDSLOTS} and {@code CLUSTER MEET} (no {@code
 * redis-cli} needed), ready once every node reports {@code cluster_state:ok} and knows every other.
 * Replicas can be added to a master. {@link #close} kills every node.
 *
 * <p>Redis before 7 has no sharded pub/sub; tests of it assume {@link #supportsShardedPubSub()}.
 *
 * <p>Not thread-safe.
 */
public final class RedisClusterProcesses implements AutoCloseable {

  private static final int SLOTS = 16384;
  private static final Duration READY_DEADLINE = Duration.ofSeconds(20);

  private final List<RedisServerProcess> masters = new ArrayList<>();
  private final List<RedisServerProcess> replicas = new ArrayList<>();

  private RedisClusterProcesses() {}

  /** Whether the Redis these tests run has sharded pub/sub (Redis 7 and later). */
  public static boolean supportsShardedPubSub() {
    return RedisServerProcess.majorVersion() >= 7;
  }

  /** Starts {@code n} masters (AOF off) and joins them into a cluster whose state is ok. */
  public static RedisClusterProcesses start(int n) {
    RedisClusterProcesses c = new RedisClusterProcesses();
    try {
      for (int i = 0; i < n; i++) {
        c.masters.add(RedisServerProcess.builder().appendOnly(false).cluster(true).start());
      }
      for (int i = 0; i < n; i++) {
        RedisServerProcess m = c.masters.get(i);
        int from = SLOTS * i / n;
        int to = SLOTS * (i + 1) / n;
        String[] cmd = new String[2 + to - from];
        cmd[0] = "CLUSTER";
        cmd[1] = "ADDSLOTS";
        for (int s = from; s < to; s++) {
          cmd[2 + s - from] = Integer.toString(s);
        }
        m.call(cmd);
        // Distinct epochs, as redis-cli gives them, so no collision has to be resolved first.
        m.call("CLUSTER", "SET-CONFIG-EPOCH", Integer.toString(i + 1));
      }
      for (int i = 1; i < n; i++) {
        c.masters
            .get(0)
            .call("CLUSTER", "MEET", "127.0.0.1", Integer.toString(c.masters.get(i).port()));
      }
      c.awaitReady();
      return c;
    } catch (RuntimeException | Error e) {
      c.close();
      throw e;
    }
  }

  /** Starts a replica of {@code master}, joins it to the cluster, and waits until it has synced. */
  public RedisServerProcess addReplica(RedisServerProcess master) {
    RedisServerProcess r = RedisServerProcess.builder().appendOnly(false).cluster(true).start();
    replicas.add(r);
    r.call("CLUSTER", "MEET", "127.0.0.1", Integer.toString(master.port()));
    String masterId = nodeId(master);
    long deadline = System.nanoTime() + READY_DEADLINE.toNanos();
    // REPLICATE needs the master known to this node first.
    while (true) {
      try {
        r.call("CLUSTER", "REPLICATE", masterId);
        break;
      } catch (RedisServerProcess.RedisReplyException e) {
        checkDeadline(deadline, "replica to learn of its master: " + e.getMessage());
        pause();
      }
    }
    while (!"up".equals(r.info("replication", "master_link_status"))
        || !"1".equals(master.info("replication", "connected_slaves"))) {
      checkDeadline(deadline, "replica to sync with its master");
      pause();
    }
    awaitReady();
    return r;
  }

  /** The master nodes. */
  public List<RedisServerProcess> masters() {
    return List.copyOf(masters);
  }

  /** The seed URIs: every master's. */
  public List<String> uris() {
    return masters.stream().map(RedisServerProcess::uri).toList();
  }

  /** The master that owns {@code key}'s slot. */
  public RedisServerProcess masterOf(String key) {
    long slot = (Long) masters.get(0).call("CLUSTER", "KEYSLOT", key);
    for (int i = 0; i < masters.size(); i++) {
      if (slot >= (long) SLOTS * i / masters.size()
          && slot < (long) SLOTS * (i + 1) / masters.size()) {
        return masters.get(i);
      }
    }
    throw new IllegalStateException("no master owns slot " + slot);
  }

  /** The cluster node id of {@code node}. */
  public static String nodeId(RedisServerProcess node) {
    return (String) node.call("CLUSTER", "MYID");
  }

  private void awaitReady() {
    List<RedisServerProcess> all = new ArrayList<>(masters);
    all.addAll(replicas);
    long deadline = System.nanoTime() + READY_DEADLINE.toNanos();
    for (RedisServerProcess node : all) {
      while (true) {
        Map<String, String> info = clusterInfo(node);
        if ("ok".equals(info.get("cluster_state"))
            && Integer.toString(all.size()).equals(info.get("cluster_known_nodes"))
            && Integer.toString(SLOTS).equals(info.get("cluster_slots_ok"))) {
          break;
        }
        checkDeadline(deadline, "cluster_state:ok on port " + node.port() + ", had " + info);
        pause();
      }
    }
  }

  private static Map<String, String> clusterInfo(RedisServerProcess node) {
    Map<String, String> out = new java.util.HashMap<>();
    for (String line : ((String) node.call("CLUSTER", "INFO")).split("\r\n")) {
      int colon = line.indexOf(':');
      if (colon > 0) {
        out.put(line.substring(0, colon), line.substring(colon + 1));
      }
    }
    return out;
  }

  private static void checkDeadline(long deadline, String what) {
    if (System.nanoTime() > deadline) {
      throw new IllegalStateException("timed out waiting for " + what);
    }
  }

  /** Between two polls of a condition that has a deadline. */
  private static void pause() {
    try {
      Thread.sleep(20);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Kills every node and deletes their directories. */
  @Override
  public void close() {
    for (RedisServerProcess p : replicas) {
      p.close();
    }
    for (RedisServerProcess p : masters) {
      p.close();
    }
  }
}

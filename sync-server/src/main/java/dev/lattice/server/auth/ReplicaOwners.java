package dev.lattice.server.auth;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.server.spi.Principal;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Who owns each replica id: the first authenticated subject to open a session with a replica id
 * owns it for good, and a HELLO of another subject naming it is refused with {@code REPLICA_OWNED}
 * (close 4008). Without this a user with write right could name another user's replica id in HELLO
 * and make edits that every replica attributes to the victim (docs/SECURITY.md, "Replica
 * ownership").
 *
 * <p>The server asks it at every HELLO of a principal other than {@link Principal#anonymous()} (a
 * server without authentication has one principal, so binding would change nothing). {@code
 * LatticeServer} answers from its {@code DocumentStore} ({@code claimReplica}), so the record
 * survives a restart and every server sharing a Redis store sees the same owner.
 *
 * <p>Implementations are thread-safe; they are called concurrently from the sessions' threads and
 * should not block (a pending stage pauses only the one session, like a pending token check).
 */
@FunctionalInterface
public interface ReplicaOwners {

  /**
   * Claims {@code replica} for {@code subject} unless another subject owns it.
   *
   * @return a stage of the owner's subject: {@code subject} if it owns the replica now (claimed by
   *     this call or before), another subject if that one owns it; a failed stage refuses the HELLO
   *     as an internal error (the client retries later)
   */
  CompletionStage<String> claim(ReplicaId replica, String subject);

  /**
   * {@code owners} with the answers it gave remembered, at most {@code maxEntries} of them: an
   * owner never changes once claimed, so a reconnecting client's HELLO needs no store round trip,
   * and a remembered owner answers a foreign subject's claim too. Failed claims are not remembered.
   *
   * @throws IllegalArgumentException if {@code maxEntries} is not positive
   */
  static ReplicaOwners remembering(ReplicaOwners owners, long maxEntries) {
    Objects.requireNonNull(owners, "owners");
    if (maxEntries <= 0) {
      throw new IllegalArgumentException("maxEntries must be positive, was " + maxEntries);
    }
    com.github.benmanes.caffeine.cache.Cache<ReplicaId, String> known =
        com.github.benmanes.caffeine.cache.Caffeine.newBuilder().maximumSize(maxEntries).build();
    return (replica, subject) -> {
      String owner = known.getIfPresent(replica);
      if (owner != null) {
        return CompletableFuture.completedFuture(owner);
      }
      return owners
          .claim(replica, subject)
          .thenApply(
              claimed -> {
                known.put(replica, claimed);
                return claimed;
              });
    };
  }

  /** Owners kept in this process's memory only: for tests and servers without a durable store. */
  static ReplicaOwners inMemory() {
    ConcurrentHashMap<ReplicaId, String> owners = new ConcurrentHashMap<>();
    return (replica, subject) -> {
      Objects.requireNonNull(subject, "subject");
      String owner = owners.putIfAbsent(Objects.requireNonNull(replica, "replica"), subject);
      return CompletableFuture.completedFuture(owner == null ? subject : owner);
    };
  }
}

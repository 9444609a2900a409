package dev.lattice.server.session;

import dev.lattice.crdt.ReplicaId;
import java.util.Optional;

/**
 * Decides whether a client may open a session, from the credentials and replica id of its HELLO. A
 * refusal is answered with ERROR {@code UNAUTHORIZED} and close 4002.
 *
 * <p>Implementations are thread-safe (sessions call them concurrently) and should answer quickly:
 * the call is made on the connection's transport thread.
 */
@FunctionalInterface
public interface Authenticator {

  /** Whether the client may proceed; {@code credentials} is empty when HELLO carried none. */
  boolean authenticate(Optional<String> credentials, ReplicaId replicaId);

  /** An authenticator that lets everyone in: the default of a server without auth configured. */
  static Authenticator allowAll() {
    return (credentials, replicaId) -> true;
  }
}

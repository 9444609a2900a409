package dev.lattice.protocol;

import dev.lattice.crdt.ReplicaId;
import java.util.Optional;

/**
 * HELLO, client to server: the first message of every connection. Offers the protocol versions the
 * client speaks ({@code [minVersion, maxVersion]}), names the client's replica, and carries its
 * credentials (if the server wants any) and a free-form client name for logs.
 *
 * <p>{@link #toString()} hides the credentials, so logging a message never leaks them.
 *
 * <p>Immutable and thread-safe.
 *
 * @param minVersion the lowest version the client speaks, at least 1
 * @param maxVersion the highest, at least {@code minVersion}
 * @param replicaId the client's replica id, which the server stamps on its presence
 * @param credentials a token the server checks, or empty
 * @param clientName for example {@code "lattice-js/1.2.0"}, or empty
 */
public record Hello(
    int minVersion,
    int maxVersion,
    ReplicaId replicaId,
    Optional<String> credentials,
    Optional<String> clientName)
    implements Message {

  /**
   * @throws IllegalArgumentException unless {@code 1 <= minVersion <= maxVersion}
   * @throws NullPointerException if a component is null (use {@link Optional#empty()})
   */
  public Hello {
    if (minVersion < 1) {
      throw new IllegalArgumentException("HELLO.minVersion must be >= 1, was " + minVersion);
    }
    if (maxVersion < minVersion) {
      throw new IllegalArgumentException(
          "HELLO.maxVersion must be >= minVersion " + minVersion + ", was " + maxVersion);
    }
    Checks.notNull("HELLO", "replicaId", replicaId);
    Checks.notNull("HELLO", "credentials", credentials);
    Checks.notNull("HELLO", "clientName", clientName);
  }

  /** A HELLO offering exactly the versions this build speaks. */
  public static Hello of(ReplicaId replicaId, String credentials, String clientName) {
    return new Hello(
        ProtocolVersion.MIN,
        ProtocolVersion.MAX,
        replicaId,
        Optional.ofNullable(credentials),
        Optional.ofNullable(clientName));
  }

  @Override
  public MessageType messageType() {
    return MessageType.HELLO;
  }

  @Override
  public String toString() {
    return "Hello[minVersion="
        + minVersion
        + ", maxVersion="
        + maxVersion
        + ", replicaId="
        + replicaId
        + ", credentials="
        + (credentials.isPresent() ? "<hidden>" : "none")
        + ", clientName="
        + clientName.orElse("none")
        + "]";
  }
}

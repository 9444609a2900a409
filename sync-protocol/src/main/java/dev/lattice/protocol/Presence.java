package dev.lattice.protocol;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import java.util.Optional;

/**
 * PRESENCE, both ways: small ephemeral state of one connection on one document (a cursor, a name,
 * "typing"). It lives for {@code ttlMillis} unless renewed by another PRESENCE, and ends when the
 * connection closes or unsubscribes. An empty value means the replica left (or cleared its
 * presence).
 *
 * <p>From a client the {@code replicaId} is ignored: the server overwrites it with the replica id
 * of the connection's HELLO, so nobody can speak for another replica.
 *
 * <p>On the wire an absent value is MessagePack nil, so the nil {@link Value} is not a presence
 * value of its own: {@code Optional.of(Value.nil())} is normalized to {@link Optional#empty()}.
 *
 * <p>Immutable and thread-safe.
 *
 * @param documentId the document
 * @param replicaId whose presence it is
 * @param ttlMillis how long it lives without renewal, at least 0
 * @param value the presence value, or empty when the replica left
 */
public record Presence(
    String documentId, ReplicaId replicaId, long ttlMillis, Optional<Value> value)
    implements Message {

  /**
   * @throws IllegalArgumentException if {@code documentId} is empty or {@code ttlMillis < 0}
   * @throws NullPointerException if a component is null (use {@link Optional#empty()})
   */
  public Presence {
    Checks.documentId("PRESENCE", documentId);
    Checks.notNull("PRESENCE", "replicaId", replicaId);
    Checks.nonNegative("PRESENCE", "ttlMillis", ttlMillis);
    Checks.notNull("PRESENCE", "value", value);
    if (value.isPresent() && value.get().equals(Value.nil())) {
      value = Optional.empty();
    }
  }

  /** The presence of {@code replicaId} leaving {@code documentId}. */
  public static Presence leave(String documentId, ReplicaId replicaId) {
    return new Presence(documentId, replicaId, 0, Optional.empty());
  }

  /** Whether this announces that the replica left. */
  public boolean isLeave() {
    return value.isEmpty();
  }

  @Override
  public MessageType messageType() {
    return MessageType.PRESENCE;
  }
}

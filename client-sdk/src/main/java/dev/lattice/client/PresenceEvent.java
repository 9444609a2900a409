package dev.lattice.client;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import java.util.Objects;
import java.util.Optional;

/**
 * Another replica's presence on a document appeared, changed or ended.
 *
 * <p>Immutable and thread-safe.
 *
 * @param documentId the document
 * @param replicaId whose presence
 * @param kind what happened
 * @param value the new value; empty for {@link Kind#LEAVE}
 */
public record PresenceEvent(
    String documentId, ReplicaId replicaId, Kind kind, Optional<Value> value) {

  /** What happened to a presence. */
  public enum Kind {
    /** The replica's presence appeared. */
    JOIN,
    /** The replica changed its presence value. */
    UPDATE,
    /**
     * The replica left: it cleared its presence, its presence expired, it disconnected, or this
     * client lost its own connection (so it no longer sees anyone).
     */
    LEAVE
  }

  /**
   * @throws NullPointerException if a component is null
   */
  public PresenceEvent {
    Objects.requireNonNull(documentId, "documentId");
    Objects.requireNonNull(replicaId, "replicaId");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(value, "value");
  }
}

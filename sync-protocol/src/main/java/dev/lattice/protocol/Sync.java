package dev.lattice.protocol;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.VersionVector;

/**
 * SYNC, server to client: the answer to {@link Subscribe}. Carries what the client lacks (the
 * server document's {@code deltaSince} the client's vector) and the server's own version vector;
 * the client merges the delta, then sends as {@link Update}s whatever it holds that the server's
 * vector lacks. Both sides then hold the same state after one round trip.
 *
 * <p>Immutable and thread-safe.
 *
 * @param requestId the SUBSCRIBE's request id
 * @param documentId the document
 * @param delta what the client lacks (possibly empty)
 * @param vector what the server holds
 */
public record Sync(long requestId, String documentId, DocumentDelta delta, VersionVector vector)
    implements Message {

  /**
   * @throws IllegalArgumentException if {@code requestId < 1} or {@code documentId} is empty
   * @throws NullPointerException if a component is null
   */
  public Sync {
    Checks.requestId("SYNC", requestId);
    Checks.documentId("SYNC", documentId);
    Checks.notNull("SYNC", "delta", delta);
    Checks.notNull("SYNC", "vector", vector);
  }

  @Override
  public MessageType messageType() {
    return MessageType.SYNC;
  }
}

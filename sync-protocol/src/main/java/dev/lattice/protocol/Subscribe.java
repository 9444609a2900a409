package dev.lattice.protocol;

import dev.lattice.crdt.VersionVector;

/**
 * SUBSCRIBE, client to server: start following a document. The client sends the version vector of
 * what it holds; the server answers with {@link Sync} (or an {@link ErrorMessage} with the same
 * request id) and from then on fans out every UPDATE of the document to this connection.
 *
 * <p>Immutable and thread-safe.
 *
 * @param requestId positive, unique among this connection's outstanding requests
 * @param documentId the document, non-empty
 * @param vector what the client holds of the document (empty for a document it never saw)
 */
public record Subscribe(long requestId, String documentId, VersionVector vector)
    implements Message {

  /**
   * @throws IllegalArgumentException if {@code requestId < 1} or {@code documentId} is empty
   * @throws NullPointerException if a component is null
   */
  public Subscribe {
    Checks.requestId("SUBSCRIBE", requestId);
    Checks.documentId("SUBSCRIBE", documentId);
    Checks.notNull("SUBSCRIBE", "vector", vector);
  }

  @Override
  public MessageType messageType() {
    return MessageType.SUBSCRIBE;
  }
}

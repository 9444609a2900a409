package dev.lattice.protocol;

/**
 * UNSUBSCRIBE, client to server: stop following a document; answered with {@link Ack}. The
 * connection's presence on the document ends with it.
 *
 * <p>Immutable and thread-safe.
 *
 * @param requestId positive, unique among this connection's outstanding requests
 * @param documentId the document
 */
public record Unsubscribe(long requestId, String documentId) implements Message {

  /**
   * @throws IllegalArgumentException if {@code requestId < 1} or {@code documentId} is empty
   * @throws NullPointerException if {@code documentId} is null
   */
  public Unsubscribe {
    Checks.requestId("UNSUBSCRIBE", requestId);
    Checks.documentId("UNSUBSCRIBE", documentId);
  }

  @Override
  public MessageType messageType() {
    return MessageType.UNSUBSCRIBE;
  }
}

package dev.lattice.protocol;

/**
 * ACK, server to client: the request {@code requestId} succeeded. For an {@link Update} it is sent
 * only once the update is durable in the server's store, so a client may then drop it from its
 * outbox; for an {@link Unsubscribe}, once no more fan-out of the document will follow.
 *
 * <p>Immutable and thread-safe.
 *
 * @param requestId the request's id
 * @param documentId the request's document
 */
public record Ack(long requestId, String documentId) implements Message {

  /**
   * @throws IllegalArgumentException if {@code requestId < 1} or {@code documentId} is empty
   * @throws NullPointerException if {@code documentId} is null
   */
  public Ack {
    Checks.requestId("ACK", requestId);
    Checks.documentId("ACK", documentId);
  }

  @Override
  public MessageType messageType() {
    return MessageType.ACK;
  }
}

package dev.lattice.protocol;

import dev.lattice.crdt.DocumentDelta;
import java.util.OptionalLong;

/**
 * UPDATE, both ways: a delta of one subscribed document. From a client it carries a request id and
 * the server answers with {@link Ack} once the merged delta is durable (or with an {@link
 * ErrorMessage}); from the server it is a fan-out of someone else's change, has no request id and
 * is never acknowledged. Deltas are idempotent, so resending one is harmless.
 *
 * <p>Immutable and thread-safe.
 *
 * @param requestId the request id of a client's update; empty on server fan-out
 * @param documentId the document
 * @param delta the change
 */
public record Update(OptionalLong requestId, String documentId, DocumentDelta delta)
    implements Message {

  /**
   * @throws IllegalArgumentException if a present {@code requestId} is below 1 or {@code
   *     documentId} is empty
   * @throws NullPointerException if a component is null (use {@link OptionalLong#empty()})
   */
  public Update {
    Checks.requestId("UPDATE", requestId);
    Checks.documentId("UPDATE", documentId);
    Checks.notNull("UPDATE", "delta", delta);
  }

  /** A client's update, acknowledged by an {@link Ack} with {@code requestId}. */
  public static Update request(long requestId, String documentId, DocumentDelta delta) {
    return new Update(OptionalLong.of(requestId), documentId, delta);
  }

  /** A server's fan-out of a change, never acknowledged. */
  public static Update fanOut(String documentId, DocumentDelta delta) {
    return new Update(OptionalLong.empty(), documentId, delta);
  }

  @Override
  public MessageType messageType() {
    return MessageType.UPDATE;
  }
}

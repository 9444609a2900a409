package dev.lattice.protocol;

import dev.lattice.crdt.VersionVector;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * SUBSCRIBE, client to server: start following a document. The client sends the version vector of
 * what it holds; the server answers with {@link Sync} (or an {@link ErrorMessage} with the same
 * request id) and from then on fans out every UPDATE of the document to this connection.
 *
 * <p>In protocol version 2 a SUBSCRIBE may carry a trailing <em>document alias</em>: a small
 * non-negative int, chosen by the client and unique among the connection's subscriptions, by which
 * {@link OwnUpdate} (UPDATE_OWN) names the document. It lives until UNSUBSCRIBE or the end of the
 * connection. A version 1 peer ignores it (an unknown trailing field), so a client sends it only
 * once WELCOME said version 2.
 *
 * <p>Immutable and thread-safe.
 *
 * @param requestId positive, unique among this connection's outstanding requests
 * @param documentId the document, non-empty
 * @param vector what the client holds of the document (empty for a document it never saw)
 * @param alias the document alias (version 2), or empty for none
 */
public record Subscribe(long requestId, String documentId, VersionVector vector, OptionalInt alias)
    implements Message {

  /**
   * @throws IllegalArgumentException if {@code requestId < 1}, {@code documentId} is empty or a
   *     present {@code alias} is negative
   * @throws NullPointerException if a component is null (use {@link OptionalInt#empty()})
   */
  public Subscribe {
    Checks.requestId("SUBSCRIBE", requestId);
    Checks.documentId("SUBSCRIBE", documentId);
    Checks.notNull("SUBSCRIBE", "vector", vector);
    Objects.requireNonNull(alias, "SUBSCRIBE.alias (use OptionalInt.empty())");
    if (alias.isPresent()) {
      Checks.nonNegative("SUBSCRIBE", "alias", alias.getAsInt());
    }
  }

  /** A SUBSCRIBE without an alias: the only form of version 1. */
  public Subscribe(long requestId, String documentId, VersionVector vector) {
    this(requestId, documentId, vector, OptionalInt.empty());
  }

  /** A version 2 SUBSCRIBE that names the document {@code alias} in later UPDATE_OWNs. */
  public static Subscribe withAlias(
      long requestId, String documentId, VersionVector vector, int alias) {
    return new Subscribe(requestId, documentId, vector, OptionalInt.of(alias));
  }

  @Override
  public MessageType messageType() {
    return MessageType.SUBSCRIBE;
  }
}

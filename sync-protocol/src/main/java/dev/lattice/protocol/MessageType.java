package dev.lattice.protocol;

import java.util.List;
import java.util.Optional;

/**
 * The message types of protocol versions 1 and 2, with their wire codes: the first element of every
 * frame's array. Codes are never reused; a new message type takes a new code. A type exists from
 * {@link #sinceVersion()} on: a frame of a later type on a session of an earlier version is
 * malformed.
 *
 * <p>Immutable and thread-safe.
 */
public enum MessageType {
  /** Client to server: the first message of a connection. */
  HELLO(1, "c->s", "minVersion", "maxVersion", "replicaId", "credentials", "clientName"),
  /** Server to client: the answer to HELLO. */
  WELCOME(2, "s->c", "version", "serverId", "serverTime", "limits", "sessionId"),
  /** Client to server: start following a document. */
  SUBSCRIBE(3, "c->s", "requestId", "documentId", "vector"),
  /** Server to client: the answer to SUBSCRIBE. */
  SYNC(4, "s->c", "requestId", "documentId", "delta", "vector"),
  /** Both ways: a delta of one document. */
  UPDATE(5, "both", "requestId", "documentId", "delta"),
  /** Server to client: an UPDATE or UNSUBSCRIBE is done (for UPDATE: durable). */
  ACK(6, "s->c", "requestId", "documentId"),
  /** Client to server: stop following a document. */
  UNSUBSCRIBE(7, "c->s", "requestId", "documentId"),
  /** Both ways: ephemeral per-connection state on a document. */
  PRESENCE(8, "both", "documentId", "replicaId", "ttlMillis", "value"),
  /** Both ways: a heartbeat carrying the sender's clock. */
  PING(9, "both", "nonce", "time"),
  /** Both ways: the answer to PING. */
  PONG(10, "both", "nonce", "time"),
  /** Server to client: a request failed, or the connection is about to close. */
  ERROR(11, "s->c", "requestId", "code", "message"),
  /**
   * Client to server, version 2 on: the compact UPDATE of a single mutation by the connection's own
   * replica, naming the document by its subscription alias (see {@link OwnUpdate}).
   */
  UPDATE_OWN(12, 2, "c->s", "requestId", "alias", "seq", "field", "fieldType", "state");

  private static final MessageType[] BY_CODE = new MessageType[13];

  static {
    for (MessageType t : values()) {
      BY_CODE[t.code] = t;
    }
  }

  private final int code;
  private final int sinceVersion;
  private final String direction;
  private final List<String> fieldNames;

  MessageType(int code, String direction, String... fieldNames) {
    this(code, 1, direction, fieldNames);
  }

  MessageType(int code, int sinceVersion, String direction, String... fieldNames) {
    this.code = code;
    this.sinceVersion = sinceVersion;
    this.direction = direction;
    this.fieldNames = List.of(fieldNames);
  }

  /** The wire code, the first element of the message's array. */
  public int code() {
    return code;
  }

  /** The first protocol version that has this type: 1, or 2 for {@link #UPDATE_OWN}. */
  public int sinceVersion() {
    return sinceVersion;
  }

  /**
   * How many fields follow the type (not counting optional trailing fields a later version added,
   * such as SUBSCRIBE's alias); a frame may carry more (ignored), never fewer.
   */
  public int fieldCount() {
    return fieldNames.size();
  }

  /**
   * The names of the fields after the type, in wire order, as {@code docs/PROTOCOL.md} names them.
   */
  public List<String> fieldNames() {
    return fieldNames;
  }

  /** Who sends it: {@code c->s}, {@code s->c} or {@code both}. */
  public String direction() {
    return direction;
  }

  /** The type with wire code {@code code}, or empty for a code this version does not know. */
  public static Optional<MessageType> fromCode(long code) {
    return code >= 1 && code < BY_CODE.length
        ? Optional.ofNullable(BY_CODE[(int) code])
        : Optional.empty();
  }
}

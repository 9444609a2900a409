package dev.lattice.protocol;

import java.util.Optional;

/**
 * The codes an {@link ErrorMessage} carries, with their wire values. A client must treat a code it
 * does not know as a generic failure of the request it names: later minor revisions may add codes.
 *
 * <p>Immutable and thread-safe.
 */
public enum ErrorCode {
  /** The frame is not a well-formed message of this protocol version. */
  MALFORMED_MESSAGE(1, "the frame is not a well-formed message of the agreed protocol version"),
  /** HELLO offered no protocol version the server speaks. */
  UNSUPPORTED_VERSION(2, "no protocol version in common with the server"),
  /** The credentials were missing, invalid or expired, or do not grant this document. */
  UNAUTHORIZED(3, "credentials missing, invalid or not allowed this document"),
  /** UPDATE, PRESENCE or UNSUBSCRIBE named a document the connection has not subscribed to. */
  NOT_SUBSCRIBED(4, "the connection has not subscribed to this document"),
  /** SUBSCRIBE would pass the server's maxDocumentsPerConnection. */
  TOO_MANY_DOCUMENTS(5, "subscribing would pass maxDocumentsPerConnection"),
  /** The update would give the document more than maxFieldsPerDocument fields. */
  TOO_MANY_FIELDS(6, "the update would pass maxFieldsPerDocument"),
  /** The connection sent updates faster than updatesPerSecond / updateBurst allow. */
  RATE_LIMITED(7, "updates arrive faster than the rate limit allows; retry later"),
  /** The update writes a field with a CRDT type other than the field's existing one. */
  FIELD_TYPE_MISMATCH(8, "the update changes the CRDT type of an existing field"),
  /** The update carries an HLC timestamp too far ahead of the server's clock. */
  CLOCK_DRIFT(9, "a timestamp in the update is too far ahead of the server clock"),
  /** The frame is larger than maxFrameBytes. */
  FRAME_TOO_LARGE(10, "the frame is larger than maxFrameBytes"),
  /** The presence value is larger than maxPresenceBytes. */
  PRESENCE_TOO_LARGE(11, "the presence value is larger than maxPresenceBytes"),
  /** The server failed; the request may be retried. */
  INTERNAL(12, "the server failed; the request may be retried"),
  /** A message other than HELLO arrived before HELLO. */
  HELLO_REQUIRED(13, "a message other than HELLO arrived before HELLO"),
  /** A request reused the id of a request still outstanding on this connection. */
  DUPLICATE_REQUEST_ID(14, "the request id is already in use by an outstanding request"),
  /**
   * Version 2: a SUBSCRIBE named a document alias that a current subscription of the connection
   * already uses for another document.
   */
  ALIAS_IN_USE(15, "the document alias is in use by another subscription of the connection"),
  /**
   * The connection's principal lacks the right the request needs: read for SUBSCRIBE and PRESENCE,
   * write for UPDATE. The request is refused and nothing of it is merged; the connection stays
   * open.
   */
  FORBIDDEN(16, "the credentials do not grant this right on this document"),
  /**
   * The connection's token expired; sent just before close 4007 (TOKEN_EXPIRED). The client
   * reconnects with a fresh token.
   */
  TOKEN_EXPIRED(17, "the token expired; reconnect with a fresh one"),
  /**
   * An update carried dots (or field state) of a replica other than the one the connection named in
   * HELLO. Nothing of it is merged. The sender is not that replica: a client bug or a forgery.
   */
  REPLICA_MISMATCH(18, "the update carries dots of another replica than the connection's"),
  /**
   * An update's dots do not continue what the server holds of the connection's replica: a dot the
   * server holds with different content (the replica id was reused, for example by a client whose
   * state directory was restored from a backup), new dots after a gap, or held and new dots in one
   * update. Nothing of it is merged. The client re-subscribes and compares the SYNC's vector with
   * its own history; a replica whose dots the server holds with other content is retired.
   */
  STALE_REPLICA(19, "the update's dots do not continue what the server holds of this replica"),
  /**
   * The update would make a counter's value leave the signed 64-bit range: a G-Counter's sum, or
   * the sum of a PN-Counter's increments or of its decrements, past 2^63-1. Nothing of the update
   * is merged; retrying it cannot succeed.
   */
  COUNTER_OVERFLOW(20, "the update would make a counter pass the signed 64-bit range"),
  /**
   * A field of the update is too large to be sent back: one replica's contribution to it (in
   * practice a register value) would not fit a fan-out UPDATE of the document within maxFrameBytes.
   * Nothing of the update is merged; resending it unchanged cannot succeed.
   */
  FIELD_TOO_LARGE(21, "a field of the update could not be sent back within maxFrameBytes"),
  /**
   * HELLO named a replica id that the server has bound to another authenticated subject (the first
   * subject to connect with a replica id owns it for good). Sent just before close 4008
   * (REPLICA_OWNED). The client takes a fresh replica id, re-issues its unacknowledged edits under
   * it and reconnects; retrying with the same id cannot succeed.
   */
  REPLICA_OWNED(22, "the replica id belongs to another subject; take a fresh one");

  // Indexed by wire value; codes may leave gaps (a client treats an unknown code as a failure).
  private static final ErrorCode[] BY_CODE;

  static {
    int max = 0;
    for (ErrorCode c : values()) {
      max = Math.max(max, c.code);
    }
    BY_CODE = new ErrorCode[max + 1];
    for (ErrorCode c : values()) {
      BY_CODE[c.code] = c;
    }
  }

  private final int code;
  private final String meaning;

  ErrorCode(int code, String meaning) {
    this.code = code;
    this.meaning = meaning;
  }

  /** The value on the wire. */
  public int code() {
    return code;
  }

  /** One line saying what the code means. */
  public String meaning() {
    return meaning;
  }

  /** The code with wire value {@code code}, or empty for a code this version does not know. */
  public static Optional<ErrorCode> fromCode(long code) {
    return code >= 1 && code < BY_CODE.length
        ? Optional.ofNullable(BY_CODE[(int) code])
        : Optional.empty();
  }
}

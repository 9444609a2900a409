package dev.lattice.client;

import dev.lattice.protocol.ErrorCode;
import java.util.Objects;
import java.util.Optional;

/**
 * The server refused one of this client's edits (or a subscription) for good: resending it
 * unchanged would fail again. The edit has been taken out of the outbox and undone in the local
 * replica. Carries the server's code and message.
 *
 * <p>Immutable and thread-safe.
 */
public final class UpdateRejectedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int code;
  private final String serverMessage;
  private final String documentId;

  /**
   * @param code the server's error code (a wire value; see {@link ErrorCode})
   * @param serverMessage the server's explanation
   * @param documentId the document the refused request was about
   */
  public UpdateRejectedException(int code, String serverMessage, String documentId) {
    super(
        "the server refused a change of document '"
            + documentId
            + "': "
            + ErrorCode.fromCode(code).map(ErrorCode::name).orElse("code " + code)
            + ": "
            + serverMessage);
    this.code = code;
    this.serverMessage = Objects.requireNonNull(serverMessage, "serverMessage");
    this.documentId = Objects.requireNonNull(documentId, "documentId");
  }

  /** The server's code as an {@link ErrorCode}, or empty for a code this build does not know. */
  public Optional<ErrorCode> errorCode() {
    return ErrorCode.fromCode(code);
  }

  /** The server's code as sent on the wire. */
  public int code() {
    return code;
  }

  /** The server's explanation. */
  public String serverMessage() {
    return serverMessage;
  }

  /** The document concerned. */
  public String documentId() {
    return documentId;
  }
}

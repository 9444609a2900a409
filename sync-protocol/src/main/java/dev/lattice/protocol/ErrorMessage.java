package dev.lattice.protocol;

import java.util.Optional;
import java.util.OptionalLong;

/**
 * ERROR, server to client: a request failed (the request id names it), or, without a request id,
 * the connection as a whole is in trouble (often followed by a close). The code is kept as a number
 * so that codes added by later servers still arrive; {@link #errorCode()} maps the known ones.
 *
 * <p>Immutable and thread-safe.
 *
 * @param requestId the failed request's id, or empty
 * @param code an {@link ErrorCode} value, at least 1
 * @param message a human-readable explanation, for logs (possibly empty)
 */
public record ErrorMessage(OptionalLong requestId, int code, String message) implements Message {

  /**
   * @throws IllegalArgumentException if a present {@code requestId} or {@code code} is below 1
   * @throws NullPointerException if a component is null (use {@link OptionalLong#empty()})
   */
  public ErrorMessage {
    Checks.requestId("ERROR", requestId);
    if (code < 1) {
      throw new IllegalArgumentException("ERROR.code must be >= 1, was " + code);
    }
    Checks.notNull("ERROR", "message", message);
  }

  /** An error of a known code, about the request {@code requestId} (or none). */
  public static ErrorMessage of(OptionalLong requestId, ErrorCode code, String message) {
    return new ErrorMessage(requestId, code.code(), message);
  }

  /** The code as an {@link ErrorCode}, or empty for a code this version does not know. */
  public Optional<ErrorCode> errorCode() {
    return ErrorCode.fromCode(code);
  }

  @Override
  public MessageType messageType() {
    return MessageType.ERROR;
  }
}

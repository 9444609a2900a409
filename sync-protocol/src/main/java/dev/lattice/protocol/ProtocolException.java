package dev.lattice.protocol;

import java.util.Objects;

/**
 * A frame that is not a well-formed message within the {@link ProtocolLimits}: the only exception
 * {@link MessageCodec#decode(byte[])} throws for bad bytes. It carries the {@link ErrorCode} to
 * report to the peer (normally {@link ErrorCode#MALFORMED_MESSAGE}, or {@link
 * ErrorCode#FRAME_TOO_LARGE}), and a message saying what was expected, what arrived and where. A
 * {@code CodecException} from an embedded CRDT payload is its cause.
 *
 * <p>Immutable once thrown, and thread-safe.
 */
public class ProtocolException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final ErrorCode code;

  /** A failure with {@code code}, described by {@code message}. */
  public ProtocolException(ErrorCode code, String message) {
    super(message);
    this.code = Objects.requireNonNull(code, "code");
  }

  /** A failure with {@code code}, described by {@code message}, caused by {@code cause}. */
  public ProtocolException(ErrorCode code, String message, Throwable cause) {
    super(message, cause);
    this.code = Objects.requireNonNull(code, "code");
  }

  /** The code to send back in an {@link ErrorMessage}. */
  public ErrorCode code() {
    return code;
  }
}

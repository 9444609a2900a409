package dev.lattice.server.hub;

import dev.lattice.protocol.ErrorCode;
import java.util.Objects;

/**
 * A request the hub refused or could not carry out, with the protocol error code the session sends
 * back to the client.
 *
 * <p>Immutable once thrown, and thread-safe.
 */
public final class HubException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final ErrorCode code;

  public HubException(ErrorCode code, String message) {
    super(message);
    this.code = Objects.requireNonNull(code, "code");
  }

  public HubException(ErrorCode code, String message, Throwable cause) {
    super(message, cause);
    this.code = Objects.requireNonNull(code, "code");
  }

  /** The protocol error code for the client. */
  public ErrorCode code() {
    return code;
  }
}

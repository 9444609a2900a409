package dev.lattice.server.spi;

import java.util.Objects;

/**
 * What an {@link Authenticator} decided: a {@link Granted} principal or a {@link Refused} reason.
 *
 * <p>Immutable and thread-safe.
 */
public sealed interface AuthResult {

  /** The credentials are valid and name {@code principal}. */
  record Granted(Principal principal) implements AuthResult {
    public Granted {
      Objects.requireNonNull(principal, "principal");
    }
  }

  /**
   * The credentials are missing or invalid. The reason reaches the client (in ERROR UNAUTHORIZED or
   * the 401 body) and the log, so it must never contain the token or a secret.
   */
  record Refused(String reason) implements AuthResult {
    public Refused {
      Objects.requireNonNull(reason, "reason");
    }
  }

  static AuthResult granted(Principal principal) {
    return new Granted(principal);
  }

  static AuthResult refused(String reason) {
    return new Refused(reason);
  }
}

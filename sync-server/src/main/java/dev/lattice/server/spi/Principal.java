package dev.lattice.server.spi;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * Who a connection or HTTP request was authenticated as: a subject (the JWT {@code sub}), when the
 * credentials stop being valid, and the document rights they carry. Holds no token.
 *
 * <p>The session keeps it ({@code ServerSession.principal()}) so that a replica id can be bound to
 * the subject.
 *
 * <p>Immutable and thread-safe.
 */
public final class Principal {

  private static final Principal ANONYMOUS =
      new Principal("anonymous", Optional.empty(), DocumentRights.all());

  private final String subject;
  private final Optional<Instant> expiresAt;
  private final DocumentRights rights;

  private Principal(String subject, Optional<Instant> expiresAt, DocumentRights rights) {
    this.subject = subject;
    this.expiresAt = expiresAt;
    this.rights = rights;
  }

  /**
   * A principal that never expires, with read and write on every document; narrow it with {@link
   * #withRights} or {@link #expiringAt}, or decide rights in an {@link Authorizer}.
   */
  public static Principal of(String subject) {
    Objects.requireNonNull(subject, "subject");
    if (subject.isBlank()) {
      throw new IllegalArgumentException("a principal's subject must not be blank");
    }
    return new Principal(subject, Optional.empty(), DocumentRights.all());
  }

  /** The principal of a server without authentication: subject "anonymous", every right. */
  public static Principal anonymous() {
    return ANONYMOUS;
  }

  /** This principal with {@code rights}. */
  public Principal withRights(DocumentRights rights) {
    return new Principal(subject, expiresAt, Objects.requireNonNull(rights, "rights"));
  }

  /**
   * This principal, valid until {@code expiresAt}: a session opened with it is closed with 4007
   * (TOKEN_EXPIRED) then.
   */
  public Principal expiringAt(Instant expiresAt) {
    return new Principal(
        subject, Optional.of(Objects.requireNonNull(expiresAt, "expiresAt")), rights);
  }

  public String subject() {
    return subject;
  }

  /** When the credentials stop being valid; empty if never. */
  public Optional<Instant> expiresAt() {
    return expiresAt;
  }

  /** The document rights the credentials carry (the default {@link Authorizer} applies them). */
  public DocumentRights rights() {
    return rights;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Principal other
        && subject.equals(other.subject)
        && expiresAt.equals(other.expiresAt)
        && rights.equals(other.rights);
  }

  @Override
  public int hashCode() {
    return Objects.hash(subject, expiresAt, rights);
  }

  @Override
  public String toString() {
    return "Principal["
        + subject
        + expiresAt.map(t -> ", expires " + t).orElse("")
        + ", "
        + rights
        + "]";
  }
}

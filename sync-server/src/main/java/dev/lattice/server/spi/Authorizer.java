package dev.lattice.server.spi;

/**
 * Says what a principal may do with a document. Asked on every SUBSCRIBE, UPDATE and PRESENCE (not
 * only at connect) and on every HTTP read, so rights that change are honoured from the next request
 * on.
 *
 * <p>Called on the session's thread for every such message: it must answer quickly, without I/O
 * (keep what it needs in the {@link Principal}, or cache). An exception counts as {@link
 * Access#NONE}.
 *
 * <p>Implementations are thread-safe.
 */
@FunctionalInterface
public interface Authorizer {

  /** What {@code principal} may do with {@code documentId}. */
  Access access(Principal principal, String documentId);

  /**
   * The default: the rights the principal carries ({@link Principal#rights()}, from the JWT claim
   * {@code lattice}).
   */
  static Authorizer byPrincipalRights() {
    return (principal, documentId) -> principal.rights().accessTo(documentId);
  }
}

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
   * Whether the answer depends on nothing but the principal and the document id (no ACL that an
   * administrator may change, no clock), so a connection's rights cannot change while it lasts; a
   * principal's expiry is enforced apart. The server then skips the periodic re-check of an open
   * connection's subscriptions (its {@code rightsRecheckInterval}), a timer per subscribed
   * connection. The default is false: re-checked.
   */
  default boolean dependsOnlyOnPrincipal() {
    return false;
  }

  /**
   * The default: the rights the principal carries ({@link Principal#rights()}, from the JWT claim
   * {@code lattice}). It {@linkplain #dependsOnlyOnPrincipal() depends only on the principal}.
   */
  static Authorizer byPrincipalRights() {
    return new Authorizer() {
      @Override
      public Access access(Principal principal, String documentId) {
        return principal.rights().accessTo(documentId);
      }

      @Override
      public boolean dependsOnlyOnPrincipal() {
        return true;
      }
    };
  }
}

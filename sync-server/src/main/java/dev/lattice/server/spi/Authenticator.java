package dev.lattice.server.spi;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;

/**
 * Checks a client's token and says who it is. Asked once per connection, before any document is
 * touched: at the WebSocket upgrade when the request carries a token (an {@code Authorization:
 * Bearer} header, the {@code access_token} query parameter or a {@code lattice.bearer.<token>}
 * subprotocol), else at HELLO with its credentials; and once per HTTP read of document data. {@code
 * token} is empty when the client sent none.
 *
 * <p>Asynchronous so that an implementation may call out (an introspection endpoint, a key server);
 * the server never blocks on the stage. A stage that is already complete when returned is used at
 * once: that is the fast path, and the only way a refusal at upgrade is answered with 401 (a
 * pending stage lets the upgrade through and the session waits for it before HELLO is answered). A
 * stage that fails counts as a refusal.
 *
 * <p>Implementations are thread-safe; they are called concurrently from Jetty's threads.
 */
@FunctionalInterface
public interface Authenticator {

  /** Decides on {@code token}; must not throw (a failed stage is a refusal). */
  CompletionStage<AuthResult> authenticate(Optional<String> token);

  /**
   * The authenticator of a server without authentication: everyone is {@link
   * Principal#anonymous()}, with every right.
   */
  static Authenticator allowAll() {
    AuthResult anonymous = AuthResult.granted(Principal.anonymous());
    return token -> CompletableFuture.completedFuture(anonymous);
  }

  /** An authenticator that decides synchronously, for embedders whose check is local. */
  static Authenticator of(Function<Optional<String>, AuthResult> decide) {
    return token -> {
      try {
        return CompletableFuture.completedFuture(decide.apply(token));
      } catch (RuntimeException e) {
        return CompletableFuture.failedFuture(e);
      }
    };
  }
}

package dev.lattice.server.session;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.server.spi.AuthResult;
import dev.lattice.server.spi.Principal;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * What a {@link ServerSession} tells the server's extensions about its connection: HELLO arrived
 * (the connection may be refused), the {@link dev.lattice.server.spi.Authenticator} granted a
 * principal (which may be refused or replaced), and the connection ended, with its close code. The
 * server's extension runner implements it.
 *
 * <p>Called from the session's tasks, on whichever thread runs them: implementations return at once
 * (a stage for the first two) and do their work elsewhere. Thread-safe.
 */
public interface SessionHooks {

  /** Hooks that do nothing. */
  SessionHooks NONE = new SessionHooks() {};

  /**
   * HELLO arrived, before its credentials are checked. A failed stage refuses the connection (ERROR
   * UNAUTHORIZED and close 4002); nothing is read from the connection until it completes.
   */
  default CompletionStage<Void> connecting(String connectionId, ReplicaId replica, int version) {
    return CompletableFuture.completedFuture(null);
  }

  /**
   * {@link #connecting(String, ReplicaId, int)} for a connection whose WebSocket upgrade showed
   * {@code handshake}; by default the handshake is ignored.
   */
  default CompletionStage<Void> connecting(
      String connectionId, ReplicaId replica, int version, Handshake handshake) {
    return connecting(connectionId, replica, version);
  }

  /**
   * The authenticator granted {@code principal} for {@code token} (the upgrade's token, else
   * HELLO's credentials; empty if the client sent none). The stage's answer decides instead: {@link
   * AuthResult.Granted} with this or another principal, or {@link AuthResult.Refused}, whose reason
   * reaches the client. A failed stage is a refusal.
   */
  default CompletionStage<AuthResult> authenticated(
      String connectionId, ReplicaId replica, Optional<String> token, Principal principal) {
    return CompletableFuture.completedFuture(AuthResult.granted(principal));
  }

  /**
   * A connection whose HELLO reached {@link #connecting} ended, however it ended: {@code code} and
   * {@code reason} are the close the server sent (a refusal, an idle timeout, a slow consumer, a
   * shutdown) or the peer's close as the transport reported it (1006 when the TCP connection just
   * ended). Called once per such connection.
   *
   * @param principal who it authenticated as; null if it never was
   */
  default void disconnected(
      String connectionId, ReplicaId replica, Principal principal, int code, String reason) {}
}

package dev.lattice.client;

import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The state of a client's connection to the server, with the reason for the last change.
 *
 * <p>Immutable and thread-safe.
 *
 * @param state the state
 * @param reason why the connection is in this state (a close reason, a connect failure, the
 *     server's refusal); empty when there is nothing to say. While {@link State#CONNECTING} after a
 *     lost or failed connection it starts as an app would show it, with when the next attempt comes
 *     ("server unreachable, retrying in 2 s"), followed by the close code and the technical reason
 *     in parentheses
 * @param closeCode the WebSocket close code that led here, if a close did
 * @param httpStatus the HTTP status the server answered the WebSocket upgrade with instead of
 *     accepting it (401, 403, 404, 503...), if that is what led here
 */
public record ConnectionStatus(
    State state, Optional<String> reason, OptionalInt closeCode, OptionalInt httpStatus) {

  /** Connection states. */
  public enum State {
    /**
     * Trying to (re)connect: opening the socket, saying HELLO, or waiting for the next attempt
     * after a retryable failure. Edits keep working and queue in the outbox.
     */
    CONNECTING,
    /** The server welcomed this client; edits are being sent. */
    ONLINE,
    /** The client was closed: not connected, and never again. */
    OFFLINE,
    /**
     * Not connected and no longer retrying, because retrying cannot help: the server refused the
     * client for good, either by a close code (credentials, protocol version; see {@link
     * #closeCode()}) or by answering the WebSocket upgrade with an HTTP status such as 401, 403 or
     * 404 (a wrong path; see {@link #httpStatus()}). The reason says which. Edits keep working
     * locally and stay in the outbox; fix the cause and create a new client.
     */
    FAILED
  }

  /**
   * @throws NullPointerException if a component is null
   */
  public ConnectionStatus {
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(closeCode, "closeCode");
    Objects.requireNonNull(httpStatus, "httpStatus");
  }
}

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
 *     server's refusal); empty when there is nothing to say
 * @param closeCode the WebSocket close code that led here, if a close did
 */
public record ConnectionStatus(State state, Optional<String> reason, OptionalInt closeCode) {

  /** Connection states. */
  public enum State {
    /**
     * Trying to (re)connect: opening the socket, saying HELLO, or waiting for the next attempt
     * after a retryable failure. Edits keep working and queue in the outbox.
     */
    CONNECTING,
    /** The server welcomed this client; edits are being sent. */
    ONLINE,
    /**
     * Not connected and not retrying: the server refused the client for good (credentials, protocol
     * version), or the client was closed. Edits keep working locally.
     */
    OFFLINE
  }

  /**
   * @throws NullPointerException if a component is null
   */
  public ConnectionStatus {
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(closeCode, "closeCode");
  }

  static ConnectionStatus of(State state, String reason, int closeCode) {
    return new ConnectionStatus(
        state,
        Optional.ofNullable(reason).filter(r -> !r.isEmpty()),
        closeCode == 0 ? OptionalInt.empty() : OptionalInt.of(closeCode));
  }
}

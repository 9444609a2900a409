package dev.lattice.client.internal;

import dev.lattice.client.ConnectionStatus;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Builds the {@link ConnectionStatus} values the session reports: an empty reason or a zero close
 * code mean "none". Lives here so that the API record keeps only its canonical constructor.
 * Stateless.
 */
public final class ConnectionStatuses {

  private ConnectionStatuses() {}

  /** A status with a WebSocket close code ({@code 0}: none). */
  public static ConnectionStatus of(ConnectionStatus.State state, String reason, int closeCode) {
    return new ConnectionStatus(
        state,
        Optional.ofNullable(reason).filter(r -> !r.isEmpty()),
        closeCode == 0 ? OptionalInt.empty() : OptionalInt.of(closeCode),
        OptionalInt.empty());
  }

  /** A status for a refused HTTP upgrade. */
  public static ConnectionStatus ofHttp(
      ConnectionStatus.State state, String reason, int httpStatus) {
    return new ConnectionStatus(
        state,
        Optional.ofNullable(reason).filter(r -> !r.isEmpty()),
        OptionalInt.empty(),
        OptionalInt.of(httpStatus));
  }
}

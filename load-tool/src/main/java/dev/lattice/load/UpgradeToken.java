package dev.lattice.load;

import java.util.Optional;

/**
 * The bearer token every connection of a run sends at the WebSocket upgrade ({@code Authorization:
 * Bearer}), from {@code --token} or {@code --token-file}: set by {@link Target} for the length of
 * the run, so that the connection code of every scenario (and the idle scenario's raw sockets and
 * worker JVMs) sends it without each scenario's configuration carrying it. One run at a time per
 * process, as the tool runs.
 *
 * <p>Thread-safe: a volatile field, written before the run's connections start.
 */
final class UpgradeToken {

  /** How a worker JVM of the idle scenario gets the token: never on its command line. */
  static final String ENV = "LATTICE_LOAD_TOKEN";

  private static volatile String token;

  private UpgradeToken() {}

  /** Makes {@code value} (null for none) the token of the connections opened from now on. */
  static void set(String value) {
    token = value;
  }

  static Optional<String> get() {
    return Optional.ofNullable(token);
  }
}

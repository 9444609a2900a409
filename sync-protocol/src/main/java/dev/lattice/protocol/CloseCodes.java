package dev.lattice.protocol;

/**
 * The WebSocket close codes a Lattice server sends, and whether a client should reconnect after
 * each. The 1000-range codes are those of RFC 6455; the 4000-range codes are Lattice's own.
 *
 * <p>Constants only; thread-safe.
 */
public final class CloseCodes {

  /** The connection did its job; do not reconnect unless the application wants to. */
  public static final int NORMAL = 1000;

  /** The server is shutting down or restarting: reconnect (to any server) with backoff. */
  public static final int GOING_AWAY = 1001;

  /** A policy violation, such as an authentication failure at upgrade: do not retry unchanged. */
  public static final int POLICY_VIOLATION = 1008;

  /** A WebSocket message was larger than the transport accepts: do not retry unchanged. */
  public static final int TOO_BIG = 1009;

  /** The server failed: reconnect with backoff. */
  public static final int INTERNAL_ERROR = 1011;

  /**
   * A frame was not a valid message (or was a text frame): a client bug, do not retry unchanged.
   */
  public static final int MALFORMED_FRAME = 4000;

  /** HELLO offered no version the server speaks: do not retry without upgrading. */
  public static final int UNSUPPORTED_VERSION = 4001;

  /** The credentials were refused: do not retry until they change. */
  public static final int UNAUTHORIZED = 4002;

  /** The client read too slowly for the server to keep buffering: reconnect and catch up. */
  public static final int SLOW_CONSUMER = 4003;

  /** Nothing arrived within idleTimeoutMillis: reconnect when there is something to do. */
  public static final int IDLE_TIMEOUT = 4004;

  /** The client kept passing the rate limit: reconnect after a backoff. */
  public static final int RATE_LIMITED = 4005;

  /** The server is overloaded or draining: reconnect after a backoff, ideally to another server. */
  public static final int TRY_AGAIN_LATER = 4006;

  /**
   * The token the session was opened with expired: reconnect at once with a fresh token (asking the
   * credentials supplier again), without a long backoff.
   */
  public static final int TOKEN_EXPIRED = 4007;

  /**
   * HELLO named a replica id bound to another authenticated subject: take a fresh replica id (and
   * re-issue unacknowledged edits under it) before reconnecting. Reconnecting unchanged would be
   * refused again, so {@link #shouldReconnect} says false.
   */
  public static final int REPLICA_OWNED = 4008;

  private CloseCodes() {}

  /**
   * Whether a client should reconnect (with backoff and jitter) after the server closed with {@code
   * code}. False for codes saying that retrying unchanged would fail again, and for {@link
   * #NORMAL}. Unknown codes in the 4000 range are treated as not retryable; other unknown codes
   * (network-level closes such as 1006) as retryable.
   */
  public static boolean shouldReconnect(int code) {
    return switch (code) {
      case GOING_AWAY,
              INTERNAL_ERROR,
              SLOW_CONSUMER,
              IDLE_TIMEOUT,
              RATE_LIMITED,
              TRY_AGAIN_LATER,
              TOKEN_EXPIRED ->
          true;
      case NORMAL,
              POLICY_VIOLATION,
              TOO_BIG,
              MALFORMED_FRAME,
              UNSUPPORTED_VERSION,
              UNAUTHORIZED,
              REPLICA_OWNED ->
          false;
      default -> code < 4000 || code > 4999;
    };
  }

  /** A short name for {@code code}, for logs; {@code "UNKNOWN"} for a code not listed here. */
  public static String name(int code) {
    return switch (code) {
      case NORMAL -> "NORMAL";
      case GOING_AWAY -> "GOING_AWAY";
      case POLICY_VIOLATION -> "POLICY_VIOLATION";
      case TOO_BIG -> "TOO_BIG";
      case INTERNAL_ERROR -> "INTERNAL_ERROR";
      case MALFORMED_FRAME -> "MALFORMED_FRAME";
      case UNSUPPORTED_VERSION -> "UNSUPPORTED_VERSION";
      case UNAUTHORIZED -> "UNAUTHORIZED";
      case SLOW_CONSUMER -> "SLOW_CONSUMER";
      case IDLE_TIMEOUT -> "IDLE_TIMEOUT";
      case RATE_LIMITED -> "RATE_LIMITED";
      case TRY_AGAIN_LATER -> "TRY_AGAIN_LATER";
      case TOKEN_EXPIRED -> "TOKEN_EXPIRED";
      case REPLICA_OWNED -> "REPLICA_OWNED";
      default -> "UNKNOWN";
    };
  }
}

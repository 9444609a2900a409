package dev.lattice.server;

import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;

/**
 * Where an HTTP request (a WebSocket upgrade or a document read) carries a token, and the origin
 * check of upgrades. In order: an {@code Authorization: Bearer <token>} header, the query parameter
 * {@code access_token}, and (upgrades only, for browsers, which can set neither header) a WebSocket
 * subprotocol {@code lattice.bearer.<token>}; the first present wins.
 *
 * <p>Stateless; thread-safe.
 */
final class RequestCredentials {

  /** The query parameter that may carry the token. */
  static final String ACCESS_TOKEN_PARAMETER = "access_token";

  /** The subprotocol a browser offers with the token: {@code lattice.bearer.<token>}. */
  static final String BEARER_SUBPROTOCOL_PREFIX = "lattice.bearer.";

  /** The subprotocol the server selects when offered, so browsers accept the handshake. */
  static final String SUBPROTOCOL = "lattice";

  private static final String BEARER = "bearer ";

  private RequestCredentials() {}

  /** The token of the header or the query parameter; empty if neither carries one. */
  static Optional<String> token(Request request) {
    String authorization = request.getHeaders().get(HttpHeader.AUTHORIZATION);
    if (authorization != null
        && authorization.length() > BEARER.length()
        && authorization.substring(0, BEARER.length()).toLowerCase(Locale.ROOT).equals(BEARER)) {
      String token = authorization.substring(BEARER.length()).strip();
      if (!token.isEmpty()) {
        return Optional.of(token);
      }
    }
    if (request.getHttpURI().getQuery() != null) {
      Fields query = Request.extractQueryParameters(request);
      String token = query.getValue(ACCESS_TOKEN_PARAMETER);
      if (token != null && !token.isBlank()) {
        return Optional.of(token);
      }
    }
    return Optional.empty();
  }

  /** {@link #token(Request)}, else the token of a {@code lattice.bearer.<token>} subprotocol. */
  static Optional<String> upgradeToken(Request request, List<String> subprotocols) {
    Optional<String> token = token(request);
    if (token.isPresent()) {
      return token;
    }
    for (String protocol : subprotocols) {
      if (protocol.startsWith(BEARER_SUBPROTOCOL_PREFIX)
          && protocol.length() > BEARER_SUBPROTOCOL_PREFIX.length()) {
        return Optional.of(protocol.substring(BEARER_SUBPROTOCOL_PREFIX.length()));
      }
    }
    return Optional.empty();
  }

  /**
   * Whether an upgrade from this request's {@code Origin} is allowed: always without an {@code
   * Origin} header (not a browser) or with no list configured, else only for a listed origin.
   */
  static boolean originAllowed(Request request, Set<String> allowedOrigins) {
    if (allowedOrigins.isEmpty()) {
      return true;
    }
    String origin = request.getHeaders().get(HttpHeader.ORIGIN);
    return origin == null || allowedOrigins.contains(origin);
  }

  /**
   * Answers 401 with a {@code WWW-Authenticate: Bearer} challenge; the reason never holds a token.
   */
  static void unauthorized(
      Request request, Response response, Callback callback, boolean tokenGiven, String reason) {
    challenge(response, tokenGiven);
    Response.writeError(request, response, callback, 401, reason);
  }

  /** Sets the {@code WWW-Authenticate: Bearer} challenge of a 401 (RFC 6750). */
  static void challenge(Response response, boolean tokenGiven) {
    response
        .getHeaders()
        .put(
            HttpHeader.WWW_AUTHENTICATE,
            tokenGiven
                ? "Bearer realm=\"lattice\", error=\"invalid_token\""
                : "Bearer realm=\"lattice\"");
  }
}

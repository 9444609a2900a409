package dev.lattice.server;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.List;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpStream;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * The WebSocket upgrade (RFC 6455, section 4.2) at one path, in front of the plain HTTP handler: a
 * request there that asks for a WebSocket ({@code GET} over HTTP/1.1 with {@code Upgrade:
 * websocket} and a {@code Connection: upgrade} token) is answered here, anything else goes on to
 * the wrapped handler. A version other than 13 is 426 with {@code Sec-WebSocket-Version: 13}; a
 * missing or malformed {@code Sec-WebSocket-Key} is 400. Then the {@link Negotiator} decides: it
 * answers a refusal itself, or gives the connection to switch to, and the upgrade is answered 101
 * with the key's {@code Sec-WebSocket-Accept}; no extension is ever negotiated. Jetty hands the
 * socket to the connection once the 101 is written ({@link
 * HttpStream#UPGRADE_CONNECTION_ATTRIBUTE}).
 *
 * <p>Thread-safe: holds nothing per request.
 */
final class WebSocketUpgrade extends Handler.Wrapper {

  /** Decides an upgrade already found well-formed. */
  @FunctionalInterface
  interface Negotiator {
    /**
     * Returns the connection to switch to, having put any {@code Sec-WebSocket-Protocol} it selects
     * on {@code response}; or answers a refusal on {@code response} and returns null.
     *
     * @param subprotocols the subprotocols the client offered, in order
     */
    WebSocketConnection negotiate(
        Request request, Response response, Callback callback, List<String> subprotocols)
        throws Exception;
  }

  private static final String VERSION = "13";
  private static final String GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

  private final String path;
  private final Negotiator negotiator;

  WebSocketUpgrade(String path, Negotiator negotiator, Handler next) {
    super(next);
    this.path = path;
    this.negotiator = negotiator;
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) throws Exception {
    if (!isUpgrade(request)) {
      return super.handle(request, response, callback);
    }
    HttpFields headers = request.getHeaders();
    if (!VERSION.equals(headers.get(HttpHeader.SEC_WEBSOCKET_VERSION))) {
      response.getHeaders().put(HttpHeader.SEC_WEBSOCKET_VERSION, VERSION);
      Response.writeError(
          request,
          response,
          callback,
          HttpStatus.UPGRADE_REQUIRED_426,
          "unsupported WebSocket version: use 13");
      return true;
    }
    String key = headers.get(HttpHeader.SEC_WEBSOCKET_KEY);
    if (!validKey(key)) {
      Response.writeError(
          request, response, callback, HttpStatus.BAD_REQUEST_400, "bad Sec-WebSocket-Key");
      return true;
    }
    List<String> subprotocols = headers.getCSV(HttpHeader.SEC_WEBSOCKET_SUBPROTOCOL, true);
    WebSocketConnection connection =
        negotiator.negotiate(request, response, callback, subprotocols);
    if (connection == null) {
      return true;
    }
    response.setStatus(HttpStatus.SWITCHING_PROTOCOLS_101);
    HttpFields.Mutable answer = response.getHeaders();
    answer.put(HttpHeader.UPGRADE, "websocket");
    answer.put(HttpHeader.CONNECTION, "Upgrade");
    answer.put(HttpHeader.SEC_WEBSOCKET_ACCEPT, accept(key));
    request.setAttribute(HttpStream.UPGRADE_CONNECTION_ATTRIBUTE, connection);
    response.write(true, null, callback);
    return true;
  }

  /** A request for a WebSocket at our path, whatever its version. */
  private boolean isUpgrade(Request request) {
    if (!path.equals(request.getHttpURI().getPath())
        || !HttpMethod.GET.is(request.getMethod())
        || request.getConnectionMetaData().getHttpVersion() != HttpVersion.HTTP_1_1) {
      return false;
    }
    HttpFields headers = request.getHeaders();
    return headers.contains(HttpHeader.CONNECTION, "upgrade")
        && headers.contains(HttpHeader.UPGRADE, "websocket");
  }

  /** A key is the base64 of 16 bytes (section 4.1). */
  private static boolean validKey(String key) {
    if (key == null) {
      return false;
    }
    try {
      return Base64.getDecoder().decode(key.strip()).length == 16;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /** {@code Sec-WebSocket-Accept}: base64 of the SHA-1 of the key and the protocol's GUID. */
  static String accept(String key) {
    try {
      MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
      byte[] digest = sha1.digest((key.strip() + GUID).getBytes(StandardCharsets.US_ASCII));
      return Base64.getEncoder().encodeToString(digest);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-1 is required of every JVM", e);
    }
  }
}

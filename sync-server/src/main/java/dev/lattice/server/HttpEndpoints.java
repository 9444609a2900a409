package dev.lattice.server;

import dev.lattice.crdt.Document;
import dev.lattice.server.spi.Access;
import dev.lattice.server.spi.AuthResult;
import dev.lattice.server.spi.Authorizer;
import dev.lattice.server.spi.Principal;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.Supplier;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.URIUtil;

/**
 * The plain HTTP endpoints beside the WebSocket: {@code GET /healthz} (200 "ok" while the process
 * serves), {@code GET /readyz} (200 "ready" when started and the store is open, else 503) and
 * {@code GET /metrics} (Prometheus text format) and {@code GET /v1/docs/{id}} (the document as
 * JSON, see {@link DocumentJson}; 404 if it does not exist). {@code /v1/sync} reached without a
 * WebSocket upgrade (a browser, curl) is 426 Upgrade Required with {@code Upgrade: websocket}.
 * Other paths are 404, other methods 405. Blocking (a document load may read the disk).
 *
 * <p>Document reads are authenticated like a WebSocket (a token in {@code Authorization: Bearer} or
 * {@code access_token}; 401 without a valid one) and authorized for read (403 without the right),
 * before the document is loaded. {@code /healthz}, {@code /readyz} and {@code /metrics} are open:
 * they carry no document data (docs/SECURITY.md).
 */
final class HttpEndpoints extends Handler.Abstract {

  static final String DOCS_PREFIX = "/v1/docs/";

  /** The Prometheus text exposition format, version 0.0.4. */
  static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

  private static final System.Logger LOG = System.getLogger(HttpEndpoints.class.getName());

  private final BooleanSupplier ready;
  private final Function<String, Optional<Document>> documents;
  private final Supplier<String> metrics;
  private final Function<Optional<String>, CompletionStage<AuthResult>> authenticator;
  private final Authorizer authorizer;

  HttpEndpoints(
      BooleanSupplier ready,
      Function<String, Optional<Document>> documents,
      Supplier<String> metrics,
      Function<Optional<String>, CompletionStage<AuthResult>> authenticator,
      Authorizer authorizer) {
    this.ready = ready;
    this.documents = documents;
    this.metrics = metrics;
    this.authenticator = authenticator;
    this.authorizer = authorizer;
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    // The raw (still encoded) path: a decoded one cannot tell an id's %2F from a separator.
    String path = request.getHttpURI().getPath();
    if (path.equals(LatticeServer.SYNC_PATH)) {
      // Only requests that are not a WebSocket upgrade get here: say what the endpoint wants.
      response.getHeaders().put(HttpHeader.UPGRADE, "websocket");
      response.getHeaders().put(HttpHeader.CONNECTION, "Upgrade");
      Response.writeError(
          request,
          response,
          callback,
          HttpStatus.UPGRADE_REQUIRED_426,
          LatticeServer.SYNC_PATH + " is a WebSocket endpoint: connect with a WebSocket client");
      return true;
    }
    boolean known =
        path.equals("/healthz")
            || path.equals("/readyz")
            || path.equals("/metrics")
            || (path.startsWith(DOCS_PREFIX) && path.length() > DOCS_PREFIX.length());
    if (!known) {
      Response.writeError(request, response, callback, HttpStatus.NOT_FOUND_404);
      return true;
    }
    if (!HttpMethod.GET.is(request.getMethod())) {
      Response.writeError(request, response, callback, HttpStatus.METHOD_NOT_ALLOWED_405);
      return true;
    }
    if (path.equals("/healthz")) {
      text(response, callback, HttpStatus.OK_200, "ok");
    } else if (path.equals("/readyz")) {
      if (ready.getAsBoolean()) {
        text(response, callback, HttpStatus.OK_200, "ready");
      } else {
        text(response, callback, HttpStatus.SERVICE_UNAVAILABLE_503, "not ready");
      }
    } else if (path.equals("/metrics")) {
      response.setStatus(HttpStatus.OK_200);
      response.getHeaders().put(HttpHeader.CONTENT_TYPE, PROMETHEUS_TEXT);
      Content.Sink.write(response, true, metrics.get(), callback);
    } else {
      // The path in context keeps characters such as a space or '?' percent-encoded.
      String id = URIUtil.decodePath(path.substring(DOCS_PREFIX.length()));
      Optional<String> token = RequestCredentials.token(request);
      authenticator
          .apply(token)
          .whenComplete(
              (result, failure) -> {
                try {
                  if (!(result instanceof AuthResult.Granted granted)) {
                    RequestCredentials.challenge(response, token.isPresent());
                    jsonError(
                        response,
                        callback,
                        HttpStatus.UNAUTHORIZED_401,
                        result instanceof AuthResult.Refused r
                            ? "credentials refused: " + r.reason()
                            : "credentials refused");
                  } else if (!canRead(granted.principal(), id)) {
                    jsonError(
                        response,
                        callback,
                        HttpStatus.FORBIDDEN_403,
                        "no read right on document " + id);
                  } else {
                    serveDocument(response, callback, id);
                  }
                } catch (RuntimeException e) {
                  callback.failed(e);
                }
              });
    }
    return true;
  }

  private boolean canRead(Principal principal, String id) {
    try {
      Access access = authorizer.access(principal, id);
      return access != null && access.canRead();
    } catch (RuntimeException e) {
      return false;
    }
  }

  private void serveDocument(Response response, Callback callback, String id) {
    Optional<Document> document;
    try {
      document = documents.apply(id);
    } catch (RuntimeException e) {
      // The cause may name files, hosts or credentials: it goes to the log, not to the client.
      LOG.log(System.Logger.Level.WARNING, "GET of document '" + id + "' failed", e);
      jsonError(
          response,
          callback,
          HttpStatus.INTERNAL_SERVER_ERROR_500,
          "the server failed; the request may be retried");
      return;
    }
    if (document.isEmpty()) {
      jsonError(response, callback, HttpStatus.NOT_FOUND_404, "no document " + id);
    } else {
      json(response, callback, HttpStatus.OK_200, DocumentJson.render(document.get()));
    }
  }

  /** A JSON API answers in JSON, not with Jetty's HTML error page: {@code {"error": text}}. */
  private static void jsonError(Response response, Callback callback, int status, String text) {
    StringBuilder body = new StringBuilder("{\"error\":");
    DocumentJson.string(body, text);
    json(response, callback, status, body.append('}').toString());
  }

  private static void json(Response response, Callback callback, int status, String body) {
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
    Content.Sink.write(response, true, body, callback);
  }

  private static void text(Response response, Callback callback, int status, String body) {
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; charset=utf-8");
    Content.Sink.write(response, true, body, callback);
  }
}

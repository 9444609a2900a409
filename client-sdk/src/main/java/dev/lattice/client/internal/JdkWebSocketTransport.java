package dev.lattice.client.internal;

import dev.lattice.protocol.Message;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.protocol.ProtocolException;
import java.io.ByteArrayOutputStream;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * The thin adapter between {@link ClientSession} and the JDK's {@link WebSocket}: encodes and sends
 * messages one after another (the JDK allows one outstanding send), reassembles and decodes
 * incoming binary messages, and posts every event to the session's thread. It reads one message at
 * a time and asks for the next only once the session has taken the last, so a slow session slows
 * the socket instead of queueing without bound.
 *
 * <p>Thread-safe in the sense the session needs: its methods are called on the session thread;
 * WebSocket callbacks arrive on the HTTP client's threads and only post to the session thread.
 */
public final class JdkWebSocketTransport implements ClientTransport {

  private static final Logger LOG = System.getLogger(JdkWebSocketTransport.class.getName());
  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
  private static final long CLOSE_TIMEOUT_SECONDS = 5;

  private final URI uri;
  private final HttpClient http;
  private final MessageCodec codec;
  private final Executor sessionThread;
  private ClientSession session;

  /** The open connection and its send chain; touched only on the session thread. */
  private long currentGeneration = -1;

  private WebSocket current;
  private CompletableFuture<?> sendChain = CompletableFuture.completedFuture(null);

  public JdkWebSocketTransport(
      URI uri, HttpClient http, MessageCodec codec, Executor sessionThread) {
    this.uri = uri;
    this.http = http;
    this.codec = codec;
    this.sessionThread = sessionThread;
  }

  public void bind(ClientSession session) {
    this.session = session;
  }

  @Override
  public void connect(long generation) {
    connect(generation, null);
  }

  @Override
  public void connect(long generation, String credentials) {
    abortCurrent();
    currentGeneration = generation;
    WebSocket.Builder builder = http.newWebSocketBuilder().connectTimeout(CONNECT_TIMEOUT);
    if (credentials != null && !credentials.isEmpty()) {
      builder.header("Authorization", "Bearer " + credentials);
    }
    builder
        .buildAsync(uri, new Listener(generation))
        .whenComplete(
            (socket, failure) -> {
              if (failure != null) {
                Throwable cause = failure.getCause() != null ? failure.getCause() : failure;
                if (cause instanceof WebSocketHandshakeException refused) {
                  int status = refused.getResponse().statusCode();
                  java.util.Optional<String> retryAfter =
                      refused.getResponse().headers().firstValue("Retry-After");
                  post(
                      () ->
                          session.onHandshakeRefused(
                              generation, status, withoutQuery(uri), retryAfter));
                  return;
                }
                post(
                    () ->
                        session.onClosed(
                            generation, ClientSession.ABNORMAL, "could not connect: " + cause));
              } else {
                post(
                    () -> {
                      if (generation == currentGeneration) {
                        current = socket;
                        sendChain = CompletableFuture.completedFuture(null);
                        session.onOpen(generation);
                      } else {
                        socket.abort();
                      }
                    });
              }
            });
  }

  /** The address to name in a reason or a log line: a query may carry a token. */
  static String withoutQuery(URI uri) {
    String port = uri.getPort() < 0 ? "" : ":" + uri.getPort();
    String path = uri.getRawPath() == null ? "" : uri.getRawPath();
    return uri.getScheme() + "://" + uri.getHost() + port + path;
  }

  @Override
  public void send(long generation, Message message) {
    if (generation != currentGeneration || current == null) {
      return;
    }
    WebSocket socket = current;
    byte[] frame = codec.encode(message);
    sendChain =
        sendChain
            .thenCompose(x -> socket.sendBinary(ByteBuffer.wrap(frame), true))
            .exceptionally(
                failure -> {
                  LOG.log(Level.DEBUG, "send failed; aborting the connection", failure);
                  socket.abort();
                  post(() -> session.onClosed(generation, ClientSession.ABNORMAL, "send failed"));
                  return null;
                });
  }

  @Override
  public void close(long generation, int code, String reason) {
    if (generation != currentGeneration) {
      return;
    }
    WebSocket socket = current;
    current = null;
    currentGeneration = -1;
    if (socket == null) {
      return;
    }
    sendChain
        .thenCompose(x -> socket.sendClose(code, reason))
        .orTimeout(CLOSE_TIMEOUT_SECONDS, TimeUnit.SECONDS)
        .whenComplete(
            (x, failure) -> {
              if (failure != null) {
                socket.abort();
              }
            });
  }

  /** Closes at once (the client is closing): waits for nothing. */
  void abortCurrent() {
    if (current != null) {
      current.abort();
      current = null;
    }
  }

  private void post(Runnable task) {
    try {
      sessionThread.execute(task);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // The client is closed.
    }
  }

  private final class Listener implements WebSocket.Listener {
    private final long generation;
    private final ByteArrayOutputStream partial = new ByteArrayOutputStream();

    Listener(long generation) {
      this.generation = generation;
    }

    @Override
    public void onOpen(WebSocket webSocket) {
      webSocket.request(1);
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
      if (partial.size() + data.remaining() > codec.limits().maxFrameBytes()) {
        fail(
            webSocket,
            "a message from the server is larger than " + codec.limits().maxFrameBytes());
        return null;
      }
      byte[] bytes = new byte[data.remaining()];
      data.get(bytes);
      partial.writeBytes(bytes);
      if (!last) {
        webSocket.request(1);
        return null;
      }
      byte[] frame = partial.toByteArray();
      partial.reset();
      Message message;
      try {
        message = codec.decode(frame);
      } catch (ProtocolException e) {
        fail(webSocket, "malformed message from the server: " + e.getMessage());
        return null;
      }
      post(
          () -> {
            session.onMessage(generation, message);
            webSocket.request(1);
          });
      return null;
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      fail(webSocket, "a text frame from the server");
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
      post(() -> session.onClosed(generation, statusCode, reason));
      return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
      post(() -> session.onClosed(generation, ClientSession.ABNORMAL, String.valueOf(error)));
    }

    private void fail(WebSocket webSocket, String why) {
      LOG.log(Level.WARNING, why + "; reconnecting");
      webSocket.abort();
      // 1002 (protocol error) is retried: a new connection catches up from scratch.
      post(() -> session.onClosed(generation, 1002, why));
    }
  }
}

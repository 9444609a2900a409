package dev.lattice.server.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.VersionVector;
import dev.lattice.protocol.Ack;
import dev.lattice.protocol.Hello;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.protocol.Subscribe;
import dev.lattice.protocol.Sync;
import dev.lattice.protocol.Update;
import dev.lattice.protocol.Welcome;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The runnable jar as README's first command starts it, in its own JVM: it serves the protocol,
 * stops cleanly on SIGTERM, and after {@code kill -9} and a restart has every acknowledged update.
 */
class RunnableJarIT {

  private static final long TIMEOUT_SECONDS = 30;
  private static final Pattern LISTENING =
      Pattern.compile("listening on 127\\.0\\.0\\.1:\\d+ \\((ws://127\\.0\\.0\\.1:(\\d+)/v1/sync)");
  private static final MessageCodec CODEC = MessageCodec.defaults();

  private final List<Process> processes = new ArrayList<>();

  @AfterEach
  void killAll() throws Exception {
    for (Process p : processes) {
      p.destroyForcibly().waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }
  }

  /** A started jar: its process, the sync URI and every line it printed so far. */
  private record Server(
      Process process, URI uri, int port, List<String> output, CompletableFuture<Void> drained) {}

  private Server start(Path data) throws Exception {
    Path jar = Path.of(System.getProperty("lattice.jar", "target/lattice-server.jar"));
    assertThat(jar).as("the runnable jar, built by package").exists();
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Process process =
        new ProcessBuilder(
                java.toString(),
                "-jar",
                jar.toString(),
                "--port",
                "0",
                "--bind",
                "127.0.0.1",
                "--data-dir",
                data.toString())
            .redirectErrorStream(true)
            .start();
    processes.add(process);
    List<String> output = new java.util.concurrent.CopyOnWriteArrayList<>();
    CompletableFuture<Matcher> listening = new CompletableFuture<>();
    CompletableFuture<Void> drained = new CompletableFuture<>();
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader in =
                  new BufferedReader(
                      new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                  output.add(line);
                  Matcher m = LISTENING.matcher(line);
                  if (m.find()) {
                    listening.complete(m);
                  }
                }
              } catch (java.io.IOException e) {
                // the process ended
              }
              drained.complete(null);
              listening.completeExceptionally(
                  new AssertionError("the jar exited without listening: " + output));
            },
            "jar-output");
    reader.setDaemon(true);
    reader.start();
    Matcher m = listening.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    return new Server(
        process, URI.create(m.group(1)), Integer.parseInt(m.group(2)), output, drained);
  }

  @Test
  void aTakenPortFailsInOneLineNamingTheFlagAndCreatesNoData(@TempDir Path dir) throws Exception {
    Server first = start(dir.resolve("first"));
    Path second = dir.resolve("second");
    Path jar = Path.of(System.getProperty("lattice.jar", "target/lattice-server.jar"));
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Process process =
        new ProcessBuilder(
                java.toString(),
                "-jar",
                jar.toString(),
                "--port",
                String.valueOf(first.port()),
                "--bind",
                "127.0.0.1",
                "--data-dir",
                second.toString())
            .redirectErrorStream(true)
            .start();
    processes.add(process);
    // Read to the end on this thread: the process exits by itself, bounded by the wait below.
    CompletableFuture<String> output =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
              } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
    assertThat(process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)).as("exited").isTrue();
    String text = output.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    assertThat(process.exitValue()).as(text).isEqualTo(1);
    assertThat(text)
        .contains(
            "port "
                + first.port()
                + " on 127.0.0.1 is already in use: choose another with --port or LATTICE_PORT")
        .doesNotContain("\tat ")
        .doesNotContain("Exception");
    assertThat(text.strip().lines()).as(text).hasSize(1);
    assertThat(second).as("nothing created before the port is bound").doesNotExist();
  }

  @Test
  void servesTheProtocolStopsOnSigtermAndKeepsAckedUpdatesAcrossKillNine(@TempDir Path data)
      throws Exception {
    Server first = start(data);
    assertThat(first.output()).anySatisfy(line -> assertThat(line).contains("data in " + data));
    Client client = new Client(first.uri());
    client.hello();
    client.subscribe("board");
    int acked = 0;
    for (int i = 0; i < 50; i++) {
      client.increment("board", "likes");
      acked++;
    }
    // SIGTERM (through the handle: Process.destroy would also close our end of its output): the
    // shutdown hook closes connections with 1001 and flushes the store.
    assertThat(first.process().toHandle().destroy()).isTrue();
    assertThat(client.closeCode.get(TIMEOUT_SECONDS, TimeUnit.SECONDS)).isEqualTo(1001);
    assertThat(first.process().waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)).isTrue();
    first.drained().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    assertThat(first.output()).anySatisfy(line -> assertThat(line).contains("server stopped"));

    Server second = start(data);
    Client again = new Client(second.uri());
    again.hello();
    again.subscribe("board");
    assertThat(again.doc.counterValue("likes")).isEqualTo(acked);
    for (int i = 0; i < 50; i++) {
      again.increment("board", "likes");
      acked++;
    }
    // kill -9: no hook runs; only what was durable before each ACK survives.
    second.process().destroyForcibly();
    assertThat(second.process().waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)).isTrue();

    Server third = start(data);
    String json =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + third.port() + "/v1/docs/board"))
                    .build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
    assertThat(json).contains("\"likes\":{\"type\":\"G_COUNTER\",\"value\":" + acked + "}");
  }

  /** A minimal raw-protocol client: one document replica, frames through a queue. */
  private static final class Client implements WebSocket.Listener {
    final BlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
    final CompletableFuture<Integer> closeCode = new CompletableFuture<>();
    final ReplicaId replica = ReplicaId.random();
    Document doc;
    private final ByteArrayOutputStream partial = new ByteArrayOutputStream();
    private final WebSocket socket;
    private long nextRequest = 1;

    Client(URI uri) throws Exception {
      socket =
          HttpClient.newHttpClient()
              .newWebSocketBuilder()
              .buildAsync(uri, this)
              .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    void send(Message message) throws Exception {
      socket
          .sendBinary(ByteBuffer.wrap(CODEC.encode(message)), true)
          .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    <T extends Message> T take(Class<T> type) throws InterruptedException {
      Message m = inbox.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
      assertThat(m).as("a %s", type.getSimpleName()).isInstanceOf(type);
      return type.cast(m);
    }

    void hello() throws Exception {
      send(Hello.of(replica, null, "jar-it"));
      take(Welcome.class);
    }

    void subscribe(String documentId) throws Exception {
      doc = Document.create(documentId);
      send(new Subscribe(nextRequest++, documentId, VersionVector.empty()));
      doc.merge(take(Sync.class).delta());
    }

    void increment(String documentId, String field) throws Exception {
      long request = nextRequest++;
      send(Update.request(request, documentId, doc.incrementGCounter(replica, field, 1)));
      assertThat(take(Ack.class)).isEqualTo(new Ack(request, documentId));
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
      byte[] bytes = new byte[data.remaining()];
      data.get(bytes);
      partial.writeBytes(bytes);
      if (last) {
        inbox.add(CODEC.decode(partial.toByteArray()));
        partial.reset();
      }
      webSocket.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
      closeCode.complete(statusCode);
      return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
      closeCode.completeExceptionally(error);
    }
  }
}

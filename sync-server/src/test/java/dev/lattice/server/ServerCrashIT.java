package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.protocol.Ack;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.Sync;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills a server process (SIGKILL, {@link Process#destroyForcibly()}) while a client's updates are
 * in flight, restarts it on the same data directory, and checks that every acknowledged update is
 * there: an ACK is only sent once the update is durable. Then the client comes back, resends what
 * the server lacks, and nothing is lost or counted twice.
 */
class ServerCrashIT {

  private static final String DOC = "crash-doc";
  private static final ReplicaId WRITER = ReplicaId.of(0xC0FFEEL);
  private static final int ACKS_BEFORE_KILL = 300;
  private static final int WINDOW = 32;
  private static final int BURST = 200;
  private static final long LOOP_SECONDS = 30;

  @TempDir Path dir;

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void everyAcknowledgedUpdateSurvivesAKilledServer() throws Exception {
    Path data = dir.resolve("data");
    List<Long> acked = new ArrayList<>();
    Document writerReplica = Document.create(DOC);
    int sent = 0;

    Process first = startChild(data, "first");
    try {
      try (RawClient writer =
          RawClient.hello(uri(awaitPort(first, "first")), WRITER, writerReplica)) {
        writer.subscribe();
        // Up to WINDOW updates in flight; each ACK is recorded with the dot it acknowledges.
        ArrayDeque<long[]> inFlight = new ArrayDeque<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(LOOP_SECONDS);
        while (acked.size() < ACKS_BEFORE_KILL && System.nanoTime() < deadline) {
          while (inFlight.size() < WINDOW) {
            DocumentDelta delta = writer.doc.incrementGCounter(WRITER, "n", 1);
            long seq = writer.doc.nextSequence(WRITER) - 1;
            inFlight.add(new long[] {writer.sendUpdate(delta), seq});
            sent++;
          }
          long[] oldest = inFlight.poll();
          writer.awaitAck(oldest[0]);
          acked.add(oldest[1]);
        }
        assertThat(acked).as("acks taken before the kill").hasSize(ACKS_BEFORE_KILL);
        // A burst right before the kill, so the server dies in the middle of merging, storing
        // and acknowledging it.
        for (int i = 0; i < BURST; i++) {
          DocumentDelta delta = writer.doc.incrementGCounter(WRITER, "n", 1);
          inFlight.add(new long[] {writer.sendUpdate(delta), writer.doc.nextSequence(WRITER) - 1});
          sent++;
        }
        first.destroyForcibly();
        assertThat(first.waitFor(30, TimeUnit.SECONDS)).as("the first server died").isTrue();
        // Every ACK that reached the client counts, also those the loop had not taken yet: they
        // are the freshest, the ones an ACK sent before durability would have lost.
        Map<Long, Long> seqOfRequest = new HashMap<>();
        inFlight.forEach(update -> seqOfRequest.put(update[0], update[1]));
        for (Message m : writer.drainAfterEnd()) {
          if (m instanceof Ack ack) {
            acked.add(seqOfRequest.get(ack.requestId()));
          }
        }
      }
    } finally {
      destroy(first);
    }

    Process second = startChild(data, "second");
    try {
      URI uri = uri(awaitPort(second, "second"));
      try (RawClient reader = RawClient.hello(uri, 0xEAD, DOC)) {
        reader.subscribe();
        Document recovered = reader.doc;
        for (long seq : acked) {
          assertThat(recovered.contains(new Dot(WRITER, seq)))
              .as("acknowledged update seq %d survived the kill", seq)
              .isTrue();
        }
        long max = acked.stream().mapToLong(Long::longValue).max().orElseThrow();
        assertThat(recovered.versionVector().get(WRITER)).isGreaterThanOrEqualTo(max);
        // Jepsen's counter rule: at least every acknowledged increment, at most every attempted.
        assertThat(recovered.counterValue("n")).isBetween((long) acked.size(), (long) sent);

        // The writer comes back with its replica and sends what the server lacks: its unacked
        // updates, some of which the server may already hold. Nothing is lost or counted twice.
        try (RawClient writer = RawClient.hello(uri, WRITER, writerReplica)) {
          Sync sync = writer.subscribe();
          DocumentDelta serverLacks = writer.doc.deltaSince(sync.vector());
          if (!serverLacks.isEmpty()) {
            writer.update(serverLacks);
          }
          reader.catchUpTo(writer.doc.versionVector());
        }
        assertThat(reader.doc.counterValue("n")).isEqualTo(sent);
        assertThat(reader.doc.versionVector().get(WRITER)).isEqualTo(sent);
        assertThat(httpDocument(uri))
            .isEqualTo(
                "{\"id\":\""
                    + DOC
                    + "\",\"fields\":{\"n\":{\"type\":\"G_COUNTER\",\"value\":"
                    + sent
                    + "}}}");
      }
    } finally {
      destroy(second);
    }
  }

  private Process startChild(Path data, String name) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    return new ProcessBuilder(
            java,
            "-Xmx256m",
            "-XX:TieredStopAtLevel=1",
            "-cp",
            System.getProperty("java.class.path"),
            ServerCrashChild.class.getName(),
            data.toString())
        .redirectError(dir.resolve(name + "-stderr.txt").toFile())
        .start();
  }

  /** Reads the child's {@code port <n>} line, then keeps draining its stdout so it never blocks. */
  private int awaitPort(Process child, String name) throws Exception {
    CompletableFuture<Integer> port = new CompletableFuture<>();
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader in =
                  new BufferedReader(
                      new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                  if (!port.isDone() && line.startsWith("port ")) {
                    port.complete(Integer.parseInt(line.substring(5).trim()));
                  }
                }
                port.completeExceptionally(new IOException("the child's stdout ended"));
              } catch (IOException | RuntimeException e) {
                port.completeExceptionally(e);
              }
            },
            "child-stdout-" + name);
    reader.setDaemon(true);
    reader.start();
    try {
      return port.get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      Path stderr = dir.resolve(name + "-stderr.txt");
      throw new AssertionError(
          "the " + name + " server did not print its port; stderr: " + Files.readString(stderr), e);
    }
  }

  private static void destroy(Process child) throws InterruptedException {
    if (child.isAlive()) {
      child.destroyForcibly();
      child.waitFor(30, TimeUnit.SECONDS);
    }
  }

  private static URI uri(int port) {
    return URI.create("ws://127.0.0.1:" + port + LatticeServer.SYNC_PATH);
  }

  private static String httpDocument(URI ws) throws Exception {
    URI uri = URI.create("http://127.0.0.1:" + ws.getPort() + "/v1/docs/" + DOC);
    HttpResponse<String> response =
        HttpClient.newHttpClient()
            .send(HttpRequest.newBuilder(uri).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).isEqualTo(200);
    return response.body();
  }
}

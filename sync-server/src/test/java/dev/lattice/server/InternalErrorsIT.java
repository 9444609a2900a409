package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.VersionVector;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.Subscribe;
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.DocumentStore;
import dev.lattice.server.spi.StoreStats;
import dev.lattice.server.store.InMemoryDocumentStore;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What a client sees when the server fails inside: a documented code and a fixed sentence, never
 * the exception's message (which may name files, hosts or credentials) nor a stack trace. The store
 * here fails with a message full of such things, and everything the client receives is scanned for
 * them.
 */
class InternalErrorsIT {

  private static final String SECRET = "redis://admin:hunter2@10.1.2.3:6379 /var/lib/secret";

  private final Closer closer = new Closer();

  @AfterEach
  void closeAll() throws Exception {
    closer.closeAll();
  }

  /** Loads fail with an exception whose message and cause carry the secret. */
  private static final class FailingStore implements DocumentStore {
    private final InMemoryDocumentStore inner = new InMemoryDocumentStore();

    @Override
    public CompletableFuture<Appended> append(String documentId, DocumentDelta delta) {
      return inner.append(documentId, delta);
    }

    @Override
    public Optional<Document> load(String documentId) {
      throw new IllegalStateException(
          "cannot read " + SECRET,
          new UncheckedIOException(new java.io.IOException("disk at " + SECRET)));
    }

    @Override
    public boolean exists(String documentId) {
      throw new IllegalStateException("cannot read " + SECRET);
    }

    @Override
    public Set<String> documentIds() {
      return inner.documentIds();
    }

    @Override
    public void compact(String documentId) {}

    @Override
    public StoreStats stats() {
      return inner.stats();
    }

    @Override
    public void close() {
      inner.close();
    }
  }

  private static void assertNothingInternal(String seen) {
    assertThat(seen)
        .doesNotContain("hunter2")
        .doesNotContain("10.1.2.3")
        .doesNotContain("/var/lib")
        .doesNotContain("Exception")
        .doesNotContain("\tat ")
        .doesNotContain("dev.lattice.");
  }

  @Test
  void aFailingStoreGivesTheClientInternalAndAFixedSentenceOnly() throws Exception {
    LatticeServer server =
        closer.add(
            LatticeServer.builder()
                .store(new FailingStore())
                .bindAddress("127.0.0.1")
                .port(0)
                .build()
                .start());
    RawClient client = closer.add(RawClient.hello(server.uri(), 0xa, "board"));

    client.send(new Subscribe(client.takeRequestId(), "board", VersionVector.empty()));
    Message reply = client.next();

    assertThat(reply).isInstanceOf(ErrorMessage.class);
    ErrorMessage error = (ErrorMessage) reply;
    assertThat(error.errorCode()).contains(ErrorCode.INTERNAL);
    assertThat(error.message()).isNotBlank();
    List<String> seen = new ArrayList<>();
    seen.add(error.toString());
    for (Message m = client.inbox.poll(); m != null; m = client.inbox.poll()) {
      seen.add(m.toString());
    }
    seen.forEach(InternalErrorsIT::assertNothingInternal);

    // The HTTP read of the same document fails the same way: a status, no internals.
    HttpResponse<String> http =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(
                        URI.create(
                            server
                                .uri()
                                .toString()
                                .replace("ws://", "http://")
                                .replace("/v1/sync", "/v1/docs/board")))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(http.statusCode()).isEqualTo(500);
    assertNothingInternal(http.body());
    assertNothingInternal(http.headers().map().toString());
  }
}

package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Update;
import dev.lattice.server.hub.HubException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Server-side edits through {@link LatticeServer#edit}, and {@code /metrics}, over real sockets.
 */
class EmbeddingAndMetricsIT {

  private static final ReplicaId SERVER = ReplicaId.of(0x5e);

  private final List<AutoCloseable> open = new ArrayList<>();
  private final HttpClient http = HttpClient.newHttpClient();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  private LatticeServer start(LatticeServer.Builder builder) {
    LatticeServer server = builder.bindAddress("127.0.0.1").port(0).replicaId(SERVER).build();
    open.add(server);
    return server.start();
  }

  private RawClient client(LatticeServer server, long replica) throws Exception {
    RawClient c = RawClient.hello(server.uri(), replica, "board");
    open.add(c);
    return c;
  }

  private String get(LatticeServer server, String path) throws Exception {
    URI uri = URI.create("http://127.0.0.1:" + server.port() + path);
    HttpResponse<String> response =
        http.send(HttpRequest.newBuilder(uri).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(path).isEqualTo(200);
    return response.body();
  }

  private static <T> T join(CompletableFuture<T> f) {
    return f.orTimeout(RawClient.TIMEOUT_SECONDS, TimeUnit.SECONDS).join();
  }

  /** The value of one sample line of a Prometheus text page, e.g. {@code lattice_connections}. */
  private static double sample(String page, String series) {
    double value = sampleOrNaN(page, series);
    assertThat(value).as("series %s in%n%s", series, page).isNotNaN();
    return value;
  }

  private void awaitSample(LatticeServer server, String series, double expected) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(RawClient.TIMEOUT_SECONDS);
    double seen;
    while ((seen = sampleOrNaN(get(server, "/metrics"), series)) != expected
        && System.nanoTime() < deadline) {
      Thread.onSpinWait();
    }
    assertThat(seen).as(series).isEqualTo(expected);
  }

  /** Like {@link #sample}, NaN while the series does not exist yet (meters appear lazily). */
  private static double sampleOrNaN(String page, String series) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " ([0-9.eE+-]+)$").matcher(page);
    return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
  }

  @Test
  void aServerSideEditIsDurableAndReachesEverySubscriber(@TempDir Path data) throws Exception {
    LatticeServer server = start(LatticeServer.builder().dataDirectory(data));
    RawClient alice = client(server, 0xa);
    RawClient bob = client(server, 0xb);
    alice.subscribe();
    bob.subscribe();

    DocumentDelta applied =
        join(server.edit("board", e -> e.increment("views", 3).set("title", Value.of("Q3"))));

    for (RawClient c : List.of(alice, bob)) {
      Update update = c.receive();
      assertThat(update.delta()).isEqualTo(applied);
      assertThat(c.doc.counterValue("views")).isEqualTo(3);
      assertThat(c.doc.registerValue("title")).contains(Value.of("Q3"));
    }
    // Acknowledged means durable: the store has it.
    assertThat(server.document("board").orElseThrow().counterValue("views")).isEqualTo(3);
    assertThat(get(server, "/v1/docs/board"))
        .contains("\"views\":{\"type\":\"G_COUNTER\",\"value\":3}");
  }

  @Test
  void aRefusedServerSideEditChangesNothing() throws Exception {
    LatticeServer server = start(LatticeServer.builder().inMemory(true));
    join(server.edit("board", e -> e.increment("views", 1)));

    CompletableFuture<DocumentDelta> refused =
        server.edit("board", e -> e.set("views", Value.of("x")));

    assertThatThrownBy(() -> join(refused))
        .isInstanceOf(CompletionException.class)
        .cause()
        .isInstanceOfSatisfying(
            HubException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.FIELD_TYPE_MISMATCH));
    assertThat(server.document("board").orElseThrow().counterValue("views")).isEqualTo(1);
  }

  @Test
  void anAuthenticatorRefusesHelloWith4002AndLetsOthersIn() throws Exception {
    LatticeServer server =
        start(
            LatticeServer.builder()
                .inMemory(true)
                .authenticator(
                    dev.lattice.server.spi.Authenticator.of(
                        credentials ->
                            credentials.equals(Optional.of("s3cret"))
                                ? dev.lattice.server.spi.AuthResult.granted(
                                    dev.lattice.server.spi.Principal.of("member"))
                                : dev.lattice.server.spi.AuthResult.refused("wrong secret"))));
    RawClient intruder = RawClient.connect(server.uri(), 0xe, "board");
    open.add(intruder);
    intruder.send(dev.lattice.protocol.Hello.of(intruder.replica, "guess", "it"));
    assertThat(intruder.take(ErrorMessage.class).code()).isEqualTo(ErrorCode.UNAUTHORIZED.code());
    assertThat(intruder.awaitClose()).isEqualTo(dev.lattice.protocol.CloseCodes.UNAUTHORIZED);

    RawClient member = RawClient.connect(server.uri(), 0xa, "board");
    open.add(member);
    member.send(dev.lattice.protocol.Hello.of(member.replica, "s3cret", "it"));
    assertThat(member.take(dev.lattice.protocol.Welcome.class)).isNotNull();
  }

  @Test
  void editBeforeStartIsRefused() {
    LatticeServer server = LatticeServer.builder().inMemory(true).port(0).build();
    assertThatThrownBy(() -> server.edit("board", e -> e.increment("n", 1)))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void metricsCountConnectionsUpdatesBytesErrorsAndLatencies() throws Exception {
    LatticeServer server = start(LatticeServer.builder().inMemory(true));
    RawClient alice = client(server, 0xa);
    RawClient bob = client(server, 0xb);
    alice.subscribe();
    bob.subscribe();
    alice.increment("likes", 1);
    bob.receive();
    alice.send(
        Update.request(
            10,
            "never-subscribed",
            dev.lattice.crdt.Document.create("never-subscribed")
                .incrementGCounter(alice.replica, "n", 1)));
    assertThat(alice.take(ErrorMessage.class).code()).isEqualTo(ErrorCode.NOT_SUBSCRIBED.code());

    // Metrics are updated by the threads doing the work, a moment after the peer may have seen
    // its answer: wait for each value (with a deadline) rather than read one snapshot.
    awaitSample(server, "lattice_connections", 2);
    awaitSample(server, "lattice_updates_in_total{result=\"merged\"}", 1);
    awaitSample(server, "lattice_updates_out_total", 1);
    awaitSample(server, "lattice_errors_total{code=\"NOT_SUBSCRIBED\"}", 1);
    awaitSample(server, "lattice_merge_seconds_count", 1);
    awaitSample(server, "lattice_fanout_seconds_count", 1);
    awaitSample(server, "lattice_store_commit_seconds_count", 1);
    String page = get(server, "/metrics");
    assertThat(sample(page, "lattice_received_bytes_total")).isPositive();
    assertThat(sample(page, "lattice_sent_bytes_total")).isPositive();
    assertThat(page).contains("lattice_fanout_seconds_bucket{le=");
    assertThat(page).contains("jvm_memory_used_bytes");
  }

  @Test
  void anIdleDocumentIsServedFromTheCacheOnTheNextSubscribe() throws Exception {
    LatticeServer server = start(LatticeServer.builder().inMemory(true));
    RawClient alice = client(server, 0xa);
    alice.subscribe();
    alice.increment("likes", 4);
    alice.close();
    open.remove(alice);

    // The hub releases the document once alice's disconnect reaches it; poll the gauge, which
    // is what an operator would watch, with a deadline rather than a sleep.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(RawClient.TIMEOUT_SECONDS);
    while (sample(get(server, "/metrics"), "lattice_documents_live") != 0) {
      assertThat(System.nanoTime()).as("document released in time").isLessThan(deadline);
      Thread.onSpinWait();
    }
    RawClient bob = client(server, 0xb);
    bob.subscribe();

    assertThat(bob.doc.counterValue("likes")).isEqualTo(4);
    String page = get(server, "/metrics");
    assertThat(sample(page, "lattice_document_cache_hits_total")).isEqualTo(1);
    assertThat(sample(page, "cache_size{cache=\"documents\"}")).isZero(); // taken back out
    assertThat(sample(page, "lattice_document_loads_total")).isEqualTo(1);
  }
}

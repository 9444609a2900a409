package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.protocol.Ack;
import dev.lattice.protocol.CloseCodes;
import dev.lattice.protocol.Ping;
import dev.lattice.protocol.Pong;
import dev.lattice.protocol.Sync;
import dev.lattice.protocol.Welcome;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server end to end over real sockets on 127.0.0.1, spoken to with raw protocol frames. */
class LatticeServerIT {

  private static final ReplicaId SERVER = ReplicaId.of(0x5e);

  private final List<AutoCloseable> open = new ArrayList<>();
  private final HttpClient http = HttpClient.newHttpClient();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  private LatticeServer inMemoryServer() {
    return track(
        LatticeServer.builder()
            .bindAddress("127.0.0.1")
            .port(0)
            .inMemory(true)
            .replicaId(SERVER)
            .build()
            .start());
  }

  private <T extends AutoCloseable> T track(T closeable) {
    open.add(closeable);
    return closeable;
  }

  private RawClient client(LatticeServer server, long replica) throws Exception {
    return track(RawClient.hello(server.uri(), replica, "board"));
  }

  private HttpResponse<String> get(LatticeServer server, String path) throws Exception {
    URI uri = URI.create("http://127.0.0.1:" + server.port() + path);
    return http.send(
        HttpRequest.newBuilder(uri).GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void helloGetsWelcome() throws Exception {
    LatticeServer server = inMemoryServer();
    RawClient client = track(RawClient.connect(server.uri(), 0xa, "board"));
    client.send(dev.lattice.protocol.Hello.of(client.replica, null, "it"));
    Welcome welcome = client.take(Welcome.class);
    assertThat(welcome.serverId()).isEqualTo(SERVER);
    assertThat(welcome.limits()).containsEntry(Welcome.LIMIT_MAX_FRAME_BYTES, 1_048_576L);
    // Enforced by the hub, advertised by the session so clients can learn it.
    assertThat(welcome.limits()).containsEntry(Welcome.LIMIT_MAX_FIELDS_PER_DOCUMENT, 10_000L);
    assertThat(server.uri().toString()).endsWith("/v1/sync").startsWith("ws://127.0.0.1:");
  }

  @Test
  void twoClientsConvergeThroughFanOutAndALateJoinerCatchesUp() throws Exception {
    LatticeServer server = inMemoryServer();
    RawClient alice = client(server, 0xa);
    RawClient bob = client(server, 0xb);
    alice.subscribe();
    bob.subscribe();

    assertThat(alice.increment("likes", 2)).isEqualTo(new Ack(2, "board"));
    bob.receive();
    assertThat(bob.increment("likes", 5)).isEqualTo(new Ack(2, "board"));
    alice.receive();
    assertThat(bob.set("title", Value.of("Roadmap"))).isEqualTo(new Ack(3, "board"));
    alice.receive();

    for (RawClient c : List.of(alice, bob)) {
      assertThat(c.doc.counterValue("likes")).isEqualTo(7);
      assertThat(c.doc.registerValue("title")).contains(Value.of("Roadmap"));
    }

    RawClient carol = client(server, 0xc);
    carol.subscribe();
    assertThat(carol.doc.counterValue("likes")).isEqualTo(7);
    assertThat(carol.doc.registerValue("title")).contains(Value.of("Roadmap"));
    assertThat(carol.doc).isEqualTo(alice.doc);
  }

  @Test
  void aGarbageFrameClosesOnlyItsOwnConnection() throws Exception {
    LatticeServer server = inMemoryServer();
    RawClient good = client(server, 0xa);
    RawClient bad = client(server, 0xb);
    good.subscribe();

    bad.sendRaw(new byte[] {(byte) 0xc1, 0x00, 0x7f});
    assertThat(bad.awaitClose()).isEqualTo(CloseCodes.MALFORMED_FRAME);

    assertThat(good.increment("likes", 1)).isEqualTo(new Ack(2, "board"));
  }

  @Test
  void pingsAreAnsweredAndFramesStillFlowAfterThem() throws Exception {
    LatticeServer server = inMemoryServer();
    RawClient client = client(server, 0xa);
    client.ping();
    assertThat(client.pongs.poll(RawClient.TIMEOUT_SECONDS, TimeUnit.SECONDS)).isEqualTo(1);
    client.subscribe();
    assertThat(client.increment("likes", 1)).isEqualTo(new Ack(2, "board"));
  }

  @Test
  void aProtocolPingIsAnsweredWithAPongOfTheSameNonce() throws Exception {
    LatticeServer server = inMemoryServer();
    RawClient client = client(server, 0xa);
    client.send(new Ping(-42, client.clock.now()));
    Pong pong = client.take(Pong.class);
    assertThat(pong.nonce()).isEqualTo(-42);
    assertThat(pong.time()).isGreaterThan(HlcTimestamp.ZERO);
  }

  @Test
  void unknownTrailingFieldsAreIgnored() throws Exception {
    LatticeServer server = inMemoryServer();
    RawClient client = track(RawClient.connect(server.uri(), 0xa, "board"));
    // HELLO [1, 1, 1, 0x0a, nil, nil] and SUBSCRIBE [3, 1, "board", [5, 1, {}]], each with an
    // extra trailing field a later minor revision might add (PROTOCOL.md section 2).
    client.sendRaw(HexFormat.of().parseHex("970101010ac0c081a17801"));
    assertThat(client.take(Welcome.class).version()).isEqualTo(1);
    client.sendRaw(HexFormat.of().parseHex("950301a5626f61726493050180c3"));
    assertThat(client.take(Sync.class).requestId()).isEqualTo(1);
  }

  @Test
  void aTextFrameClosesWith4000() throws Exception {
    LatticeServer server = inMemoryServer();
    RawClient client = client(server, 0xa);
    client.sendText("hello?");
    assertThat(client.awaitClose()).isEqualTo(CloseCodes.MALFORMED_FRAME);
  }

  @Test
  void aFrameOverMaxFrameBytesIsRefusedByJettyWith1009() throws Exception {
    LatticeServer server = inMemoryServer();
    RawClient client = client(server, 0xa);
    client.sendRaw(new byte[1_048_576 + 1]);
    assertThat(client.awaitClose()).isEqualTo(CloseCodes.TOO_BIG);
  }

  @Test
  void httpEndpointsReportHealthReadinessAndDocuments() throws Exception {
    LatticeServer server = inMemoryServer();
    RawClient alice = client(server, 0xa);
    alice.subscribe();
    alice.increment("likes", 7);
    alice.set("title", Value.of("Roadmap \"Q3\""));
    alice.set("meta", Value.map(Map.of(Value.of("n"), Value.of(1.5))));

    assertThat(get(server, "/healthz").statusCode()).isEqualTo(200);
    assertThat(get(server, "/healthz").body()).isEqualTo("ok");
    assertThat(get(server, "/readyz").statusCode()).isEqualTo(200);

    HttpResponse<String> doc = get(server, "/v1/docs/board");
    assertThat(doc.statusCode()).isEqualTo(200);
    assertThat(doc.headers().firstValue("content-type"))
        .hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
    assertThat(doc.body())
        .isEqualTo(
            "{\"id\":\"board\",\"fields\":{"
                + "\"likes\":{\"type\":\"G_COUNTER\",\"value\":7},"
                + "\"meta\":{\"type\":\"LWW_REGISTER\",\"value\":{\"n\":1.5}},"
                + "\"title\":{\"type\":\"LWW_REGISTER\",\"value\":\"Roadmap \\\"Q3\\\"\"}}}");

    HttpResponse<String> missing = get(server, "/v1/docs/nothing-here");
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(missing.body()).isEqualTo("{\"error\":\"no document nothing-here\"}");
    assertThat(get(server, "/elsewhere").statusCode()).isEqualTo(404);
  }

  @Test
  void documentIdsThatNeedPercentEncodingAreServedOverHttp() throws Exception {
    LatticeServer server = inMemoryServer();
    Map<String, String> paths =
        Map.of(
            "hello world", "hello%20world",
            "x?y", "x%3Fy",
            "über", "%C3%BCber",
            "a+b", "a+b",
            "a/b", "a/b",
            "c/d", "c%2Fd",
            "100%", "100%25");
    for (Map.Entry<String, String> e : paths.entrySet()) {
      RawClient client = track(RawClient.hello(server.uri(), 0xa, e.getKey()));
      client.subscribe();
      client.increment("n", 1);
      HttpResponse<String> doc = get(server, "/v1/docs/" + e.getValue());
      assertThat(doc.statusCode()).as("GET for id '%s'", e.getKey()).isEqualTo(200);
      assertThat(doc.body()).isEqualTo(DocumentJson.render(server.document(e.getKey()).get()));
    }
  }

  @Test
  void closeSendsGoingAwayToConnectedClients() throws Exception {
    LatticeServer server = inMemoryServer();
    RawClient alice = client(server, 0xa);
    RawClient bob = client(server, 0xb);
    alice.subscribe();

    server.close();

    assertThat(alice.awaitClose()).isEqualTo(CloseCodes.GOING_AWAY);
    assertThat(bob.awaitClose()).isEqualTo(CloseCodes.GOING_AWAY);
    assertThat(server.isReady()).isFalse();
  }

  @Test
  void acknowledgedUpdatesSurviveARestartOnTheSameDirectory(@TempDir Path data) throws Exception {
    LatticeServer first = embedded(data);
    RawClient alice = RawClient.hello(first.uri(), 0xa, "board");
    alice.subscribe();
    assertThat(alice.increment("likes", 3)).isEqualTo(new Ack(2, "board"));
    assertThat(alice.set("title", Value.of("kept"))).isEqualTo(new Ack(3, "board"));
    first.close();
    assertThat(alice.awaitClose()).isEqualTo(CloseCodes.GOING_AWAY);
    alice.close();

    LatticeServer second = track(embedded(data));
    RawClient bob = client(second, 0xb);
    bob.subscribe();
    assertThat(bob.doc.counterValue("likes")).isEqualTo(3);
    assertThat(bob.doc.registerValue("title")).contains(Value.of("kept"));
    Document stored = second.document("board").orElseThrow();
    assertThat(stored.counterValue("likes")).isEqualTo(3);
  }

  private static LatticeServer embedded(Path data) {
    return LatticeServer.builder()
        .bindAddress("127.0.0.1")
        .port(0)
        .dataDirectory(data)
        .replicaId(SERVER)
        .build()
        .start();
  }
}

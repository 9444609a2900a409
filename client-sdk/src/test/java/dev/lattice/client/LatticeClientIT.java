package dev.lattice.client;

import static dev.lattice.client.Awaits.awaitState;
import static dev.lattice.client.Awaits.awaitValue;
import static dev.lattice.client.Awaits.get;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.client.ConnectionStatus.State;
import dev.lattice.crdt.LWWRegister;
import dev.lattice.crdt.Value;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.server.LatticeServer;
import dev.lattice.server.spi.SessionConfig;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The whole client against a real LatticeServer on an ephemeral loopback port. */
class LatticeClientIT {

  private final List<AutoCloseable> closeables = new ArrayList<>();

  @TempDir Path dataDir;

  @AfterEach
  void closeAll() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  private LatticeServer server(int port, boolean durable) {
    LatticeServer.Builder b = LatticeServer.builder().bindAddress("127.0.0.1").port(port);
    LatticeServer server = (durable ? b.dataDirectory(dataDir) : b.inMemory(true)).build().start();
    closeables.add(server);
    return server;
  }

  private LatticeClient client(URI uri) {
    return client(LatticeClient.builder().serverUri(uri));
  }

  private LatticeClient client(LatticeClient.Builder builder) {
    LatticeClient client = builder.backoff(Duration.ofMillis(10), Duration.ofMillis(200)).build();
    closeables.add(client);
    return client;
  }

  /** A port where nothing listens now (a server bound it and let it go). */
  private static int freePort() {
    try (LatticeServer probe =
        LatticeServer.builder().bindAddress("127.0.0.1").port(0).inMemory(true).build().start()) {
      return probe.port();
    }
  }

  private static URI uri(int port) {
    return URI.create("ws://127.0.0.1:" + port + LatticeServer.SYNC_PATH);
  }

  @Test
  void twoClientsConvergeOnCountersAndRegisters() throws Exception {
    LatticeServer server = server(0, false);
    LatticeDocument a = client(server.uri()).open("board");
    LatticeDocument b = client(server.uri()).open("board");

    a.counter("likes").increment(3);
    b.counter("likes").increment(2);
    a.pnCounter("balance").increment(10);
    b.pnCounter("balance").decrement(4);
    a.register("title").set(Value.of("Roadmap"));
    get(a.flush());
    get(b.flush());

    for (LatticeDocument doc : List.of(a, b)) {
      awaitValue(doc, () -> doc.counter("likes").value(), 5L);
      awaitValue(doc, () -> doc.pnCounter("balance").value(), 6L);
      awaitValue(doc, () -> doc.register("title").get(), Optional.of(Value.of("Roadmap")));
    }
    assertThat(a.pendingChanges()).isZero();
    assertThat(b.pendingChanges()).isZero();
    assertThat(server.document("board").orElseThrow().counterValue("likes")).isEqualTo(5);
  }

  /** Bytes of frames (MessagePack, without WebSocket headers) the server has received. */
  private static double receivedBytes(LatticeServer server) {
    return server.meterRegistry().get("lattice.received").counter().count();
  }

  @Test
  void aVersionTwoClientSendsCompactIncrementsAndConvergesWithAVersionOneClient() throws Exception {
    LatticeServer server = server(0, false);
    LatticeDocument v2 = client(server.uri()).open("doc-0");
    LatticeDocument v1 =
        client(LatticeClient.builder().serverUri(server.uri()).maxProtocolVersion(1)).open("doc-0");
    // One acknowledged edit each: both are online and subscribed, so nothing else is in flight.
    v2.counter("warm").increment(1);
    v1.counter("warm").increment(1);
    get(v2.flush());
    get(v1.flush());

    double before = receivedBytes(server);
    v2.counter("g").increment(1);
    get(v2.flush());
    double compact = receivedBytes(server) - before;
    before = receivedBytes(server);
    v1.counter("g").increment(1);
    get(v1.flush());
    double full = receivedBytes(server) - before;

    // UPDATE_OWN [12, 3, 0, 2, "g", 2, 1]: 9 bytes (15 on the wire); UPDATE [5, 3, "doc-0",
    // [8, 1, replica, 2, "g", 2, 1]]: 26 bytes for a random (9-byte) replica id.
    assertThat(compact).isEqualTo(9);
    assertThat(full).isGreaterThan(20);
    for (LatticeDocument doc : List.of(v1, v2)) {
      awaitValue(doc, () -> doc.counter("g").value(), 2L);
    }
    v2.register("title").set(Value.of("v2"));
    v1.pnCounter("stock").decrement(3);
    get(v2.flush());
    get(v1.flush());
    for (LatticeDocument doc : List.of(v1, v2)) {
      awaitValue(doc, () -> doc.register("title").get(), Optional.of(Value.of("v2")));
      awaitValue(doc, () -> doc.pnCounter("stock").value(), -3L);
    }
    assertThat(server.document("doc-0").orElseThrow().counterValue("g")).isEqualTo(2);
  }

  @Test
  void theClientKeepsWorkingAgainstAVersionOneServer() throws Exception {
    LatticeServer.Builder b =
        LatticeServer.builder()
            .bindAddress("127.0.0.1")
            .port(0)
            .inMemory(true)
            .sessionConfig(SessionConfig.builder().maxProtocolVersion(1).build());
    LatticeServer server = b.build().start();
    closeables.add(server);
    LatticeDocument a = client(server.uri()).open("board");
    LatticeDocument c = client(server.uri()).open("board");
    a.counter("likes").increment(3);
    c.counter("likes").increment(2);
    a.register("title").set(Value.of("old server"));
    get(a.flush());
    get(c.flush());
    for (LatticeDocument doc : List.of(a, c)) {
      awaitValue(doc, () -> doc.counter("likes").value(), 5L);
      awaitValue(doc, () -> doc.register("title").get(), Optional.of(Value.of("old server")));
    }
    assertThat(a.pendingChanges()).isZero();
  }

  @Test
  void editsMadeBeforeTheServerExistsConvergeOnceItStarts() throws Exception {
    int port = freePort();
    LatticeClient offline = client(uri(port));
    LatticeDocument doc = offline.open("notes");
    doc.counter("n").increment(7);
    doc.register("text").set(Value.of("written offline"));

    // Reads are local and immediate, whatever the connection.
    assertThat(doc.counter("n").value()).isEqualTo(7);
    assertThat(doc.pendingChanges()).isEqualTo(2);
    CompletableFuture<Void> flushed = doc.flush();
    assertThat(flushed).isNotDone();

    LatticeServer server = server(port, false);
    get(flushed);
    assertThat(doc.pendingChanges()).isZero();
    assertThat(offline.connectionState().state()).isEqualTo(State.ONLINE);

    LatticeDocument other = client(server.uri()).open("notes");
    awaitValue(other, () -> other.counter("n").value(), 7L);
    awaitValue(other, () -> other.register("text").get(), Optional.of(Value.of("written offline")));
  }

  @Test
  void serverRestartLosesNothingAcknowledgedAndClientsResumeByThemselves() throws Exception {
    LatticeServer first = server(0, true);
    int port = first.port();
    LatticeClient writer = client(first.uri());
    LatticeClient reader = client(first.uri());
    LatticeDocument w = writer.open("doc");
    LatticeDocument r = reader.open("doc");
    for (int i = 0; i < 10; i++) {
      w.counter("c").increment(1);
    }
    get(w.flush());

    CountDownLatch lostConnection = new CountDownLatch(2);
    writer.onConnectionState(
        s -> {
          if (s.state() == State.CONNECTING && s.closeCode().isPresent()) {
            lostConnection.countDown();
          }
        });
    first.close();
    // Two failed attempts: the server really is gone while we edit and flush.
    assertThat(lostConnection.await(Awaits.TIMEOUT_SECONDS, TimeUnit.SECONDS)).isTrue();
    for (int i = 0; i < 5; i++) {
      w.counter("c").increment(1);
    }
    CompletableFuture<Void> flushed = w.flush();
    assertThat(flushed).isNotDone();
    assertThat(w.pendingChanges()).isEqualTo(5);

    server(port, true);
    get(flushed);
    awaitState(reader, State.ONLINE);
    awaitValue(r, () -> r.counter("c").value(), 15L);
    LatticeDocument fresh = client(uri(port)).open("doc");
    awaitValue(fresh, () -> fresh.counter("c").value(), 15L);
  }

  @Test
  void concurrentRegisterWritesResolveIdenticallyEverywhere() throws Exception {
    LatticeServer server = server(0, false);
    List<LatticeDocument> docs = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      docs.add(client(server.uri()).open("shared"));
    }
    for (int i = 0; i < docs.size(); i++) {
      docs.get(i).register("color").set(Value.of("color-" + i));
    }
    for (LatticeDocument doc : docs) {
      get(doc.flush());
    }
    Optional<Value> winner = server.document("shared").orElseThrow().registerValue("color");
    assertThat(winner).isPresent();
    for (LatticeDocument doc : docs) {
      awaitValue(doc, () -> doc.register("color").get(), winner);
    }
  }

  @Test
  void aClientTenMinutesAheadStillWritesWithSensibleTimestamps() throws Exception {
    LatticeServer server = server(0, false);
    Clock ahead = Clock.offset(Clock.systemUTC(), Duration.ofMinutes(10));
    LatticeClient skewed = client(LatticeClient.builder().serverUri(server.uri()).clock(ahead));
    awaitState(skewed, State.ONLINE);
    LatticeDocument s = skewed.open("clock");
    s.register("status").set(Value.of("from the fast clock"));
    // The server's drift bound is 60 s: an uncorrected timestamp would be refused (CLOCK_DRIFT).
    get(s.flush());
    HlcTimestamp written = timestampOf(s, "status");
    assertThat(Math.abs(written.physicalMillis() - System.currentTimeMillis()))
        .as("corrected physical time of the write")
        .isLessThan(Duration.ofSeconds(30).toMillis());

    LatticeDocument c = client(server.uri()).open("clock");
    awaitValue(c, () -> c.register("status").get(), Optional.of(Value.of("from the fast clock")));
    c.register("status").set(Value.of("later, from a correct clock"));
    get(c.flush());
    awaitValue(
        s, () -> s.register("status").get(), Optional.of(Value.of("later, from a correct clock")));
  }

  @Test
  void aClientWithAWrongClockThatStartsOfflineCorrectsWithTheOffsetItSaved(@TempDir Path state)
      throws Exception {
    Clock ahead = Clock.offset(Clock.systemUTC(), Duration.ofMinutes(10));
    LatticeServer first = server(0, false);
    int port = first.port();
    try (LatticeClient once =
        LatticeClient.builder().serverUri(first.uri()).clock(ahead).stateDirectory(state).build()) {
      awaitState(once, State.ONLINE); // WELCOME measured the offset, and it was saved
    }
    first.close();

    // Restarted with the server down: its first edits happen before any measurement.
    LatticeClient restarted =
        client(LatticeClient.builder().serverUri(uri(port)).clock(ahead).stateDirectory(state));
    LatticeDocument doc = restarted.open("clock");
    doc.register("status").set(Value.of("typed offline on a fast clock"));
    assertThat(Math.abs(timestampOf(doc, "status").physicalMillis() - System.currentTimeMillis()))
        .as("physical time of the offline write, corrected by the saved offset")
        .isLessThan(Duration.ofSeconds(30).toMillis());
    List<UpdateRejectedException> refused = new java.util.concurrent.CopyOnWriteArrayList<>();
    doc.onRejected(refused::add);

    LatticeServer second = server(port, false);
    get(doc.flush()); // not refused for drift
    assertThat(refused).isEmpty();
    assertThat(second.document("clock").orElseThrow().registerValue("status"))
        .contains(Value.of("typed offline on a fast clock"));
  }

  @Test
  void aClosedDocumentStopsFollowingFreesItsSlotAndKeepsItsOutboxForTheNextOpen() throws Exception {
    SessionConfig oneDocument = SessionConfig.builder().maxDocumentsPerConnection(1).build();
    LatticeServer server =
        LatticeServer.builder()
            .bindAddress("127.0.0.1")
            .port(0)
            .inMemory(true)
            .sessionConfig(oneDocument)
            .build()
            .start();
    closeables.add(server);
    LatticeClient client = client(server.uri());
    LatticeDocument first = client.open("first");
    first.counter("n").increment(1);
    get(first.flush());
    first.counter("n").increment(1); // may or may not reach the server before the close

    first.close();
    assertThatThrownBy(() -> first.counter("n").increment(1))
        .isInstanceOf(IllegalStateException.class);
    // The slot is free: a second document subscribes on the same connection.
    LatticeDocument second = client.open("second");
    second.counter("m").increment(5);
    get(second.flush());
    assertThat(server.document("second").orElseThrow().counterValue("m")).isEqualTo(5);

    second.close();
    LatticeDocument again = client.open("first");
    assertThat(again).isNotSameAs(first);
    assertThat(again.counter("n").value()).isEqualTo(2);
    get(again.flush());
    assertThat(server.document("first").orElseThrow().counterValue("n")).isEqualTo(2);
  }

  @Test
  void aWriteMadeOfflineOnAClockADayBehindOverwritesTheValueItSawEverywhere(@TempDir Path state)
      throws Exception {
    LatticeServer first = server(0, true);
    int port = first.port();
    try (LatticeClient correct =
        LatticeClient.builder().serverUri(first.uri()).stateDirectory(state).build()) {
      LatticeDocument doc = correct.open("board");
      doc.register("title").set(Value.of("seen"));
      get(doc.flush());
    }
    first.close();

    // The machine's clock was set back a day; the client starts with the server down.
    Clock dayBehind = Clock.offset(Clock.systemUTC(), Duration.ofDays(-1));
    LatticeClient restarted =
        client(LatticeClient.builder().serverUri(uri(port)).clock(dayBehind).stateDirectory(state));
    LatticeDocument doc = restarted.open("board");
    doc.register("title").set(Value.of("written after seeing it"));
    List<UpdateRejectedException> refused = new CopyOnWriteArrayList<>();
    doc.onRejected(refused::add);

    LatticeServer second = server(port, true);
    get(doc.flush());
    assertThat(refused).isEmpty();
    assertThat(second.document("board").orElseThrow().registerValue("title"))
        .contains(Value.of("written after seeing it"));
    LatticeDocument other = client(second.uri()).open("board");
    awaitValue(
        other,
        () -> other.register("title").get(),
        Optional.of(Value.of("written after seeing it")));
  }

  @Test
  void anEditMadeOfflineOnAClockFiveSecondsFastIsDelayedNotLost() throws Exception {
    int port = freePort();
    // Never connected, so no offset measured: its offline edit is stamped 5 s ahead, far beyond the
    // server's 500 ms bound.
    Clock fast = Clock.offset(Clock.systemUTC(), Duration.ofSeconds(5));
    LatticeClient offline = client(LatticeClient.builder().serverUri(uri(port)).clock(fast));
    LatticeDocument doc = offline.open("fast");
    doc.register("status").set(Value.of("typed on a fast clock"));
    List<UpdateRejectedException> refused = new CopyOnWriteArrayList<>();
    doc.onRejected(refused::add);

    LatticeServer server = server(port, false);
    get(doc.flush());

    assertThat(refused).isEmpty();
    assertThat(server.document("fast").orElseThrow().registerValue("status"))
        .contains(Value.of("typed on a fast clock"));
  }

  private static HlcTimestamp timestampOf(LatticeDocument doc, String field) {
    LWWRegister register = (LWWRegister) doc.snapshot().field(field).orElseThrow().state();
    return register.timestamp().orElseThrow();
  }

  @Test
  void listenersSeeEveryChangeExactlyOnceAndAThrowingOneStopsNobody() throws Exception {
    LatticeServer server = server(0, false);
    LatticeDocument a = client(server.uri()).open("events");
    LatticeDocument b = client(server.uri()).open("events");
    Map<String, AtomicInteger> localAtA = new ConcurrentHashMap<>();
    Map<String, AtomicInteger> remoteAtA = new ConcurrentHashMap<>();
    List<ChangeEvent> fieldEvents = new CopyOnWriteArrayList<>();
    a.onChange(
        e -> {
          throw new IllegalStateException("a broken listener");
        });
    a.onChange(
        e ->
            e.fields()
                .forEach(
                    f ->
                        (e.origin() == ChangeEvent.Origin.LOCAL ? localAtA : remoteAtA)
                            .computeIfAbsent(f, k -> new AtomicInteger())
                            .incrementAndGet()));
    a.onFieldChange("b2", fieldEvents::add);

    for (int i = 0; i < 4; i++) {
      a.counter("a" + i).increment(1);
    }
    for (int i = 0; i < 3; i++) {
      b.counter("b" + i).increment(1);
    }
    get(a.flush());
    get(b.flush());
    for (int i = 0; i < 3; i++) {
      String field = "b" + i;
      awaitValue(a, () -> a.counter(field).value(), 1L);
    }
    // One more change from b, after which every earlier event has reached a's listeners.
    b.counter("last").increment(1);
    get(b.flush());
    awaitValue(a, () -> a.counter("last").value(), 1L);
    CompletableFuture<Void> drained = new CompletableFuture<>();
    // Events are delivered in order on one executor: a local edit's event comes after all above.
    try (Registration r = a.onFieldChange("marker", e -> drained.complete(null))) {
      a.counter("marker").increment(1);
      get(drained);
    }

    for (int i = 0; i < 4; i++) {
      assertThat(localAtA.get("a" + i)).as("local a%d", i).hasValue(1);
    }
    for (int i = 0; i < 3; i++) {
      assertThat(remoteAtA.get("b" + i)).as("remote b%d", i).hasValue(1);
    }
    assertThat(remoteAtA.keySet()).containsExactlyInAnyOrder("b0", "b1", "b2", "last");
    assertThat(fieldEvents).hasSize(1);
    assertThat(fieldEvents.get(0).origin()).isEqualTo(ChangeEvent.Origin.REMOTE);
  }

  @Test
  void anUpdateTheServerRefusesIsReportedWithItsCodeAndLeavesTheOutbox() throws Exception {
    // b edits offline, pointed at a port where the shared store will be served later; a creates
    // the same field with another type first, on another port over the same data directory.
    int laterPort = freePort();
    LatticeClient bClient = client(uri(laterPort));
    LatticeDocument b = bClient.open("typed");
    b.register("x").set(Value.of("a register"));
    CompletableFuture<Void> bFlushed = b.flush();
    CompletableFuture<UpdateRejectedException> rejected = new CompletableFuture<>();
    b.onRejected(rejected::complete);

    LatticeServer first = server(0, true);
    LatticeDocument a = client(first.uri()).open("typed");
    a.counter("x").increment(5);
    get(a.flush());
    first.close();

    server(laterPort, true);
    UpdateRejectedException reported = get(rejected);
    assertThat(reported.errorCode()).contains(ErrorCode.FIELD_TYPE_MISMATCH);
    assertThat(reported.documentId()).isEqualTo("typed");
    assertThat(reported.serverMessage()).isNotEmpty();
    assertThatThrownBy(() -> bFlushed.get(Awaits.TIMEOUT_SECONDS, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOf(UpdateRejectedException.class);
    // The refused edit is gone; what remains is acknowledged, and b holds the server's counter.
    get(b.flush());
    assertThat(b.pendingChanges()).isZero();
    awaitValue(b, () -> b.counter("x").value(), 5L);
  }

  @Test
  void closeGoesOfflineAndRefusesFurtherUse() throws Exception {
    LatticeServer server = server(0, false);
    LatticeClient client = client(server.uri());
    awaitState(client, State.ONLINE);
    LatticeDocument doc = client.open("bye");
    client.close();
    assertThat(client.connectionState().state()).isEqualTo(State.OFFLINE);
    assertThatThrownBy(() -> doc.counter("n").increment(1))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> client.open("other")).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void presenceIsSeenByTheOthersWithJoinAndLeave() throws Exception {
    LatticeServer server = server(0, false);
    LatticeClient aClient = client(server.uri());
    LatticeDocument a = aClient.open("room");
    LatticeDocument b = client(server.uri()).open("room");
    java.util.concurrent.BlockingQueue<PresenceEvent> seenByB =
        new java.util.concurrent.LinkedBlockingQueue<>();
    b.onPresence(seenByB::add);

    a.setPresence(Value.of("cursor at 5"));
    PresenceEvent join = seenByB.poll(Awaits.TIMEOUT_SECONDS, TimeUnit.SECONDS);
    assertThat(join).isNotNull();
    assertThat(join.kind()).isEqualTo(PresenceEvent.Kind.JOIN);
    assertThat(join.replicaId()).isEqualTo(aClient.replicaId());
    assertThat(join.value()).contains(Value.of("cursor at 5"));
    assertThat(b.presences()).containsEntry(aClient.replicaId(), Value.of("cursor at 5"));

    a.clearPresence();
    PresenceEvent leave = seenByB.poll(Awaits.TIMEOUT_SECONDS, TimeUnit.SECONDS);
    assertThat(leave).isNotNull();
    assertThat(leave.kind()).isEqualTo(PresenceEvent.Kind.LEAVE);
    assertThat(b.presences()).isEmpty();
  }

  @Test
  void editsFromManyThreadsAllArrive() throws Exception {
    LatticeServer server = server(0, false);
    LatticeDocument writer = client(server.uri()).open("busy");
    LatticeDocument reader = client(server.uri()).open("busy");
    int threads = 4;
    int perThread = 250;
    java.util.concurrent.ExecutorService pool =
        java.util.concurrent.Executors.newFixedThreadPool(threads);
    try {
      List<java.util.concurrent.Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int id = t;
        done.add(
            pool.submit(
                () -> {
                  for (int i = 0; i < perThread; i++) {
                    writer.counter("total").increment(1);
                    writer.register("last-" + id).set(Value.of(i));
                  }
                }));
      }
      for (java.util.concurrent.Future<?> f : done) {
        f.get(Awaits.TIMEOUT_SECONDS, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(writer.counter("total").value()).isEqualTo(threads * perThread);
    get(writer.flush());
    assertThat(writer.pendingChanges()).isZero();
    awaitValue(reader, () -> reader.counter("total").value(), (long) threads * perThread);
    for (int t = 0; t < threads; t++) {
      int id = t;
      awaitValue(
          reader, () -> reader.register("last-" + id).get(), Optional.of(Value.of(perThread - 1)));
    }
  }

  private LatticeServer smallFrameServer() {
    LatticeServer server =
        LatticeServer.builder()
            .bindAddress("127.0.0.1")
            .port(0)
            .inMemory(true)
            .sessionConfig(
                dev.lattice.server.spi.SessionConfig.builder()
                    .protocolLimits(
                        dev.lattice.protocol.ProtocolLimits.builder().maxFrameBytes(4096).build())
                    .updatesPerSecond(20)
                    .updateBurst(5)
                    .build())
            .build()
            .start();
    closeables.add(server);
    return server;
  }

  @Test
  void anEditThatCannotFitAFrameIsRefusedLocallyWithNothingApplied() throws Exception {
    LatticeServer server = smallFrameServer();
    LatticeClient client = client(server.uri());
    awaitState(client, State.ONLINE);
    LatticeDocument doc = client.open("big");
    assertThatThrownBy(() -> doc.register("blob").set(Value.of("x".repeat(10_000))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxFrameBytes");
    assertThat(doc.register("blob").get()).isEmpty();
    assertThat(doc.pendingChanges()).isZero();
    doc.register("blob").set(Value.of("x".repeat(1_000)));
    get(doc.flush());
  }

  @Test
  void coalescedUpdatesStayUnderTheServersFrameLimitAndRate() throws Exception {
    LatticeServer server = smallFrameServer();
    LatticeClient writerClient = client(server.uri());
    awaitState(writerClient, State.ONLINE);
    LatticeDocument writer = writerClient.open("many");
    List<UpdateRejectedException> rejected = new CopyOnWriteArrayList<>();
    writer.onRejected(rejected::add);
    // Twenty 1500-byte values: two fit a 4 KiB frame, so about ten UPDATEs, past the burst of 5.
    for (int i = 0; i < 20; i++) {
      writer.register("f" + i).set(Value.of(Integer.toString(i).repeat(1_500 / (i < 10 ? 1 : 2))));
    }
    get(writer.flush());
    assertThat(rejected).isEmpty();
    assertThat(writerClient.connectionState().state()).isEqualTo(State.ONLINE);
    assertThat(server.document("many").orElseThrow().fieldCount()).isEqualTo(20);
  }
}

package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.protocol.Ack;
import dev.lattice.protocol.CloseCodes;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Hello;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.protocol.OwnUpdate;
import dev.lattice.protocol.Ping;
import dev.lattice.protocol.Pong;
import dev.lattice.protocol.Presence;
import dev.lattice.protocol.ProtocolLimits;
import dev.lattice.protocol.Subscribe;
import dev.lattice.protocol.Sync;
import dev.lattice.protocol.Unsubscribe;
import dev.lattice.protocol.Update;
import dev.lattice.protocol.Welcome;
import dev.lattice.server.spi.SessionConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every limit and refusal of docs/PROTOCOL.md over real sockets: each triggers the error code (§7)
 * or close code (§8) the spec documents, and a refused request changes nothing stored and leaves
 * every other connection alone.
 */
class LimitsIT {

  private static final String DOC = "board";
  private static final MessageCodec CODEC = MessageCodec.defaults();

  @TempDir Path data;
  private final Closer closer = new Closer();

  @AfterEach
  void closeAll() throws Exception {
    closer.closeAll();
  }

  private static LatticeServer.Builder inMemory() {
    return LatticeServer.builder().inMemory(true);
  }

  private LatticeServer server(SessionConfig config) {
    return server(inMemory().sessionConfig(config));
  }

  private LatticeServer server(LatticeServer.Builder builder) {
    return closer.add(builder.bindAddress("127.0.0.1").port(0).build().start());
  }

  private LatticeServer server() {
    return server(SessionConfig.defaults());
  }

  private RawClient client(LatticeServer server, long replica) throws Exception {
    return closer.add(RawClient.hello(server.uri(), replica, DOC));
  }

  private RawClient subscribed(LatticeServer server, long replica) throws Exception {
    RawClient client = client(server, replica);
    client.subscribe();
    return client;
  }

  private static void assertError(Message message, OptionalLong requestId, ErrorCode code) {
    assertThat(message).isInstanceOf(ErrorMessage.class);
    ErrorMessage error = (ErrorMessage) message;
    assertThat(error.errorCode()).as("error %s", error).contains(code);
    assertThat(error.code()).isEqualTo(code.code());
    assertThat(error.requestId()).isEqualTo(requestId);
    assertThat(error.message()).isNotBlank();
  }

  private static void assertError(Message message, long requestId, ErrorCode code) {
    assertError(message, OptionalLong.of(requestId), code);
  }

  // ------------------------------------------------------------------ frame size

  @Test
  void aFrameOverTheConfiguredMaxFrameBytesClosesWith1009AndOneAtTheLimitIsAccepted()
      throws Exception {
    int limit = 4096;
    LatticeServer server =
        server(
            SessionConfig.builder()
                .protocolLimits(ProtocolLimits.builder().maxFrameBytes(limit).build())
                .build());
    RawClient other = subscribed(server, 0xb);
    RawClient big = closer.add(RawClient.connect(server.uri(), 0xa, DOC));
    big.send(Hello.of(big.replica, null, "it"));
    assertThat(big.take(Welcome.class).limits())
        .containsEntry(Welcome.LIMIT_MAX_FRAME_BYTES, (long) limit);
    big.subscribe();

    byte[] atLimit = registerUpdateFrame(big, limit);
    big.sendRaw(atLimit);
    assertThat(big.take(Ack.class).requestId()).isEqualTo(big.takeRequestId());
    other.receive();

    byte[] overLimit = registerUpdateFrame(big, limit + 1);
    big.sendRaw(overLimit);
    assertThat(big.awaitClose()).isEqualTo(CloseCodes.TOO_BIG);

    // Only the big frame's connection closed, and nothing of it was stored.
    Document stored = server.document(DOC).orElseThrow();
    assertThat(stored.versionVector().get(big.replica)).isEqualTo(1);
    assertThat(other.increment("likes", 1)).isEqualTo(new Ack(2, DOC));

    // What was acknowledged can be sent back: a later subscriber gets the blob (a SYNC in parts),
    // where it used to be closed with 1011 on every attempt.
    RawClient late = subscribed(server, 0xc);
    assertThat(late.doc).isEqualTo(server.document(DOC).orElseThrow());
    assertThat(late.doc.registerValue("blob")).isPresent();
  }

  @Test
  void aStoredFieldNoFrameCanCarryIsLeftOutOfTheCatchUpInsteadOfClosingWith1011() throws Exception {
    int limit = 4096;
    // Written under a larger maxFrameBytes, then served by a server whose frames cannot carry it.
    try (LatticeServer before =
        LatticeServer.builder()
            .dataDirectory(data)
            .bindAddress("127.0.0.1")
            .port(0)
            .sessionConfig(
                SessionConfig.builder()
                    .protocolLimits(ProtocolLimits.builder().maxFrameBytes(16 * limit).build())
                    .build())
            .build()
            .start()) {
      before
          .edit(DOC, e -> e.set("huge", Value.of("x".repeat(3 * limit))))
          .get(RawClient.TIMEOUT_SECONDS, TimeUnit.SECONDS);
      before
          .edit(DOC, e -> e.increment("likes", 2))
          .get(RawClient.TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }
    LatticeServer server =
        server(
            LatticeServer.builder()
                .dataDirectory(data)
                .sessionConfig(
                    SessionConfig.builder()
                        .protocolLimits(ProtocolLimits.builder().maxFrameBytes(limit).build())
                        .build()));

    RawClient reader = subscribed(server, 0xa);

    assertThat(reader.doc.counterValue("likes")).isEqualTo(2);
    assertThat(reader.doc.registerValue("huge")).isEmpty();
    assertThat(reader.closeCode).isNotDone();
    // The reader does not claim the dot it lacks: a later catch-up offers the field again.
    assertThat(reader.doc.versionVector())
        .isNotEqualTo(server.document(DOC).orElseThrow().versionVector());
    assertThat(reader.increment("mine", 1)).isInstanceOf(Ack.class);
  }

  @Test
  void anUpdateThatFitsAFrameButCouldNotBeSentBackIsRefusedWithFieldTooLarge() throws Exception {
    int limit = 4096;
    String longId = "d".repeat(400);
    LatticeServer server =
        server(
            SessionConfig.builder()
                .protocolLimits(ProtocolLimits.builder().maxFrameBytes(limit).build())
                .build());
    RawClient v2 = closer.add(RawClient.connect(server.uri(), 0xa, longId));
    v2.send(new Hello(1, 2, v2.replica, Optional.empty(), Optional.empty()));
    assertThat(v2.take(Welcome.class).version()).isEqualTo(2);
    v2.send(Subscribe.withAlias(v2.takeRequestId(), longId, VersionVector.empty(), 0));
    v2.take(Sync.class);

    // UPDATE_OWN names the document by alias: its frame fits, the fan-out with the id would not.
    long requestId = v2.takeRequestId();
    OwnUpdate own = null;
    for (int length = limit; length > 0 && own == null; length--) {
      DocumentDelta delta =
          v2.doc
              .copy()
              .setRegister(v2.replica, "blob", Value.of("x".repeat(length)), v2.clock.now());
      OwnUpdate candidate = OwnUpdate.of(requestId, 0, v2.replica, delta).orElseThrow();
      if (MessageCodec.defaults().encode(candidate).length <= limit) {
        own = candidate;
      }
    }
    v2.send(own);
    assertError(v2.next(), requestId, ErrorCode.FIELD_TOO_LARGE);

    // Nothing stored, the connection still works, and a subscriber is not closed.
    assertThat(server.document(longId).map(d -> d.fieldCount()).orElse(0)).isZero();
    RawClient other = closer.add(RawClient.hello(server.uri(), 0xb, longId));
    other.subscribe();
    assertThat(v2.increment("likes", 1)).isInstanceOf(Ack.class);
  }

  @Test
  void theFrameLimitCountsTheWholeMessageNotItsFragments() throws Exception {
    int limit = 4096;
    LatticeServer server =
        server(
            SessionConfig.builder()
                .protocolLimits(ProtocolLimits.builder().maxFrameBytes(limit).build())
                .build());
    RawClient client = subscribed(server, 0xa);

    // Fragments are reassembled into one frame (PROTOCOL.md section 1)...
    byte[] atLimit = registerUpdateFrame(client, limit);
    client.sendFragmented(atLimit, limit / 2);
    assertThat(client.take(Ack.class).requestId()).isEqualTo(client.takeRequestId());

    // ...and two fragments under the limit that add up to more than it are refused.
    byte[] overLimit = registerUpdateFrame(client, limit + 1);
    client.sendFragmented(overLimit, limit / 2);
    assertThat(client.awaitClose()).isEqualTo(CloseCodes.TOO_BIG);
    assertThat(server.document(DOC).orElseThrow().versionVector().get(client.replica)).isEqualTo(1);
  }

  /**
   * An UPDATE frame of exactly {@code size} bytes writing a string to register "blob" as the
   * client's next dot; the string's length is searched so the whole frame has that size.
   */
  private static byte[] registerUpdateFrame(RawClient client, int size) {
    long requestId = client.nextRequestId();
    for (int length = size; length > 0; length--) {
      Document scratch = client.doc.copy();
      DocumentDelta delta =
          scratch.setRegister(
              client.replica, "blob", Value.of("x".repeat(length)), client.clock.now());
      byte[] frame = CODEC.encode(Update.request(requestId, DOC, delta));
      if (frame.length == size) {
        client.doc.merge(delta);
        return frame;
      }
    }
    throw new AssertionError("no UPDATE frame of exactly " + size + " bytes");
  }

  // ------------------------------------------------------------------ documents and fields

  @Test
  void subscribingPastMaxDocumentsPerConnectionIsRefusedWithTooManyDocuments() throws Exception {
    LatticeServer server = server(SessionConfig.builder().maxDocumentsPerConnection(2).build());
    RawClient client = client(server, 0xa);
    for (String doc : List.of("a", "b")) {
      client.send(new Subscribe(client.takeRequestId(), doc, VersionVector.empty()));
      assertThat(client.take(Sync.class).documentId()).isEqualTo(doc);
    }

    long refused = client.takeRequestId();
    client.send(new Subscribe(refused, "c", VersionVector.empty()));
    assertError(client.take(ErrorMessage.class), refused, ErrorCode.TOO_MANY_DOCUMENTS);

    // The connection stays usable, and a freed slot can be taken.
    long unsubscribe = client.takeRequestId();
    client.send(new Unsubscribe(unsubscribe, "b"));
    assertThat(client.take(Ack.class)).isEqualTo(new Ack(unsubscribe, "b"));
    long again = client.takeRequestId();
    client.send(new Subscribe(again, "c", VersionVector.empty()));
    assertThat(client.take(Sync.class).requestId()).isEqualTo(again);
  }

  @Test
  void anUpdateAddingFieldsPastMaxFieldsPerDocumentIsRefusedWhole() throws Exception {
    LatticeServer server = server(inMemory().maxFieldsPerDocument(3));
    RawClient alice = subscribed(server, 0xa);
    RawClient bob = subscribed(server, 0xb);
    alice.increment("f1", 1);
    alice.increment("f2", 1);
    alice.set("f3", Value.of("three"));
    for (int i = 0; i < 3; i++) {
      bob.receive();
    }
    Document before = server.document(DOC).orElseThrow();

    // Made on a copy: the client keeps its replica as the server has it.
    Document scratch = alice.doc.copy();
    DocumentDelta tooMany =
        scratch
            .incrementGCounter(alice.replica, "f1", 1)
            .join(scratch.setRegister(alice.replica, "f4", Value.of("four"), alice.clock.now()));
    long refused = alice.sendUpdate(tooMany);
    assertError(alice.awaitReply(refused), refused, ErrorCode.TOO_MANY_FIELDS);

    assertThat(server.document(DOC).orElseThrow()).isEqualTo(before);
    // Existing fields still take writes, and nothing of the refused update was fanned out.
    alice.increment("f1", 1);
    assertThat(bob.receive().delta().fields().keySet()).containsExactly("f1");
    assertThat(server.document(DOC).orElseThrow().counterValue("f1")).isEqualTo(2);
  }

  @Test
  void anUpdateChangingAFieldsTypeIsRefusedWithFieldTypeMismatchAndChangesNothing()
      throws Exception {
    LatticeServer server = server();
    RawClient alice = subscribed(server, 0xa);
    RawClient bob = subscribed(server, 0xb);
    alice.increment("likes", 3);
    bob.receive();
    Document before = server.document(DOC).orElseThrow();

    // Bob writes "likes" as a register and adds a new field in the same delta, as a replica that
    // never saw alice's counter would.
    Document unaware = Document.create(DOC);
    DocumentDelta register =
        unaware
            .setRegister(bob.replica, "likes", Value.of("many"), bob.clock.now())
            .join(unaware.incrementGCounter(bob.replica, "fresh", 1));
    long refused = bob.sendUpdate(register);
    assertError(bob.awaitReply(refused), refused, ErrorCode.FIELD_TYPE_MISMATCH);
    DocumentDelta pn = Document.create(DOC).addPNCounter(bob.replica, "likes", -1);
    long refusedToo = bob.sendUpdate(pn);
    assertError(bob.awaitReply(refusedToo), refusedToo, ErrorCode.FIELD_TYPE_MISMATCH);

    Document after = server.document(DOC).orElseThrow();
    assertThat(after).isEqualTo(before);
    assertThat(after.typeOf("fresh")).as("no part of a refused delta is applied").isEmpty();
    assertThat(after.counterValue("likes")).isEqualTo(3);
    // The same dot, now with a well-typed write, is accepted.
    assertThat(bob.increment("likes", 1)).isInstanceOf(Ack.class);
    assertThat(server.document(DOC).orElseThrow().counterValue("likes")).isEqualTo(4);
  }

  // ------------------------------------------------------------------ clock drift

  @Test
  void anUpdateStampedTooFarAheadIsRefusedWithClockDriftAndDoesNotPoisonTheServerClock()
      throws Exception {
    LatticeServer server = server();
    RawClient alice = subscribed(server, 0xa);
    RawClient bob = subscribed(server, 0xb);
    HlcTimestamp tenMinutesAhead = HlcTimestamp.of(System.currentTimeMillis() + 600_000, 0);

    Document scratch = alice.doc.copy();
    DocumentDelta ahead =
        scratch.setRegister(alice.replica, "title", Value.of("from the future"), tenMinutesAhead);
    long refused = alice.sendUpdate(ahead);
    assertError(alice.awaitReply(refused), refused, ErrorCode.CLOCK_DRIFT);
    assertThat(server.document(DOC)).isEmpty();

    // A write with an honest clock still wins, and the server's clock stayed honest.
    bob.set("title", Value.of("now"));
    assertThat(server.document(DOC).orElseThrow().registerValue("title")).contains(Value.of("now"));
    RawClient carol = client(server, 0xc);
    assertThat(carol.clock.now().physicalMillis()).isLessThan(tenMinutesAhead.physicalMillis());
  }

  // ------------------------------------------------------------------ rate

  @Test
  void updatesPastTheRateAreRefusedWithRateLimitedAndChangeNothing() throws Exception {
    int burst = 3;
    LatticeServer server =
        server(SessionConfig.builder().updatesPerSecond(1).updateBurst(burst).build());
    RawClient alice = subscribed(server, 0xa);

    // Sent back to back: at 1 update/s, refilling enough to accept them all would take 17 s.
    int count = 20;
    List<long[]> sent = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      DocumentDelta delta = alice.doc.incrementGCounter(alice.replica, "likes", 1);
      sent.add(new long[] {alice.sendUpdate(delta), alice.doc.nextSequence(alice.replica) - 1});
    }
    List<Long> ackedSeqs = new ArrayList<>();
    List<Long> refusedSeqs = new ArrayList<>();
    for (long[] update : sent) {
      // Refusals are known at once and acks only after the store, yet replies keep request order.
      Message reply = alice.next();
      if (reply instanceof Ack ack) {
        assertThat(ack.requestId()).as("replies in request order").isEqualTo(update[0]);
        ackedSeqs.add(update[1]);
      } else {
        assertError(reply, update[0], ErrorCode.RATE_LIMITED);
        refusedSeqs.add(update[1]);
      }
    }

    assertThat(ackedSeqs).as("the burst is accepted").startsWith(1L, 2L, 3L);
    assertThat(refusedSeqs).as("updates past the burst refused").isNotEmpty();
    Document stored = server.document(DOC).orElseThrow();
    for (long seq : ackedSeqs) {
      assertThat(stored.contains(new Dot(alice.replica, seq))).as("acked %d", seq).isTrue();
    }
    for (long seq : refusedSeqs) {
      assertThat(stored.contains(new Dot(alice.replica, seq))).as("refused %d", seq).isFalse();
    }
  }

  @Test
  void repeatedRateLimitRefusalsCloseTheConnectionWith4005() throws Exception {
    LatticeServer server =
        server(
            SessionConfig.builder()
                .updatesPerSecond(1)
                .updateBurst(1)
                .rateLimitCloseThreshold(3)
                .build());
    RawClient alice = subscribed(server, 0xa);
    RawClient bob = subscribed(server, 0xb);

    // Bounded: the close comes after at most burst + threshold updates sent within a second.
    for (int i = 0; i < 50 && !alice.closeCode.isDone(); i++) {
      try {
        alice.sendUpdate(alice.doc.incrementGCounter(alice.replica, "likes", 1));
      } catch (Exception e) {
        break; // the server closed first; the output is gone
      }
    }

    assertThat(alice.awaitClose()).isEqualTo(CloseCodes.RATE_LIMITED);
    for (Message m = alice.inbox.poll(); m != null; m = alice.inbox.poll()) {
      if (m instanceof ErrorMessage error) {
        assertThat(error.errorCode()).contains(ErrorCode.RATE_LIMITED);
      } else {
        assertThat(m).isInstanceOf(Ack.class);
      }
    }
    assertThat(bob.increment("likes", 1)).isInstanceOf(Ack.class);
  }

  // ------------------------------------------------------------------ connection floods

  private static java.net.http.HttpResponse<?> refusedUpgrade(LatticeServer server) {
    Throwable failure =
        org.assertj.core.api.Assertions.catchThrowable(
            () -> RawClient.connect(server.uri(), 0xf, DOC).close());
    assertThat(failure).as("the upgrade is refused").isNotNull();
    Throwable cause = failure;
    while (cause != null && !(cause instanceof java.net.http.WebSocketHandshakeException)) {
      cause = cause.getCause();
    }
    assertThat(cause).as("a handshake refusal in %s", failure).isNotNull();
    return ((java.net.http.WebSocketHandshakeException) cause).getResponse();
  }

  @Test
  void connectionsPastThePerAddressLimitAreRefusedWith429UntilOneCloses() throws Exception {
    LatticeServer server = server(inMemory().maxConnectionsPerAddress(2));
    RawClient first = client(server, 0xa);
    RawClient second = subscribed(server, 0xb);

    java.net.http.HttpResponse<?> refused = refusedUpgrade(server);
    assertThat(refused.statusCode()).isEqualTo(429);
    assertThat(refused.headers().firstValue("Retry-After")).contains("1");
    assertThat(second.increment("likes", 1)).isInstanceOf(Ack.class);

    first.close();
    // The server frees the slot when it sees the connection end, which may trail the client's
    // view by a moment: retries within a deadline, each a real upgrade.
    RawClient third = null;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(RawClient.TIMEOUT_SECONDS);
    while (third == null && System.nanoTime() < deadline) {
      try {
        third = closer.add(RawClient.hello(server.uri(), 0xc, DOC));
      } catch (Exception e) {
        assertThat(second.increment("likes", 1)).isInstanceOf(Ack.class); // a round trip
      }
    }
    assertThat(third).as("a connection after one closed").isNotNull();
    assertThat(
            server
                .meterRegistry()
                .get("lattice.upgrades.refused")
                .tag("status", "429")
                .counter()
                .count())
        .isGreaterThanOrEqualTo(1.0);
  }

  @Test
  void handshakesPastTheServerWideRateAreRefusedWith503AndRetryAfter() throws Exception {
    LatticeServer server = server(inMemory().handshakesPerSecond(2));
    client(server, 0xa);
    client(server, 0xb);

    java.net.http.HttpResponse<?> refused = refusedUpgrade(server);
    assertThat(refused.statusCode()).isEqualTo(503);
    assertThat(refused.headers().firstValue("Retry-After")).contains("1");
  }

  /**
   * A server whose maxFrameBytes was below its own WELCOME's size closed every HELLO with 1011
   * ("could not encode a message"), and ProtocolLimits accepted values down to 16: the builder now
   * refuses such a config, naming the setting, and the smallest it accepts still says WELCOME.
   */
  @Test
  void aFrameLimitBelowTheServersOwnWelcomeIsRefusedAtBuildAndTheSmallestAcceptedWorks()
      throws Exception {
    java.util.function.IntFunction<SessionConfig> framed =
        limit ->
            SessionConfig.builder()
                .protocolLimits(ProtocolLimits.builder().maxFrameBytes(limit).build())
                .build();
    assertThatThrownBy(() -> inMemory().sessionConfig(framed.apply(200)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxFrameBytes")
        .hasMessageContaining("WELCOME")
        .hasMessageContaining("200");

    int smallest = 200;
    while (true) {
      try {
        inMemory().sessionConfig(framed.apply(smallest));
        break;
      } catch (IllegalArgumentException tooSmall) {
        smallest++;
        assertThat(smallest).as("some frame limit under 1 KiB is accepted").isLessThan(1024);
      }
    }
    LatticeServer server = server(framed.apply(smallest));
    RawClient client = closer.add(RawClient.connect(server.uri(), 0xa, DOC));
    client.send(dev.lattice.protocol.Hello.of(client.replica, null, "it"));
    assertThat(client.take(dev.lattice.protocol.Welcome.class)).isNotNull();
  }

  @Test
  void handshakesPastOneAddresssRateAreRefusedWith503AndRetryAfter() throws Exception {
    LatticeServer server = server(inMemory().handshakesPerSecondPerAddress(2));
    client(server, 0xa).close();
    client(server, 0xb).close(); // closed again: the rate counts handshakes, not open connections

    java.net.http.HttpResponse<?> refused = refusedUpgrade(server);
    assertThat(refused.statusCode()).isEqualTo(503);
    assertThat(refused.headers().firstValue("Retry-After")).contains("1");
  }

  // ------------------------------------------------------------------ idle and slow peers

  @Test
  void aSilentConnectionIsPingedThenClosedWith4004() throws Exception {
    LatticeServer server =
        server(SessionConfig.builder().idleTimeout(Duration.ofMillis(400)).build());
    RawClient silent = client(server, 0xa);

    assertThat(silent.take(Ping.class)).as("a PING at half the idle timeout").isNotNull();
    assertThat(silent.awaitClose()).isEqualTo(CloseCodes.IDLE_TIMEOUT);
  }

  @Test
  void answeringThePingsKeepsTheConnectionOpen() throws Exception {
    // Generous against a stalled test thread: the PONG must only arrive within half of it.
    LatticeServer server =
        server(SessionConfig.builder().idleTimeout(Duration.ofMillis(1_000)).build());
    RawClient client = client(server, 0xa);

    Ping first = client.take(Ping.class);
    client.send(new Pong(first.nonce(), client.clock.now()));
    // Without the reset by that PONG the server would close with 4004 instead of pinging again.
    Ping second = client.take(Ping.class);
    assertThat(second.nonce()).isNotEqualTo(first.nonce());
    client.send(new Pong(second.nonce(), client.clock.now()));
    client.subscribe();
    assertThat(client.closeCode).isNotDone();
  }

  @Test
  void aConnectionThatNeverSaysHelloIsClosedWith4004() throws Exception {
    LatticeServer server =
        server(SessionConfig.builder().idleTimeout(Duration.ofMillis(300)).build());
    RawClient mute = closer.add(RawClient.connect(server.uri(), 0xa, DOC));

    assertThat(mute.awaitClose()).isEqualTo(CloseCodes.IDLE_TIMEOUT);
    assertThat(mute.inbox).as("nothing is sent before HELLO").isEmpty();
  }

  @Test
  void aClientThatStopsReadingIsClosedWith4003WhileTheWriterGoesOn() throws Exception {
    LatticeServer server =
        server(
            inMemory()
                .maxOutgoingBytesPerConnection(64 * 1024)
                .sessionConfig(
                    SessionConfig.builder()
                        .updatesPerSecond(1_000_000)
                        .updateBurst(1_000_000)
                        .build()));
    RawClient writer = subscribed(server, 0xa);
    RawClient slow = subscribed(server, 0xb);
    slow.send(new Presence(DOC, slow.replica, 30_000, Optional.of(Value.of("here"))));
    assertThat(writer.take(Presence.class).replicaId()).isEqualTo(slow.replica);
    slow.pauseReading();

    // The server announces the slow client's leave once it has cut it off: that is the signal.
    String chunk = "x".repeat(256 * 1024);
    int written = 0;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!writer.holds(m -> m instanceof Presence p && p.isLeave())
        && written < 200
        && System.nanoTime() < deadline) {
      writer.set("blob", Value.of(chunk + written));
      written++;
    }
    assertThat(writer.holds(m -> m instanceof Presence p && p.isLeave()))
        .as("the slow client was cut off after %d updates of 256 KiB", written)
        .isTrue();

    slow.resumeReading();
    assertThat(slow.awaitClose()).isEqualTo(CloseCodes.SLOW_CONSUMER);
    // The transport's close is counted like the session's own (it used to be missing).
    assertThat(
            server
                .meterRegistry()
                .get("lattice.closes")
                .tag("code", "4003")
                .tag("name", "SLOW_CONSUMER")
                .counter()
                .count())
        .isEqualTo(1.0);
    assertThat(writer.increment("likes", 1)).isInstanceOf(Ack.class);
    Document stored = server.document(DOC).orElseThrow();
    assertThat(stored.versionVector().get(writer.replica)).isEqualTo(written + 1);
  }

  // ------------------------------------------------------------------ presence

  @Test
  void aPresenceOverMaxPresenceBytesIsRefusedAndNotFannedOut() throws Exception {
    LatticeServer server = server(SessionConfig.builder().maxPresenceBytes(16).build());
    RawClient alice = subscribed(server, 0xa);
    RawClient bob = subscribed(server, 0xb);

    // A raw str of n < 32 bytes encodes in n + 1: 17 bytes is one over, 16 is at the limit.
    Value over = Value.of("y".repeat(16));
    alice.send(new Presence(DOC, alice.replica, 30_000, Optional.of(over)));
    assertError(alice.take(ErrorMessage.class), OptionalLong.empty(), ErrorCode.PRESENCE_TOO_LARGE);

    Value atLimit = Value.of("y".repeat(15));
    alice.send(new Presence(DOC, alice.replica, 30_000, Optional.of(atLimit)));
    assertThat(bob.take(Presence.class).value()).as("bob's first presence").contains(atLimit);
  }

  // ------------------------------------------------------------------ protocol refusals

  @Test
  void aMessageBeforeHelloIsRefusedWithHelloRequiredAndClosedWith4000() throws Exception {
    LatticeServer server = server();
    RawClient client = closer.add(RawClient.connect(server.uri(), 0xa, DOC));

    client.send(new Subscribe(1, DOC, VersionVector.empty()));

    assertError(client.take(ErrorMessage.class), OptionalLong.empty(), ErrorCode.HELLO_REQUIRED);
    assertThat(client.awaitClose()).isEqualTo(CloseCodes.MALFORMED_FRAME);
  }

  @Test
  void aHelloWithNoCommonVersionIsRefusedWithUnsupportedVersionAndClosedWith4001()
      throws Exception {
    LatticeServer server = server();
    RawClient client = closer.add(RawClient.connect(server.uri(), 0xa, DOC));

    client.send(new Hello(3, 5, client.replica, Optional.empty(), Optional.of("future")));

    assertError(
        client.take(ErrorMessage.class), OptionalLong.empty(), ErrorCode.UNSUPPORTED_VERSION);
    assertThat(client.awaitClose()).isEqualTo(CloseCodes.UNSUPPORTED_VERSION);
  }

  @Test
  void aHelloOfferingARangeGetsTheHighestCommonVersion() throws Exception {
    LatticeServer server = server();
    RawClient client = closer.add(RawClient.connect(server.uri(), 0xa, DOC));

    client.send(new Hello(1, 7, client.replica, Optional.empty(), Optional.empty()));

    assertThat(client.take(Welcome.class).version()).isEqualTo(2);
  }

  @Test
  void requestsForADocumentNotSubscribedAreRefusedWithNotSubscribed() throws Exception {
    LatticeServer server = server();
    RawClient alice = subscribed(server, 0xa);
    Document elsewhere = Document.create("elsewhere");

    long update = alice.takeRequestId();
    alice.send(
        Update.request(update, "elsewhere", elsewhere.incrementGCounter(alice.replica, "n", 1)));
    assertError(alice.take(ErrorMessage.class), update, ErrorCode.NOT_SUBSCRIBED);
    long unsubscribe = alice.takeRequestId();
    alice.send(new Unsubscribe(unsubscribe, "elsewhere"));
    assertError(alice.take(ErrorMessage.class), unsubscribe, ErrorCode.NOT_SUBSCRIBED);
    alice.send(new Presence("elsewhere", alice.replica, 1_000, Optional.of(Value.of(1))));
    assertError(alice.take(ErrorMessage.class), OptionalLong.empty(), ErrorCode.NOT_SUBSCRIBED);

    assertThat(server.document("elsewhere")).isEmpty();
    assertThat(alice.increment("likes", 1)).isInstanceOf(Ack.class);
  }

  /**
   * The request id must be outstanding when the second request arrives, which the server decides by
   * timing alone (no store seam over the socket): a large first update made durable by the embedded
   * store is almost always still outstanding when a small second one arrives. Each round checks
   * whichever happened; the test needs one round that showed the refusal.
   */
  @Test
  void reusingAnOutstandingRequestIdIsRefusedWithDuplicateRequestId() throws Exception {
    LatticeServer server =
        server(
            LatticeServer.builder()
                .dataDirectory(data)
                .sessionConfig(
                    SessionConfig.builder()
                        .updatesPerSecond(100_000)
                        .updateBurst(100_000)
                        .build()));
    RawClient alice = subscribed(server, 0xa);
    String large = "z".repeat(512 * 1024);
    int duplicatesRefused = 0;
    for (int round = 0; round < 20 && duplicatesRefused == 0; round++) {
      long requestId = alice.takeRequestId();
      DocumentDelta slow =
          alice.doc.setRegister(alice.replica, "blob", Value.of(large + round), alice.clock.now());
      Document scratch = alice.doc.copy();
      DocumentDelta quick = scratch.incrementGCounter(alice.replica, "likes", 1);
      alice.send(Update.request(requestId, DOC, slow));
      alice.send(Update.request(requestId, DOC, quick));

      assertThat(alice.take(Ack.class)).isEqualTo(new Ack(requestId, DOC));
      Message second = alice.take(Message.class);
      Document stored = server.document(DOC).orElseThrow();
      Dot quickDot = new Dot(alice.replica, alice.doc.nextSequence(alice.replica));
      if (second instanceof ErrorMessage) {
        assertError(second, requestId, ErrorCode.DUPLICATE_REQUEST_ID);
        assertThat(stored.contains(quickDot)).as("the refused update changed nothing").isFalse();
        duplicatesRefused++;
      } else {
        // The first had completed before the second arrived: no longer outstanding, so accepted.
        assertThat(second).isEqualTo(new Ack(requestId, DOC));
        assertThat(stored.contains(quickDot)).isTrue();
        alice.doc.merge(quick);
      }
    }
    assertThat(duplicatesRefused).as("rounds that showed DUPLICATE_REQUEST_ID").isPositive();
    // The refused update, resent under a fresh id, is accepted: nothing is lost.
    assertThat(alice.increment("likes", 1)).isInstanceOf(Ack.class);
  }

  // ------------------------------------------------------------------ malformed frames

  /** Frames that are not a well-formed client message, as hex. */
  @ParameterizedTest(name = "{0}")
  @ValueSource(
      strings = {
        "c1007f", // 0xc1 is never used in MessagePack
        "a568656c6c6f", // a string, not an array
        "910c", // unknown message type 12
        "9203", // SUBSCRIBE missing its fields
        "930602a16401", // a well-formed ACK, then a trailing byte
        "930602a164", // ACK is sent by the server only
        "940502a164970601d3a1b2c3d4e5f6071801a56c696b65730201", // UPDATE whose delta has tag 6
        "9405c0a164970801d3a1b2c3d4e5f6071801a56c696b65730201", // client UPDATE without requestId
        "96010101d3a1b2c3d4e5f60718c0c0", // a second HELLO
      })
  void aMalformedFrameClosesOnlyItsOwnConnectionWith4000AndStoresNothing(String hex)
      throws Exception {
    LatticeServer server = server();
    RawClient alice = subscribed(server, 0xa);
    RawClient bob = subscribed(server, 0xb);
    RawClient bad = subscribed(server, 0xbad);
    alice.increment("likes", 2);
    bob.receive();
    bad.receive();
    bad.send(new Presence(DOC, bad.replica, 30_000, Optional.of(Value.of("bad"))));
    alice.take(Presence.class);
    bob.take(Presence.class);
    Document before = server.document(DOC).orElseThrow();

    bad.sendRaw(HexFormat.of().parseHex(hex));

    assertError(bad.take(ErrorMessage.class), OptionalLong.empty(), ErrorCode.MALFORMED_MESSAGE);
    assertThat(bad.awaitClose()).isEqualTo(CloseCodes.MALFORMED_FRAME);
    assertThat(alice.take(Presence.class)).isEqualTo(Presence.leave(DOC, bad.replica));
    assertThat(bob.take(Presence.class)).isEqualTo(Presence.leave(DOC, bad.replica));
    assertThat(server.document(DOC).orElseThrow()).isEqualTo(before);
    alice.increment("likes", 3);
    bob.receive();
    assertThat(bob.doc).isEqualTo(alice.doc).isEqualTo(server.document(DOC).orElseThrow());
    assertThat(bob.doc.counterValue("likes")).isEqualTo(5);
  }
}

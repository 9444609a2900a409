package dev.lattice.server.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.Ack;
import dev.lattice.protocol.CloseCodes;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Hello;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.protocol.Ping;
import dev.lattice.protocol.Pong;
import dev.lattice.protocol.Presence;
import dev.lattice.protocol.ProtocolLimits;
import dev.lattice.protocol.Subscribe;
import dev.lattice.protocol.Sync;
import dev.lattice.protocol.Unsubscribe;
import dev.lattice.protocol.Update;
import dev.lattice.protocol.Welcome;
import dev.lattice.server.hub.Hub;
import dev.lattice.server.hub.HubException;
import dev.lattice.server.spi.AuthResult;
import dev.lattice.server.spi.Authenticator;
import dev.lattice.server.spi.SessionConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

class ServerSessionTest {

  private static final ReplicaId CLIENT = ReplicaId.of(0xa1b2c3d4e5f60718L);
  private static final ReplicaId SERVER = ReplicaId.of(0x0b);
  private static final MessageCodec CODEC = MessageCodec.defaults();

  private final ManualTime time = new ManualTime();
  private final HybridLogicalClock clock =
      new HybridLogicalClock(
          () -> 1_700_000_000_000L + time.getAsLong() / 1_000_000, Duration.ofSeconds(60));
  private final FakeHub hub = new FakeHub();
  private final RecordingTransport transport = new RecordingTransport();
  private ServerSession session;

  private ServerSession open(Consumer<SessionFactory.Builder> customize) {
    SessionFactory.Builder builder =
        SessionFactory.builder()
            .hub(hub)
            .clock(clock)
            .serverId(SERVER)
            .nanoTime(time)
            .scheduler(time);
    customize.accept(builder);
    session = builder.build().open(transport);
    return session;
  }

  private ServerSession open() {
    return open(b -> {});
  }

  private ServerSession openWith(SessionConfig config) {
    return open(b -> b.config(config));
  }

  private void feed(Message message) {
    session.onFrame(CODEC.encode(message));
  }

  private Welcome handshake() {
    feed(Hello.of(CLIENT, "secret", "test/1"));
    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(1).first().isInstanceOf(Welcome.class);
    return (Welcome) sent.get(0);
  }

  private void subscribe(long requestId, String documentId) {
    subscribe(requestId, documentId, DocumentDelta.empty());
  }

  /** SUBSCRIBE answered by a SYNC carrying {@code missing}. */
  private void subscribe(long requestId, String documentId, DocumentDelta missing) {
    feed(new Subscribe(requestId, documentId, VersionVector.empty()));
    hub.subscribes
        .get(hub.subscribes.size() - 1)
        .future()
        .complete(new Hub.SyncResult(missing, VersionVector.empty()));
    assertThat(transport.drain()).singleElement().isInstanceOf(Sync.class);
  }

  /** A catch-up's worth: one counter increment. */
  private static DocumentDelta someMissing(String documentId) {
    return dev.lattice.crdt.Document.create(documentId)
        .incrementGCounter(ReplicaId.of(0x77), "n", 1);
  }

  private static Update update(long requestId, String documentId) {
    return Update.request(requestId, documentId, DocumentDelta.empty());
  }

  private static ErrorMessage error(OptionalLong requestId, ErrorCode code) {
    return ErrorMessage.of(requestId, code, "");
  }

  /** Compares errors by request id and code; the text is for humans. */
  private static void assertError(Message m, OptionalLong requestId, ErrorCode code) {
    assertThat(m).isInstanceOf(ErrorMessage.class);
    ErrorMessage e = (ErrorMessage) m;
    assertThat(e.requestId()).isEqualTo(requestId);
    assertThat(e.errorCode()).contains(code);
  }

  // ------------------------------------------------------------------ handshake

  @Test
  void welcomesHelloWithVersionServerIdTimeLimitsAndSessionId() {
    open();
    Welcome welcome = handshake();

    assertThat(welcome.version()).isEqualTo(2); // Hello.of offers [1, 2]
    assertThat(welcome.serverId()).isEqualTo(SERVER);
    assertThat(welcome.serverTime().physicalMillis()).isEqualTo(1_700_000_001_000L);
    assertThat(welcome.limits()).isEqualTo(SessionConfig.defaults().limitsMap());
    assertThat(welcome.limits())
        .containsEntry("maxFrameBytes", 1048576L)
        .containsEntry("maxDocumentsPerConnection", 100L)
        .containsEntry("updatesPerSecond", 100L)
        .containsEntry("updateBurst", 200L)
        .containsEntry("idleTimeoutMillis", 60_000L)
        .containsEntry("presenceTtlMillis", 30_000L)
        .containsEntry("maxPresenceBytes", 4096L);
    assertThat(welcome.sessionId()).isEqualTo(session.id());
    assertThat(session.replicaId()).isEqualTo(CLIENT);
    assertThat(transport.closed()).isFalse();
  }

  @Test
  void refusesAMessageBeforeHelloWithHelloRequired() {
    open();
    feed(new Ping(1, clock.now()));

    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(1);
    assertError(sent.get(0), OptionalLong.empty(), ErrorCode.HELLO_REQUIRED);
    assertThat(transport.closeCode).isEqualTo(CloseCodes.MALFORMED_FRAME);
    assertThat(hub.calls()).isZero();
  }

  @Test
  void refusesAHelloWithNoCommonVersion() {
    open();
    feed(new Hello(3, 4, CLIENT, Optional.empty(), Optional.empty()));

    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(1);
    assertError(sent.get(0), OptionalLong.empty(), ErrorCode.UNSUPPORTED_VERSION);
    assertThat(transport.closeCode).isEqualTo(CloseCodes.UNSUPPORTED_VERSION);
  }

  @Test
  void refusesCredentialsTheAuthenticatorDenies() {
    List<Object> seen = new ArrayList<>();
    open(
        b ->
            b.authenticator(
                Authenticator.of(
                    credentials -> {
                      seen.add(credentials);
                      return AuthResult.refused("bad token");
                    })));
    feed(Hello.of(CLIENT, "wrong", null));

    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(1);
    assertError(sent.get(0), OptionalLong.empty(), ErrorCode.UNAUTHORIZED);
    assertThat(((ErrorMessage) sent.get(0)).message())
        .contains("bad token")
        .doesNotContain("wrong");
    assertThat(transport.closeCode).isEqualTo(CloseCodes.UNAUTHORIZED);
    assertThat(seen).containsExactly(Optional.of("wrong"));
    assertThat(session.principal()).isNull();
  }

  @Test
  void refusesASecondHelloAsMalformed() {
    open();
    handshake();
    feed(Hello.of(CLIENT, null, null));

    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(1);
    assertError(sent.get(0), OptionalLong.empty(), ErrorCode.MALFORMED_MESSAGE);
    assertThat(transport.closeCode).isEqualTo(CloseCodes.MALFORMED_FRAME);
  }

  // ------------------------------------------------------------------ bad frames

  @Test
  void closesOnAGarbageFrameWithoutTouchingTheHub() {
    open();
    handshake();
    session.onFrame(new byte[] {(byte) 0xc1, 0x00});

    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(1);
    assertError(sent.get(0), OptionalLong.empty(), ErrorCode.MALFORMED_MESSAGE);
    assertThat(transport.closeCode).isEqualTo(CloseCodes.MALFORMED_FRAME);
    assertThat(transport.closeReason).isNotBlank();
    assertThat(transport.closeReason.getBytes(java.nio.charset.StandardCharsets.UTF_8).length)
        .isLessThanOrEqualTo(123);
    assertThat(hub.subscribes).isEmpty();
    assertThat(hub.updates).isEmpty();
  }

  @Test
  void closesOnATextFrame() {
    open();
    handshake();
    session.onText();

    assertThat(transport.closeCode).isEqualTo(CloseCodes.MALFORMED_FRAME);
    assertThat(transport.drain()).isEmpty();
  }

  @Test
  void refusesAFrameOverTheLimitWithFrameTooLargeAndClose1009() {
    openWith(
        SessionConfig.builder()
            .protocolLimits(ProtocolLimits.builder().maxFrameBytes(256).build())
            .build());
    handshake();
    session.onFrame(new byte[257]);

    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(1);
    assertError(sent.get(0), OptionalLong.empty(), ErrorCode.FRAME_TOO_LARGE);
    assertThat(transport.closeCode).isEqualTo(CloseCodes.TOO_BIG);
  }

  @Test
  void ignoresFramesAfterClosing() {
    open();
    handshake();
    session.onText();
    feed(new Subscribe(1, "d", VersionVector.empty()));

    assertThat(hub.subscribes).isEmpty();
    assertThat(transport.closeCount).isEqualTo(1);
  }

  // ------------------------------------------------------------------ subscribe

  @Test
  void answersSubscribeWithSyncFromTheHub() {
    open();
    handshake();
    VersionVector client = VersionVector.empty().with(CLIENT, 3);
    feed(new Subscribe(1, "d", client));

    assertThat(hub.subscribes)
        .singleElement()
        .satisfies(c -> assertThat(c.vector()).isEqualTo(client));
    assertThat(hub.subscribes.get(0).connection()).isSameAs(session);
    assertThat(transport.drain()).isEmpty();

    VersionVector server = VersionVector.empty().with(SERVER, 7);
    hub.subscribes.get(0).future().complete(new Hub.SyncResult(DocumentDelta.empty(), server));
    assertThat(transport.drain()).containsExactly(new Sync(1, "d", DocumentDelta.empty(), server));
  }

  @Test
  void aSyncThatFitsOnlyWithoutItsVectorIsSentInPartsInsteadOfClosing() {
    // Found by SyncSimulationProperties in property-tests: the split decided on the UPDATE budget
    // alone, called such a delta "whole", and the session closed with 1011; the client then
    // reconnected into the same SYNC forever.
    int limit = 512;
    MessageCodec limited =
        MessageCodec.create(ProtocolLimits.builder().maxFrameBytes(limit).build());
    openWith(
        SessionConfig.builder()
            .protocolLimits(ProtocolLimits.builder().maxFrameBytes(limit).build())
            .build());
    handshake();
    feed(new Subscribe(1, "d", VersionVector.empty()));
    // The largest document whose delta still fits one UPDATE frame of the limit.
    Document doc = Document.create("d");
    DocumentDelta delta = DocumentDelta.empty();
    for (int i = 1; ; i++) {
      Document grown = doc.copy();
      grown.incrementGCounter(ReplicaId.of(i), "f" + i, i);
      DocumentDelta bigger = grown.deltaSince(VersionVector.empty());
      if (limited.encode(Update.fanOut("d", bigger)).length > limit - 32) {
        break;
      }
      doc = grown;
      delta = bigger;
    }
    VersionVector vector = VersionVector.empty();
    for (int i = 1; i <= 20; i++) {
      vector = vector.with(ReplicaId.of(1_000 + i), 1_000_000L * i);
    }
    Sync whole = new Sync(1, "d", delta, vector);
    assertThatThrownBy(() -> limited.encode(whole)).isInstanceOf(IllegalArgumentException.class);

    hub.subscribes.get(0).future().complete(new Hub.SyncResult(delta, vector));

    assertThat(transport.closed()).isFalse();
    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(2);
    assertThat(sent.get(0)).isEqualTo(Update.fanOut("d", delta));
    assertThat(sent.get(1))
        .isEqualTo(new Sync(1, "d", DocumentDelta.of(delta.context(), Map.of()), vector));
    assertThat(transport.frames).allSatisfy(f -> assertThat(f.length).isLessThanOrEqualTo(limit));
  }

  @Test
  void reportsAFailedSubscribeWithTheHubsCode() {
    open();
    handshake();
    feed(new Subscribe(4, "d", VersionVector.empty()));
    hub.subscribes
        .get(0)
        .future()
        .completeExceptionally(new HubException(ErrorCode.INTERNAL, "store down"));

    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(1);
    assertError(sent.get(0), OptionalLong.of(4), ErrorCode.INTERNAL);
    // The document does not count as subscribed.
    feed(update(5, "d"));
    assertError(transport.drain().get(0), OptionalLong.of(5), ErrorCode.NOT_SUBSCRIBED);
  }

  @Test
  void refusesSubscribingPastTheDocumentLimitAndStaysOpen() {
    openWith(SessionConfig.builder().maxDocumentsPerConnection(2).build());
    handshake();
    subscribe(1, "a");
    subscribe(2, "b");
    feed(new Subscribe(3, "c", VersionVector.empty()));

    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(1);
    assertError(sent.get(0), OptionalLong.of(3), ErrorCode.TOO_MANY_DOCUMENTS);
    assertThat(transport.closed()).isFalse();
    assertThat(hub.subscribes).hasSize(2);

    // Resubscribing a document it has does not count again; after unsubscribing there is room.
    subscribe(4, "a");
    feed(new Unsubscribe(5, "b"));
    assertThat(transport.drain()).containsExactly(new Ack(5, "b"));
    subscribe(6, "c");
  }

  // ------------------------------------------------------------------ update

  @Test
  void acksAnUpdateOnlyOnceTheHubsFutureCompletes() {
    open();
    handshake();
    subscribe(1, "d");
    feed(update(2, "d"));

    assertThat(hub.updates)
        .singleElement()
        .satisfies(c -> assertThat(c.documentId()).isEqualTo("d"));
    assertThat(transport.drain()).isEmpty();

    hub.updates.get(0).future().complete(null);
    assertThat(transport.drain()).containsExactly(new Ack(2, "d"));
  }

  @Test
  void acksInRequestOrderWhenTheHubCompletesInReverse() {
    open();
    handshake();
    subscribe(1, "a");
    subscribe(2, "b");
    feed(update(10, "a"));
    feed(update(11, "b"));
    feed(update(12, "a"));

    hub.updates.get(2).future().complete(null);
    hub.updates.get(1).future().complete(null);
    assertThat(transport.drain()).isEmpty();

    hub.updates.get(0).future().complete(null);
    assertThat(transport.drain())
        .containsExactly(new Ack(10, "a"), new Ack(11, "b"), new Ack(12, "a"));
  }

  @Test
  void immediateUpdateErrorsWaitForEarlierAcks() {
    open();
    handshake();
    subscribe(1, "a");
    feed(update(10, "a"));
    feed(update(11, "nope"));
    assertThat(transport.drain()).isEmpty();

    hub.updates.get(0).future().complete(null);
    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(2);
    assertThat(sent.get(0)).isEqualTo(new Ack(10, "a"));
    assertError(sent.get(1), OptionalLong.of(11), ErrorCode.NOT_SUBSCRIBED);
  }

  @Test
  void reportsARefusedUpdateWithTheHubsCodeAndRequestId() {
    open();
    handshake();
    subscribe(1, "d");
    feed(update(2, "d"));
    hub.updates
        .get(0)
        .future()
        .completeExceptionally(new HubException(ErrorCode.FIELD_TYPE_MISMATCH, "a is a counter"));

    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(1);
    assertError(sent.get(0), OptionalLong.of(2), ErrorCode.FIELD_TYPE_MISMATCH);
    assertThat(((ErrorMessage) sent.get(0)).message()).isEqualTo("a is a counter");
  }

  @Test
  void reportsAnUnexpectedHubFailureAsInternal() {
    open();
    handshake();
    subscribe(1, "d");
    feed(update(2, "d"));
    hub.updates.get(0).future().completeExceptionally(new IllegalStateException("bug"));

    assertError(transport.drain().get(0), OptionalLong.of(2), ErrorCode.INTERNAL);
    assertThat(transport.closed()).isFalse();
  }

  @Test
  void stopsReadingWhileTooManyUpdatesAwaitTheHubAndReadsAgainAtHalf() {
    openWith(SessionConfig.builder().maxPendingUpdates(4).updateBurst(100).build());
    handshake();
    subscribe(1, "d");
    for (long id = 2; id <= 4; id++) {
      feed(update(id, "d"));
    }
    assertThat(transport.readingChanges).isEmpty();

    feed(update(5, "d"));
    assertThat(transport.readingChanges).containsExactly(true);

    // The first reply frees one of four: still above half, still paused.
    hub.updates.get(0).future().complete(null);
    assertThat(transport.readingChanges).containsExactly(true);
    // Replies leave in request order, so a later one completing first frees nothing yet.
    hub.updates.get(2).future().complete(null);
    assertThat(transport.readingChanges).containsExactly(true);
    hub.updates.get(1).future().complete(null);
    assertThat(transport.readingChanges).containsExactly(true, false);
    assertThat(transport.drain()).hasSize(3).allMatch(Ack.class::isInstance);
  }

  @Test
  void refusesAnUpdateForADocumentNotSubscribed() {
    open();
    handshake();
    feed(update(2, "d"));

    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(1);
    assertError(sent.get(0), OptionalLong.of(2), ErrorCode.NOT_SUBSCRIBED);
    assertThat(hub.updates).isEmpty();
  }

  @Test
  void refusesADuplicateOutstandingRequestId() {
    open();
    handshake();
    subscribe(1, "d");
    feed(update(2, "d"));
    feed(update(2, "d"));

    assertThat(hub.updates).hasSize(1);
    hub.updates.get(0).future().complete(null);
    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(2);
    assertThat(sent.get(0)).isEqualTo(new Ack(2, "d"));
    assertError(sent.get(1), OptionalLong.of(2), ErrorCode.DUPLICATE_REQUEST_ID);

    // Once answered, the id is free again.
    feed(update(2, "d"));
    assertThat(hub.updates).hasSize(2);
  }

  @Test
  void rateLimitsUpdatesWithABurstThenRefill() {
    openWith(SessionConfig.builder().updatesPerSecond(10).updateBurst(3).build());
    handshake();
    subscribe(1, "d");
    for (long id = 10; id < 14; id++) {
      feed(update(id, "d"));
    }
    assertThat(hub.updates).hasSize(3);
    hub.updates.forEach(c -> c.future().complete(null));
    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(4);
    assertError(sent.get(3), OptionalLong.of(13), ErrorCode.RATE_LIMITED);

    time.advance(Duration.ofMillis(99));
    feed(update(14, "d"));
    assertError(transport.drain().get(0), OptionalLong.of(14), ErrorCode.RATE_LIMITED);

    time.advance(Duration.ofMillis(1)); // 100 ms at 10/s: one token
    feed(update(15, "d"));
    feed(update(16, "d"));
    assertThat(hub.updates).hasSize(4);
    hub.updates.get(3).future().complete(null);
    sent = transport.drain();
    assertThat(sent.get(0)).isEqualTo(new Ack(15, "d"));
    assertError(sent.get(1), OptionalLong.of(16), ErrorCode.RATE_LIMITED);
    assertThat(transport.closed()).isFalse();
  }

  @Test
  void closesWith4005OnceRefusalsPassTheThreshold() {
    openWith(
        SessionConfig.builder()
            .updatesPerSecond(1)
            .updateBurst(1)
            .rateLimitCloseThreshold(3)
            .build());
    handshake();
    subscribe(1, "d");
    feed(update(10, "d"));
    hub.updates.get(0).future().complete(null);
    feed(update(11, "d"));
    feed(update(12, "d"));
    feed(update(13, "d"));
    assertThat(transport.closed()).isFalse();

    feed(update(14, "d"));
    assertThat(transport.closeCode).isEqualTo(CloseCodes.RATE_LIMITED);
    assertThat(hub.disconnects).containsExactly(session);
  }

  @Test
  void aClientFarOverTheRateIsClosedEvenThoughATokenRefillsNowAndThen() {
    // The report: 690 updates/s against 5/s were never closed, because each refilled token let
    // one update through and that reset a count of refusals "in a row".
    openWith(SessionConfig.builder().updatesPerSecond(5).updateBurst(5).build());
    handshake();
    subscribe(1, "d");
    long sent = 0;
    for (long id = 10; id < 10 + 690 * 10 && !transport.closed(); id++) {
      feed(update(id, "d"));
      hub.updates.forEach(c -> c.future().complete(null));
      time.advance(Duration.ofNanos(1_000_000_000L / 690));
      sent++;
    }
    assertThat(transport.closeCode).isEqualTo(CloseCodes.RATE_LIMITED);
    // 1000 refusals, forgiven at 5/s: the close comes within about 1.5 s of the flood.
    assertThat(sent).isLessThan(690 * 2);
    assertThat(hub.updates.size()).isLessThanOrEqualTo(5 + 5 * 2);
  }

  @Test
  void catchUpsPastThePerMinuteLimitAreRefusedUntilTheBucketRefills() {
    openWith(
        SessionConfig.builder().catchUpsPerMinute(2).idleTimeout(Duration.ofMinutes(5)).build());
    handshake();
    subscribe(1, "a", someMissing("a"));
    subscribe(2, "b", someMissing("b"));
    feed(new Subscribe(3, "c", VersionVector.empty()));
    assertError(transport.drain().get(0), OptionalLong.of(3), ErrorCode.RATE_LIMITED);
    assertThat(hub.subscribes).hasSize(2);
    // Unsubscribing and subscribing again is a catch-up too: it does not reset anything.
    feed(new Subscribe(4, "a", VersionVector.empty()));
    assertError(transport.drain().get(0), OptionalLong.of(4), ErrorCode.RATE_LIMITED);

    time.advance(Duration.ofSeconds(30)); // one token at 2 a minute
    subscribe(5, "c", someMissing("c"));
    assertThat(hub.subscribes).hasSize(3);
    assertThat(transport.closed()).isFalse();
  }

  @Test
  void subscribesThatSendNothingDoNotCountAsCatchUps() {
    openWith(
        SessionConfig.builder().catchUpsPerMinute(2).idleTimeout(Duration.ofMinutes(5)).build());
    handshake();
    // A reconnecting client up to date with its documents: every SYNC is empty.
    for (int i = 0; i < 10; i++) {
      subscribe(10 + i, "d" + i);
    }
    // A failed SUBSCRIBE sent nothing either.
    feed(new Subscribe(30, "x", VersionVector.empty()));
    hub.subscribes
        .get(hub.subscribes.size() - 1)
        .future()
        .completeExceptionally(new IllegalStateException("store down"));
    transport.drain();
    // The limit still bites on SUBSCRIBEs that do send a catch-up.
    subscribe(40, "e", someMissing("e"));
    subscribe(41, "f", someMissing("f"));
    feed(new Subscribe(42, "g", VersionVector.empty()));
    assertError(transport.drain().get(0), OptionalLong.of(42), ErrorCode.RATE_LIMITED);
  }

  @Test
  void aClientSomewhatOverTheRateIsRefusedButNeverClosed() {
    openWith(
        SessionConfig.builder()
            .updatesPerSecond(5)
            .updateBurst(5)
            .rateLimitCloseThreshold(10)
            .build());
    handshake();
    subscribe(1, "d");
    int refused = 0;
    // 9 updates/s for two minutes: refused 4/s, forgiven 5/s.
    for (long id = 10; id < 10 + 9 * 120; id++) {
      feed(update(id, "d"));
      hub.updates.forEach(c -> c.future().complete(null));
      for (Message m : transport.drain()) {
        if (m instanceof ErrorMessage e && e.errorCode().orElseThrow() == ErrorCode.RATE_LIMITED) {
          refused++;
        }
      }
      time.advance(Duration.ofNanos(1_000_000_000L / 9));
    }
    assertThat(refused).isGreaterThan(400);
    assertThat(transport.closed()).isFalse();
  }

  // ------------------------------------------------------------------ unsubscribe, presence

  @Test
  void unsubscribesAndAcks() {
    open();
    handshake();
    subscribe(1, "d");
    feed(new Unsubscribe(2, "d"));

    assertThat(hub.unsubscribes).containsExactly("d");
    assertThat(transport.drain()).containsExactly(new Ack(2, "d"));
    feed(new Unsubscribe(3, "d"));
    assertError(transport.drain().get(0), OptionalLong.of(3), ErrorCode.NOT_SUBSCRIBED);
  }

  @Test
  void aConnectionThatLeftEveryDocumentSubscribesAgainAsIfNew() {
    // The session drops its per-document sets once empty; coming back must find no stale state.
    open(b -> b.config(SessionConfig.builder().maxDocumentsPerConnection(1).build()));
    handshake();
    feed(new Subscribe(1, "d", VersionVector.empty()));
    hub.subscribes.get(0).future().completeExceptionally(new HubException(ErrorCode.INTERNAL, "x"));
    transport.drain();
    subscribe(2, "d");
    feed(update(3, "d"));
    hub.updates.get(0).future().complete(null);
    assertThat(transport.drain()).containsExactly(new Ack(3, "d"));
    feed(new Unsubscribe(4, "d"));
    assertThat(transport.drain()).containsExactly(new Ack(4, "d"));

    session.send(Update.fanOut("d", DocumentDelta.empty()));
    feed(update(5, "d"));
    assertError(transport.drain().get(0), OptionalLong.of(5), ErrorCode.NOT_SUBSCRIBED);

    subscribe(6, "e"); // the one-document limit counts from zero again
    Update fanOut = Update.fanOut("e", DocumentDelta.empty());
    session.send(fanOut);
    assertThat(transport.drain()).containsExactly(fanOut);
    feed(new Subscribe(7, "d", VersionVector.empty()));
    assertError(transport.drain().get(0), OptionalLong.of(7), ErrorCode.TOO_MANY_DOCUMENTS);
  }

  @Test
  void dropsFanOutAndPresenceTheHubQueuedBeforeItSawTheUnsubscribe() {
    open();
    handshake();
    subscribe(1, "d");
    subscribe(2, "e");
    feed(new Unsubscribe(3, "d"));
    transport.drain();

    Update lateFanOut = Update.fanOut("d", DocumentDelta.empty());
    session.send(lateFanOut);
    session.send(Presence.leave("d", ReplicaId.of(7)));
    Update followed = Update.fanOut("e", DocumentDelta.empty());
    session.send(followed);

    assertThat(transport.drain()).containsExactly(followed);
  }

  @Test
  void observerSeesFrameSizesErrorsAndTheCloseCode() {
    List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
    open(
        b ->
            b.observer(
                new SessionObserver() {
                  @Override
                  public void frameReceived(int bytes) {
                    seen.add("in:" + bytes);
                  }

                  @Override
                  public void frameSent(int bytes) {
                    seen.add("out:" + bytes);
                  }

                  @Override
                  public void errorSent(int code) {
                    seen.add("error:" + code);
                  }

                  @Override
                  public void closedByServer(int closeCode) {
                    seen.add("close:" + closeCode);
                  }
                }));
    byte[] hello = CODEC.encode(Hello.of(CLIENT, "secret", "test/1"));
    session.onFrame(hello);
    byte[] welcome = transport.frames.get(0);
    session.onFrame(new byte[] {(byte) 0xc1});

    assertThat(seen)
        .containsExactly(
            "in:" + hello.length,
            "out:" + welcome.length,
            "in:1",
            "error:" + ErrorCode.MALFORMED_MESSAGE.code(),
            "out:" + transport.frames.get(1).length,
            "close:" + dev.lattice.protocol.CloseCodes.MALFORMED_FRAME);
  }

  @Test
  void forwardsPresenceWithTheConnectionsReplicaAndACappedTtl() {
    open();
    handshake();
    subscribe(1, "d");
    ReplicaId spoofed = ReplicaId.of(99);
    Value cursor = Value.map(java.util.Map.of(Value.of("cursor"), Value.of(5)));
    feed(new Presence("d", spoofed, 120_000, Optional.of(cursor)));
    feed(new Presence("d", spoofed, 5_000, Optional.empty()));

    assertThat(hub.presences).hasSize(2);
    assertThat(hub.presences.get(0).connection().replicaId()).isEqualTo(CLIENT);
    assertThat(hub.presences.get(0).value()).contains(cursor);
    assertThat(hub.presences.get(0).ttl()).isEqualTo(Duration.ofSeconds(30));
    assertThat(hub.presences.get(1).value()).isEmpty();
    assertThat(hub.presences.get(1).ttl()).isEqualTo(Duration.ofSeconds(5));
    assertThat(transport.drain()).isEmpty();
  }

  @Test
  void refusesPresenceOverTheSizeLimitOrForADocumentNotSubscribed() {
    openWith(SessionConfig.builder().maxPresenceBytes(16).build());
    handshake();
    subscribe(1, "d");
    feed(new Presence("d", CLIENT, 1_000, Optional.of(Value.of("x".repeat(15))))); // 16 bytes
    feed(new Presence("d", CLIENT, 1_000, Optional.of(Value.of("x".repeat(16))))); // 17 bytes
    feed(new Presence("other", CLIENT, 1_000, Optional.of(Value.of(1))));

    assertThat(hub.presences).hasSize(1);
    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(2);
    assertError(sent.get(0), OptionalLong.empty(), ErrorCode.PRESENCE_TOO_LARGE);
    assertError(sent.get(1), OptionalLong.empty(), ErrorCode.NOT_SUBSCRIBED);
    assertThat(transport.closed()).isFalse();
  }

  @Test
  void reportsAPresenceTheHubRefuses() {
    open();
    handshake();
    subscribe(1, "d");
    hub.presenceFailure = new HubException(ErrorCode.NOT_SUBSCRIBED, "gone");
    feed(new Presence("d", CLIENT, 1_000, Optional.of(Value.of(1))));

    assertError(transport.drain().get(0), OptionalLong.empty(), ErrorCode.NOT_SUBSCRIBED);
  }

  // ------------------------------------------------------------------ heartbeats

  @Test
  void answersPingWithPongCarryingTheServerTime() {
    open();
    handshake();
    time.advance(Duration.ofSeconds(2));
    feed(new Ping(42, clock.peek()));

    List<Message> sent = transport.drain();
    assertThat(sent).singleElement().isInstanceOf(Pong.class);
    Pong pong = (Pong) sent.get(0);
    assertThat(pong.nonce()).isEqualTo(42);
    assertThat(pong.time().physicalMillis()).isEqualTo(1_700_000_003_000L);
  }

  /** The idle tests' timeout: 30 s, so their arithmetic does not follow the default. */
  private static final SessionConfig IDLE_30S =
      SessionConfig.builder().idleTimeout(Duration.ofSeconds(30)).build();

  @Test
  void pingsAtHalfTheIdleTimeoutThenClosesWith4004() {
    openWith(IDLE_30S);
    handshake();
    time.advance(Duration.ofMillis(14_999));
    assertThat(transport.drain()).isEmpty();

    time.advance(Duration.ofMillis(1));
    assertThat(transport.drain()).singleElement().isInstanceOf(Ping.class);

    time.advance(Duration.ofMillis(14_999));
    assertThat(transport.closed()).isFalse();
    time.advance(Duration.ofMillis(1));
    assertThat(transport.closeCode).isEqualTo(CloseCodes.IDLE_TIMEOUT);
    assertThat(hub.disconnects).containsExactly(session);
    assertThat(time.pendingTimers()).isZero();
  }

  @Test
  void anyFrameResetsTheIdleTimer() {
    openWith(IDLE_30S);
    handshake();
    time.advance(Duration.ofSeconds(10));
    feed(new Pong(1, clock.peek()));
    time.advance(Duration.ofSeconds(14));
    assertThat(transport.drain()).isEmpty();

    time.advance(Duration.ofSeconds(1)); // 15 s since the PONG
    assertThat(transport.drain()).singleElement().isInstanceOf(Ping.class);
    feed(new Pong(1, clock.peek())); // the client answers: alive again
    time.advance(Duration.ofSeconds(29));
    assertThat(transport.closed()).isFalse();
    time.advance(Duration.ofSeconds(1));
    assertThat(transport.closeCode).isEqualTo(CloseCodes.IDLE_TIMEOUT);
  }

  @Test
  void onTheSharedTimerWheelPingsAndClosesAtMostOneTickLateNeverEarly() {
    // The server's scheduler: one wheel of 1 s ticks for every session, driven here by hand.
    SessionTimerWheel wheel = new SessionTimerWheel(TimeUnit.SECONDS.toNanos(1), 64, time);
    Consumer<Duration> advance =
        d -> {
          time.advance(d);
          wheel.advance(time.getAsLong());
        };
    advance.accept(Duration.ofMillis(300)); // off the tick grid: HELLO at 0.3 s
    open(b -> b.config(IDLE_30S).scheduler(wheel));
    handshake();

    advance.accept(Duration.ofMillis(14_999)); // 15.299 s: the PING is due, its tick is not
    assertThat(transport.drain()).isEmpty();
    advance.accept(Duration.ofMillis(700)); // 15.999 s
    assertThat(transport.drain()).isEmpty();
    advance.accept(Duration.ofMillis(1)); // 16 s, the first tick at or after 15.3 s
    assertThat(transport.drain()).singleElement().isInstanceOf(Ping.class);

    advance.accept(Duration.ofMillis(14_999)); // 30.999 s: due at 30.3 s, its tick is 31 s
    assertThat(transport.closed()).isFalse();
    advance.accept(Duration.ofMillis(1));
    assertThat(transport.closeCode).isEqualTo(CloseCodes.IDLE_TIMEOUT);
    assertThat(hub.disconnects).containsExactly(session);
    assertThat(wheel.size()).isZero();
  }

  @Test
  void aSessionKeepsOneTimerArmedOnTheWheelHoweverOftenItIsRearmed() {
    SessionTimerWheel wheel = new SessionTimerWheel(TimeUnit.SECONDS.toNanos(1), 64, time);
    open(b -> b.config(IDLE_30S).scheduler(wheel));
    assertThat(wheel.size()).isEqualTo(1); // the wait for HELLO
    handshake();
    assertThat(wheel.size()).isEqualTo(1); // replaced, not added: the HELLO timer left at once
    for (int i = 0; i < 5; i++) {
      time.advance(Duration.ofSeconds(15));
      wheel.advance(time.getAsLong());
      assertThat(transport.drain()).singleElement().isInstanceOf(Ping.class);
      feed(new Pong(i, clock.peek()));
      assertThat(wheel.size()).isEqualTo(1);
    }

    session.onClosed();
    assertThat(wheel.size()).isZero();
  }

  @Test
  void closesAConnectionThatNeverSaysHelloAfterTheIdleTimeout() {
    openWith(IDLE_30S);
    time.advance(Duration.ofSeconds(30));

    assertThat(transport.drain()).isEmpty();
    assertThat(transport.closeCode).isEqualTo(CloseCodes.IDLE_TIMEOUT);
    assertThat(hub.disconnects).isEmpty();
  }

  // ------------------------------------------------------------------ closing

  @Test
  void disconnectsFromTheHubExactlyOnce() {
    open();
    handshake();
    subscribe(1, "d");
    session.onClosed();
    session.onClosed();

    assertThat(hub.disconnects).containsExactly(session);
    assertThat(time.pendingTimers()).isZero();
  }

  @Test
  void disconnectsOnceWhenTheServerClosesAndTheTransportReportsIt() {
    open();
    handshake();
    session.onText();
    session.onClosed();

    assertThat(hub.disconnects).containsExactly(session);
    assertThat(transport.closeCount).isEqualTo(1);
  }

  @Test
  void dropsSendsAfterClose() {
    open();
    handshake();
    subscribe(1, "d");
    feed(update(2, "d"));
    session.onClosed();

    session.send(Update.fanOut("d", DocumentDelta.empty()));
    hub.updates.get(0).future().complete(null);
    assertThat(transport.drain()).isEmpty();
  }

  @Test
  void handsBackASubscriptionTheHubGrantsAfterDisconnect() {
    open();
    handshake();
    feed(new Subscribe(1, "d", VersionVector.empty()));
    session.onClosed();
    hub.subscribes
        .get(0)
        .future()
        .complete(new Hub.SyncResult(DocumentDelta.empty(), VersionVector.empty()));

    assertThat(hub.unsubscribes).containsExactly("d");
    assertThat(transport.drain()).isEmpty();
  }

  @Test
  void sendsFanOutFromTheHub() {
    open();
    handshake();
    subscribe(1, "d");
    Update fanOut = Update.fanOut("d", DocumentDelta.empty());
    session.send(fanOut);

    assertThat(transport.drain()).containsExactly(fanOut);
  }

  // ------------------------------------------------------------------ threads

  @Test
  void acksInRequestOrderWhenFuturesCompleteOnManyThreads() throws Exception {
    long seed = new Random().nextLong();
    openWith(SessionConfig.builder().updateBurst(1000).build());
    handshake();
    subscribe(1, "a");
    subscribe(2, "b");
    int n = 500;
    for (int i = 0; i < n; i++) {
      feed(update(10 + i, i % 2 == 0 ? "a" : "b"));
    }
    List<FakeHub.UpdateCall> calls = new ArrayList<>(hub.updates);
    Collections.shuffle(calls, new Random(seed));
    ExecutorService pool = Executors.newFixedThreadPool(4);
    CountDownLatch done = new CountDownLatch(calls.size());
    try {
      for (FakeHub.UpdateCall call : calls) {
        pool.execute(
            () -> {
              call.future().complete(null);
              session.send(Update.fanOut(call.documentId(), DocumentDelta.empty()));
              done.countDown();
            });
      }
      assertThat(done.await(10, TimeUnit.SECONDS)).as("seed %d", seed).isTrue();
    } finally {
      pool.shutdownNow();
    }
    List<Long> acked = new ArrayList<>();
    for (Message m : transport.drain()) {
      if (m instanceof Ack ack) {
        acked.add(ack.requestId());
      }
    }
    List<Long> expected = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      expected.add(10L + i);
    }
    assertThat(acked).as("seed %d", seed).isEqualTo(expected);
  }
}

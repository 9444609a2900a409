package dev.lattice.client.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.client.ChangeEvent;
import dev.lattice.client.ConnectionStatus;
import dev.lattice.client.ConnectionStatus.State;
import dev.lattice.client.PresenceEvent;
import dev.lattice.client.UpdateRejectedException;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.hlc.HybridLogicalClock;
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
import dev.lattice.protocol.Subscribe;
import dev.lattice.protocol.Sync;
import dev.lattice.protocol.Update;
import dev.lattice.protocol.Welcome;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** The session state machine, fed messages and a manual clock: no sockets, no threads. */
class ClientSessionTest {

  private static final ReplicaId ME = ReplicaId.of(1);
  private static final ReplicaId OTHER = ReplicaId.of(2);
  private static final ReplicaId SERVER = ReplicaId.of(99);
  private static final long SEED = 3;
  private static final long WALL_START = 1_700_000_000_000L;

  /** A wall clock the test sets. */
  private static final class WallClock extends Clock {
    long millis = WALL_START;

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis);
    }
  }

  private final ManualScheduler scheduler = new ManualScheduler();
  private final RecordingTransport transport = new RecordingTransport();
  private final WallClock wall = new WallClock();
  private final ClockSync clockSync = new ClockSync(wall);
  private final HybridLogicalClock clock =
      new HybridLogicalClock(clockSync::correctedMillis, Duration.ofSeconds(60));
  private final List<ConnectionStatus> statuses = new ArrayList<>();
  private final Callbacks callbacks = new Callbacks(Runnable::run);
  private final MemoryLocalState local = new MemoryLocalState(ME);
  private final DocumentState doc = new DocumentState("d", ME, local, clock, callbacks);
  private java.util.function.Supplier<String> tokens = () -> "token";
  private ClientSession session = session(8);

  private ClientSession session(int maxInFlight) {
    return new ClientSession(
        new ClientSession.Config(
            () -> tokens.get(),
            "test",
            new Backoff(Duration.ofMillis(100), Duration.ofMillis(1000), new Random(SEED)),
            maxInFlight,
            256,
            15_000,
            30_000),
        ME,
        transport,
        scheduler,
        scheduler::nanoTime,
        clockSync,
        clock,
        statuses::add);
  }

  private static Map<String, Long> limits(long perSecond, long burst) {
    return Map.of(
        Welcome.LIMIT_UPDATES_PER_SECOND, perSecond,
        Welcome.LIMIT_UPDATE_BURST, burst,
        Welcome.LIMIT_IDLE_TIMEOUT_MILLIS, 30_000L,
        Welcome.LIMIT_PRESENCE_TTL_MILLIS, 10_000L,
        Welcome.LIMIT_MAX_FRAME_BYTES, 1_048_576L);
  }

  private long gen() {
    return transport.lastGeneration();
  }

  /** Connects (or reconnects), says HELLO, gets WELCOME and answers the SUBSCRIBE with SYNC. */
  private void online(Map<String, Long> limits, VersionVector serverVector) {
    session.open(doc);
    session.start();
    session.onOpen(gen());
    assertThat(transport.drain(Hello.class)).hasSize(1);
    session.onMessage(
        gen(), Welcome.of(1, SERVER, HlcTimestamp.of(wall.millis, 0), limits, "s" + gen()));
    Subscribe subscribe = transport.drain(Subscribe.class).get(0);
    session.onMessage(
        gen(), new Sync(subscribe.requestId(), "d", DocumentDelta.empty(), serverVector));
  }

  private void online() {
    online(limits(1000, 1000), VersionVector.empty());
  }

  /** {@link #online()} with a server that speaks protocol {@code version}. */
  private Subscribe onlineAt(int version) {
    session.open(doc);
    session.start();
    session.onOpen(gen());
    Hello hello = transport.drain(Hello.class).get(0);
    assertThat(hello.maxVersion()).isEqualTo(2);
    session.onMessage(
        gen(),
        Welcome.of(
            version, SERVER, HlcTimestamp.of(wall.millis, 0), limits(1000, 1000), "s" + gen()));
    Subscribe subscribe = transport.drain(Subscribe.class).get(0);
    session.onMessage(
        gen(), new Sync(subscribe.requestId(), "d", DocumentDelta.empty(), VersionVector.empty()));
    return subscribe;
  }

  // ------------------------------------------------------------------ protocol version 2

  private static <T extends Message> List<T> only(List<Message> sent, Class<T> type) {
    return sent.stream().filter(type::isInstance).map(type::cast).toList();
  }

  @Test
  void versionTwoSubscribesWithAnAliasAndSendsASingleIncrementAsUpdateOwn() {
    Subscribe subscribe = onlineAt(2);
    assertThat(subscribe.alias()).hasValue(0);
    increment("g");

    List<Message> all = transport.drain(Message.class);
    assertThat(only(all, Update.class)).isEmpty();
    List<OwnUpdate> sent = only(all, OwnUpdate.class);
    assertThat(sent).hasSize(1);
    OwnUpdate own = sent.get(0);
    assertThat(own.alias()).isZero();
    assertThat(own.field()).isEqualTo("g");
    assertThat(own.seq()).isEqualTo(1);
    assertThat(own.state()).isEqualTo(new OwnUpdate.GCount(1));
    // Request id, alias, seq and count below 128, field "g": 9 bytes, 15 on the wire.
    assertThat(MessageCodec.defaults().encode(own)).hasSizeLessThanOrEqualTo(14);

    session.onMessage(gen(), new Ack(own.requestId(), "d"));
    assertThat(doc.pendingChanges()).isZero();
  }

  @Test
  void requestIdsAreReusedOnceAnsweredSoTheThreeHundredthIncrementStillFitsTwentyWireBytes() {
    onlineAt(2);
    OwnUpdate last = null;
    for (int k = 1; k <= 300; k++) {
      increment("g");
      List<OwnUpdate> sent = transport.drain(OwnUpdate.class);
      assertThat(sent).hasSize(1);
      last = sent.get(0);
      // One request outstanding at a time: the answered id is free again, so it stays small.
      assertThat(last.requestId()).isLessThan(128);
      session.onMessage(gen(), new Ack(last.requestId(), "d"));
    }
    assertThat(last.seq()).isEqualTo(300);
    assertThat(last.state()).isEqualTo(new OwnUpdate.GCount(300));
    // seq and count take 3 bytes each past 255; request id and alias still 1: 14 + 6 header.
    assertThat(MessageCodec.defaults().encode(last)).hasSizeLessThanOrEqualTo(14);
    assertThat(doc.pendingChanges()).isZero();
  }

  @Test
  void anOutstandingRequestIdIsNeverReused() {
    onlineAt(2);
    increment("a");
    OwnUpdate first = transport.drain(OwnUpdate.class).get(0);
    increment("b");
    OwnUpdate second = transport.drain(OwnUpdate.class).get(0);
    assertThat(second.requestId()).isNotEqualTo(first.requestId());
    session.onMessage(gen(), new Ack(first.requestId(), "d"));
    increment("c");
    OwnUpdate third = transport.drain(OwnUpdate.class).get(0);
    assertThat(third.requestId()).isEqualTo(first.requestId()).isNotEqualTo(second.requestId());
  }

  @Test
  void versionTwoStillSendsBatchesAsUpdate() {
    increment("a");
    increment("b");
    onlineAt(2);
    List<Message> all = transport.drain(Message.class);
    List<Update> updates = only(all, Update.class);
    assertThat(updates).hasSize(1);
    assertThat(updates.get(0).delta().fields()).containsOnlyKeys("a", "b");
    assertThat(only(all, OwnUpdate.class)).isEmpty();
  }

  @Test
  void versionTwoRegisterWritesAndPnAddsGoAsUpdateOwnToo() {
    onlineAt(2);
    doc.edit("t", d -> d.setRegister(ME, "t", Value.of("hi"), clock.now()));
    session.kick();
    doc.edit("p", d -> d.addPNCounter(ME, "p", -2));
    session.kick();
    List<Message> all = transport.drain(Message.class);
    List<OwnUpdate> sent = only(all, OwnUpdate.class);
    assertThat(sent).extracting(OwnUpdate::field).containsExactly("t", "p");
    assertThat(sent.get(1).state()).isEqualTo(new OwnUpdate.PNCount(0, 2));
    assertThat(only(all, Update.class)).isEmpty();
  }

  @Test
  void aVersionOneServerGetsVersionOneMessagesAcrossReconnects() {
    Subscribe v1 = onlineAt(1);
    assertThat(v1.alias()).isEmpty();
    increment("n");
    List<Message> first = transport.drain(Message.class);
    assertThat(only(first, Update.class)).hasSize(1);
    assertThat(only(first, OwnUpdate.class)).isEmpty();

    // The server was upgraded: the same edit, resent, goes compact.
    reconnectAfter(CloseCodes.GOING_AWAY);
    assertThat(onlineAt(2).alias()).hasValue(0);
    assertThat(transport.drain(OwnUpdate.class)).hasSize(1);

    // And rolled back: version 1 again, no alias.
    reconnectAfter(CloseCodes.GOING_AWAY);
    assertThat(onlineAt(1).alias()).isEmpty();
    List<Message> third = transport.drain(Message.class);
    assertThat(only(third, Update.class)).hasSize(1);
    assertThat(only(third, OwnUpdate.class)).isEmpty();
  }

  @Test
  void anAliasTheServerStillHoldsIsReplacedByAnother() {
    onlineAt(2);
    DocumentState second = new DocumentState("e", ME, local, clock, callbacks);
    session.open(second);
    Subscribe refused = transport.drain(Subscribe.class).get(0);
    assertThat(refused.alias()).hasValue(1);
    session.onMessage(
        gen(),
        ErrorMessage.of(
            OptionalLong.of(refused.requestId()), ErrorCode.ALIAS_IN_USE, "alias 1 is in use"));
    Subscribe again = transport.drain(Subscribe.class).get(0);
    assertThat(again.documentId()).isEqualTo("e");
    assertThat(again.alias()).hasValue(2);
  }

  @Test
  void eachOpenDocumentTakesTheSmallestFreeAlias() {
    onlineAt(2);
    DocumentState second = new DocumentState("e", ME, local, clock, callbacks);
    DocumentState third = new DocumentState("f", ME, local, clock, callbacks);
    session.open(second);
    assertThat(transport.drain(Subscribe.class).get(0).alias()).hasValue(1);
    session.closeDocument("e");
    session.open(third);
    assertThat(transport.drain(Subscribe.class).get(0).alias()).hasValue(1);
  }

  private void increment(String field) {
    doc.edit(field, d -> d.incrementGCounter(ME, field, 1));
    session.kick();
  }

  private void reconnectAfter(int closeCode) {
    session.onClosed(gen(), closeCode, "test");
    scheduler.advanceMillis(1_000);
  }

  @Test
  void aServerThatCannotBeReachedIsReportedAsAPersonWouldSayIt() {
    session.open(doc);
    session.start();
    // The socket never opened: the transport reports the failed connect as an abnormal close.
    session.onClosed(gen(), ClientSession.ABNORMAL, "connect failed: Connection refused");

    ConnectionStatus last = statuses.get(statuses.size() - 1);
    assertThat(last.state()).isEqualTo(State.CONNECTING);
    // Backoff(100 ms, 1 s) with full jitter: under a second, so "retrying in 0.N s" or "now".
    assertThat(last.reason().orElseThrow())
        .matches("server unreachable, retrying (now|in 0\\.\\d s) \\(ABNORMAL \\(1006\\): .*\\)")
        .contains("Connection refused");
    assertThat(last.closeCode()).hasValue(ClientSession.ABNORMAL);
  }

  @Test
  void aLostConnectionSaysSoAndWhenItRetries() {
    online();
    session.onClosed(gen(), CloseCodes.GOING_AWAY, "server shutting down");

    ConnectionStatus last = statuses.get(statuses.size() - 1);
    assertThat(last.reason().orElseThrow())
        .startsWith("the server is restarting, retrying ")
        .contains("GOING_AWAY (1001)");
  }

  @Test
  void handshakeSendsHelloWithCredentialsThenSubscribesWithTheLocalVector() {
    increment("n");
    session.open(doc);
    session.start();
    assertThat(statuses).extracting(ConnectionStatus::state).containsExactly(State.CONNECTING);
    session.onOpen(gen());
    Hello hello = transport.drain(Hello.class).get(0);
    assertThat(hello.credentials()).contains("token");
    assertThat(hello.replicaId()).isEqualTo(ME);

    session.onMessage(
        gen(), Welcome.of(1, SERVER, HlcTimestamp.of(wall.millis, 0), limits(10, 10), "s"));
    assertThat(statuses.get(statuses.size() - 1).state()).isEqualTo(State.ONLINE);
    Subscribe subscribe = transport.drain(Subscribe.class).get(0);
    assertThat(subscribe.vector().get(ME)).isEqualTo(1);
  }

  // ------------------------------------------------------------------ tokens

  @Test
  void theSupplierIsAskedOncePerConnectAndItsTokenGoesInTheUpgradeAndHello() {
    java.util.concurrent.atomic.AtomicInteger asked =
        new java.util.concurrent.atomic.AtomicInteger();
    tokens = () -> "t" + asked.incrementAndGet();
    online();
    assertThat(transport.credentials).containsExactly("t1");
    assertThat(asked).hasValue(1);

    reconnectAfter(CloseCodes.GOING_AWAY);
    session.onOpen(gen());

    assertThat(transport.credentials).containsExactly("t1", "t2");
    assertThat(transport.drain(Hello.class).get(0).credentials()).contains("t2");
    assertThat(asked).hasValue(2);
  }

  @Test
  void anExpiredTokenReconnectsAtOnceWithAFreshOne() {
    java.util.concurrent.atomic.AtomicInteger asked =
        new java.util.concurrent.atomic.AtomicInteger();
    tokens = () -> "t" + asked.incrementAndGet();
    online();
    long before = gen();

    session.onClosed(gen(), CloseCodes.TOKEN_EXPIRED, "the token expired");
    scheduler.advanceMillis(0);

    assertThat(gen()).isGreaterThan(before);
    assertThat(transport.credentials).containsExactly("t1", "t2");
    assertThat(statuses.get(statuses.size() - 1).state()).isEqualTo(State.CONNECTING);
  }

  @Test
  void anExpiredTokenBeforeWelcomeBacksOffInsteadOfSpinning() {
    session.open(doc);
    session.start();
    session.onOpen(gen());
    long before = gen();

    session.onClosed(gen(), CloseCodes.TOKEN_EXPIRED, "stale token");
    scheduler.advanceMillis(0);

    assertThat(gen()).isEqualTo(before);
    scheduler.advanceMillis(1_000);
    assertThat(gen()).isGreaterThan(before);
  }

  @Test
  void refusedCredentialsStopReconnecting() {
    online();
    long before = gen();

    session.onClosed(gen(), CloseCodes.UNAUTHORIZED, "credentials refused");
    scheduler.advanceMillis(60_000);

    assertThat(gen()).isEqualTo(before);
    ConnectionStatus last = statuses.get(statuses.size() - 1);
    assertThat(last.state()).isEqualTo(State.FAILED);
    assertThat(last.closeCode()).hasValue(CloseCodes.UNAUTHORIZED);
  }

  @Test
  void aForbiddenUpdateFailsTheFlushWithItsCode() throws Exception {
    online();
    increment("n");
    CompletableFuture<Void> flushed = doc.flush();
    Update update = transport.drain(Update.class).get(0);

    session.onMessage(
        gen(),
        ErrorMessage.of(update.requestId(), ErrorCode.FORBIDDEN, "no write right on document d"));

    assertThat(flushed).isCompletedExceptionally();
    assertThatThrownBy(flushed::join)
        .hasCauseInstanceOf(UpdateRejectedException.class)
        .cause()
        .satisfies(e -> assertThat(((UpdateRejectedException) e).code()).isEqualTo(16));
    assertThat(doc.counterValue("n")).isZero();

    // The empty change that retires the refused dots is refused the same way: it must not
    // beget another one (a read-only client would otherwise send UPDATEs forever).
    Update empty = transport.drain(Update.class).get(0);
    assertThat(empty.delta().fields()).isEmpty();
    session.onMessage(
        gen(),
        ErrorMessage.of(empty.requestId(), ErrorCode.FORBIDDEN, "no write right on document d"));
    scheduler.advanceMillis(10_000);

    assertThat(transport.drain(Update.class)).isEmpty();
    assertThat(doc.pendingChanges()).isZero();
  }

  @Test
  void queuedEditsAreCoalescedIntoOneUpdateAndOneAckSettlesThemAll() throws Exception {
    increment("a");
    increment("b");
    increment("a");
    CompletableFuture<Void> flushed = doc.flush();
    online();
    List<Update> updates = transport.drain(Update.class);
    assertThat(updates).hasSize(1);
    assertThat(updates.get(0).delta().context().versionVector().get(ME)).isEqualTo(3);
    assertThat(updates.get(0).delta().fields()).containsOnlyKeys("a", "b");
    assertThat(flushed).isNotDone();

    session.onMessage(gen(), new Ack(updates.get(0).requestId().getAsLong(), "d"));
    assertThat(flushed).isCompleted();
    assertThat(doc.pendingChanges()).isZero();
    assertThat(local.load("d").orElseThrow().outbox()).isEmpty();
  }

  @Test
  void unacknowledgedEditsAreResentAfterAReconnect() {
    online();
    increment("n");
    Update first = transport.drain(Update.class).get(0);
    reconnectAfter(ClientSession.ABNORMAL);
    online();
    Update resent = transport.drain(Update.class).get(0);
    assertThat(resent.delta()).isEqualTo(first.delta());
    session.onMessage(gen(), new Ack(resent.requestId().getAsLong(), "d"));
    assertThat(doc.pendingChanges()).isZero();
  }

  @Test
  void catchUpSendsWhatTheServersVectorLacks() {
    online();
    increment("n");
    Update update = transport.drain(Update.class).get(0);
    session.onMessage(gen(), new Ack(update.requestId().getAsLong(), "d"));
    assertThat(doc.pendingChanges()).isZero();

    // The server comes back without our acknowledged edit (say, restored from an old backup).
    reconnectAfter(CloseCodes.GOING_AWAY);
    online(limits(1000, 1000), VersionVector.empty());
    List<Update> catchUp = transport.drain(Update.class);
    assertThat(catchUp).hasSize(1);
    assertThat(catchUp.get(0).delta().fields()).containsOnlyKeys("n");
    assertThat(catchUp.get(0).delta().context().versionVector().get(ME)).isEqualTo(1);
  }

  @Test
  void nothingIsSentToAServerThatHoldsEverything() {
    online();
    increment("n");
    Update update = transport.drain(Update.class).get(0);
    session.onMessage(gen(), new Ack(update.requestId().getAsLong(), "d"));
    reconnectAfter(CloseCodes.GOING_AWAY);
    online(limits(1000, 1000), doc.versionVector());
    assertThat(transport.drain(Update.class)).isEmpty();
  }

  @Test
  void sendsArePacedByTheServersRateLimit() {
    online(limits(1, 1), VersionVector.empty());
    increment("a");
    assertThat(transport.drain(Update.class)).hasSize(1);
    increment("b");
    assertThat(transport.drain(Update.class)).as("no token left").isEmpty();
    scheduler.advanceMillis(500);
    assertThat(transport.drain(Update.class)).isEmpty();
    scheduler.advanceMillis(500);
    assertThat(transport.drain(Update.class)).hasSize(1);
  }

  @Test
  void updatesInFlightAreBounded() {
    session = session(2);
    online();
    increment("a");
    increment("b");
    increment("c");
    List<Update> sent = transport.drain(Update.class);
    assertThat(sent).hasSize(2);
    session.onMessage(gen(), new Ack(sent.get(0).requestId().getAsLong(), "d"));
    assertThat(transport.drain(Update.class)).hasSize(1);
  }

  @Test
  void refusedCredentialsFailWithTheReasonAndStopRetrying() {
    session.open(doc);
    session.start();
    session.onOpen(gen());
    session.onMessage(
        gen(), ErrorMessage.of(OptionalLong.empty(), ErrorCode.UNAUTHORIZED, "bad token"));
    session.onClosed(gen(), CloseCodes.UNAUTHORIZED, "");
    ConnectionStatus last = statuses.get(statuses.size() - 1);
    assertThat(last.state()).isEqualTo(State.FAILED);
    assertThat(last.closeCode()).hasValue(CloseCodes.UNAUTHORIZED);
    assertThat(last.reason().orElseThrow()).contains("UNAUTHORIZED").contains("bad token");
    // No reconnect is scheduled, and the handshake timeout went with the connection.
    assertThat(scheduler.pending()).isZero();
    scheduler.advanceMillis(60_000);
    assertThat(transport.connects).hasSize(1);
  }

  @Test
  void aHandshakeRefusedWithAPermanentHttpStatusFailsWithThatStatus() {
    session.open(doc);
    session.start();
    session.onHandshakeRefused(gen(), 404, "ws://h:1/wrong");
    ConnectionStatus last = statuses.get(statuses.size() - 1);
    assertThat(last.state()).isEqualTo(State.FAILED);
    assertThat(last.httpStatus()).hasValue(404);
    assertThat(last.reason().orElseThrow()).contains("HTTP 404").contains("ws://h:1/wrong");
    assertThat(scheduler.pending()).isZero();
    scheduler.advanceMillis(60_000);
    assertThat(transport.connects).hasSize(1);
  }

  @Test
  void aHandshakeRefusedWithAnOverloadStatusIsRetried() {
    session.open(doc);
    session.start();
    session.onHandshakeRefused(gen(), 503, "ws://h:1/v1/sync");
    ConnectionStatus last = statuses.get(statuses.size() - 1);
    assertThat(last.state()).isEqualTo(State.CONNECTING);
    assertThat(last.reason().orElseThrow()).contains("HTTP 503");
    scheduler.advanceMillis(60_000);
    assertThat(transport.connects).hasSizeGreaterThan(1);
  }

  @Test
  void aRefusedUpgradesRetryAfterInSecondsDelaysTheNextAttempt() {
    session.open(doc);
    session.start();
    session.onHandshakeRefused(gen(), 503, "ws://h:1/v1/sync", Optional.of(" 7 "));

    scheduler.advanceMillis(6_999);
    assertThat(transport.connects).as("not before Retry-After").hasSize(1);
    scheduler.advanceMillis(1_001); // the backoff (cap 1 s here) is shorter: Retry-After decides
    assertThat(transport.connects).hasSize(2);
    assertThat(statuses)
        .anySatisfy(
            st ->
                assertThat(st.reason())
                    .hasValueSatisfying(r -> assertThat(r).contains("Retry-After 7000 ms")));
  }

  @Test
  void aRetryAfterOfHoursIsCappedAtTenMinutes() {
    session.open(doc);
    session.start();
    session.onHandshakeRefused(gen(), 429, "ws://h:1/v1/sync", Optional.of("86400"));

    scheduler.advanceMillis(599_999);
    assertThat(transport.connects).hasSize(1);
    scheduler.advanceMillis(1);
    assertThat(transport.connects).hasSize(2);
  }

  @Test
  void retryAfterCountsOnlyOn429And503InItsSecondsForm() {
    assertThat(ClientSession.retryAfterMillis(503, Optional.of("2"))).isEqualTo(2_000);
    assertThat(ClientSession.retryAfterMillis(429, Optional.of("0"))).isZero();
    assertThat(ClientSession.retryAfterMillis(502, Optional.of("2"))).as("other status").isZero();
    assertThat(ClientSession.retryAfterMillis(503, Optional.of("Wed, 21 Oct 2026 07:28:00 GMT")))
        .as("an HTTP date: normal backoff")
        .isZero();
    assertThat(ClientSession.retryAfterMillis(503, Optional.of("-5"))).isZero();
    assertThat(ClientSession.retryAfterMillis(503, Optional.of("99999999999999999999"))).isZero();
    assertThat(ClientSession.retryAfterMillis(503, Optional.of("999999999999")))
        .isEqualTo(ClientSession.MAX_RETRY_AFTER_MILLIS);
    assertThat(ClientSession.retryAfterMillis(503, Optional.empty())).isZero();
  }

  @Test
  void withoutRetryAfterTheNormalBackoffApplies() {
    session.open(doc);
    session.start();
    session.onHandshakeRefused(gen(), 503, "ws://h:1/v1/sync", Optional.empty());

    scheduler.advanceMillis(1_000); // the backoff's cap here
    assertThat(transport.connects).hasSize(2);
  }

  @Test
  void onlyTimeoutOverloadAndServerErrorStatusesAreRetryable() {
    assertThat(ClientSession.httpStatusIsRetryable(401)).isFalse();
    assertThat(ClientSession.httpStatusIsRetryable(403)).isFalse();
    assertThat(ClientSession.httpStatusIsRetryable(404)).isFalse();
    assertThat(ClientSession.httpStatusIsRetryable(408)).isTrue();
    assertThat(ClientSession.httpStatusIsRetryable(429)).isTrue();
    assertThat(ClientSession.httpStatusIsRetryable(502)).isTrue();
    assertThat(ClientSession.httpStatusIsRetryable(503)).isTrue();
  }

  @Test
  void syncedCompletesOnTheFirstSyncOnly() {
    var synced = doc.synced();
    assertThat(synced).isNotDone();
    online();
    assertThat(synced).isCompleted();
    // A reconnect syncs again; the future stays as it was.
    session.onClosed(gen(), CloseCodes.GOING_AWAY, "restart");
    assertThat(doc.synced()).isCompleted();
  }

  @Test
  void syncedFailsWhenTheServerRefusesTheDocument() {
    session.open(doc);
    session.start();
    session.onOpen(gen());
    session.onMessage(
        gen(), Welcome.of(1, SERVER, HlcTimestamp.of(wall.millis, 0), limits(10, 10), "s"));
    Subscribe subscribe = transport.drain(Subscribe.class).get(0);
    session.onMessage(
        gen(),
        ErrorMessage.of(
            OptionalLong.of(subscribe.requestId()), ErrorCode.TOO_MANY_DOCUMENTS, "too many"));
    assertThat(doc.synced()).isCompletedExceptionally();
  }

  @Test
  void unsupportedVersionAlsoStopsRetrying() {
    session.open(doc);
    session.start();
    session.onClosed(gen(), CloseCodes.UNSUPPORTED_VERSION, "upgrade");
    scheduler.advanceMillis(60_000);
    assertThat(transport.connects).hasSize(1);
    assertThat(statuses.get(statuses.size() - 1).state()).isEqualTo(State.FAILED);
  }

  @Test
  void retryableClosesReconnectAfterFullJitterDelaysThatResetOnWelcome() {
    Backoff expected =
        new Backoff(Duration.ofMillis(100), Duration.ofMillis(1000), new Random(SEED));
    session.open(doc);
    session.start();
    int[] codes = {
      CloseCodes.TRY_AGAIN_LATER,
      CloseCodes.RATE_LIMITED,
      CloseCodes.SLOW_CONSUMER,
      CloseCodes.GOING_AWAY,
      ClientSession.ABNORMAL
    };
    for (int attempt = 0; attempt < codes.length; attempt++) {
      scheduler.delays.clear();
      session.onClosed(gen(), codes[attempt], "retry me");
      assertThat(statuses.get(statuses.size() - 1).state()).isEqualTo(State.CONNECTING);
      boolean later =
          codes[attempt] == CloseCodes.TRY_AGAIN_LATER || codes[attempt] == CloseCodes.RATE_LIMITED;
      // Asked to come back later, the client waits at least four times the base.
      assertThat(scheduler.delays)
          .containsExactly(
              later ? expected.laterDelayMillis(attempt) : expected.delayMillis(attempt));
      if (later) {
        assertThat(scheduler.delays.get(0)).isGreaterThanOrEqualTo(400);
      }
      scheduler.advanceMillis(1_000);
      assertThat(transport.connects).hasSize(attempt + 2);
    }
    // A WELCOME resets the attempts: the next delay is drawn from [0, base] again.
    session.onOpen(gen());
    session.onMessage(
        gen(), Welcome.of(1, SERVER, HlcTimestamp.of(wall.millis, 0), limits(10, 10), "s"));
    scheduler.delays.clear();
    session.onClosed(gen(), CloseCodes.GOING_AWAY, "restart");
    assertThat(scheduler.delays).containsExactly(expected.delayMillis(0));
  }

  @Test
  void aRefusedEditIsReportedUndoneAndLeavesTheOutbox() {
    online();
    List<UpdateRejectedException> rejected = new ArrayList<>();
    List<ChangeEvent> changes = new ArrayList<>();
    doc.rejectedListeners.add(rejected::add);
    doc.changeListeners.add(changes::add);
    doc.edit("x", d -> d.setRegister(ME, "x", Value.of("v"), clock.now()));
    session.kick();
    CompletableFuture<Void> flushed = doc.flush();
    Update update = transport.drain(Update.class).get(0);

    session.onMessage(
        gen(),
        ErrorMessage.of(
            update.requestId(), ErrorCode.FIELD_TYPE_MISMATCH, "field 'x' is a G_COUNTER"));
    assertThat(rejected).hasSize(1);
    assertThat(rejected.get(0).errorCode()).contains(ErrorCode.FIELD_TYPE_MISMATCH);
    assertThat(rejected.get(0).serverMessage()).isEqualTo("field 'x' is a G_COUNTER");
    assertThat(flushed).isCompletedExceptionally();
    assertThat(doc.registerValue("x")).isEmpty();
    assertThat(changes)
        .extracting(ChangeEvent::origin)
        .containsExactly(ChangeEvent.Origin.LOCAL, ChangeEvent.Origin.REMOTE);

    // Its sequence number stays used: an empty change tells the server so, then all is settled.
    Update empty = transport.drain(Update.class).get(0);
    assertThat(empty.delta().fields()).isEmpty();
    assertThat(empty.delta().context()).isEqualTo(update.delta().context());
    session.onMessage(gen(), new Ack(empty.requestId().getAsLong(), "d"));
    assertThat(doc.pendingChanges()).isZero();
    assertThat(local.load("d").orElseThrow().outbox()).isEmpty();
  }

  @Test
  void counterOverflowIsRefusedLocallyAndAServerRefusalUndoesTheIncrement() {
    online();
    doc.edit("n", d -> d.incrementGCounter(ME, "n", Long.MAX_VALUE - 1));
    assertThatThrownBy(() -> doc.edit("n", d -> d.incrementGCounter(ME, "n", 2)))
        .isInstanceOf(ArithmeticException.class)
        .hasMessageContaining("overflow");
    assertThat(doc.counterValue("n")).isEqualTo(Long.MAX_VALUE - 1);
    assertThat(doc.pendingChanges()).isEqualTo(1);

    // Another replica's increments, not yet seen here, make the server refuse this one.
    List<UpdateRejectedException> rejected = new ArrayList<>();
    doc.rejectedListeners.add(rejected::add);
    session.kick();
    Update update = transport.drain(Update.class).get(0);
    session.onMessage(
        gen(), ErrorMessage.of(update.requestId(), ErrorCode.COUNTER_OVERFLOW, "counter 'n'"));
    assertThat(rejected).hasSize(1);
    assertThat(rejected.get(0).errorCode()).contains(ErrorCode.COUNTER_OVERFLOW);
    assertThat(doc.counterValue("n")).isZero();
    // No retry of the refused increment: only the empty change that keeps its sequence number.
    assertThat(transport.drain(Update.class))
        .singleElement()
        .satisfies(u -> assertThat(u.delta().fields()).isEmpty());
  }

  @Test
  void aRefusedBatchIsRetriedEntryByEntrySoOnlyTheBadOneIsLost() {
    doc.edit("x", d -> d.setRegister(ME, "x", Value.of("bad"), clock.now()));
    doc.edit("ok", d -> d.incrementGCounter(ME, "ok", 1));
    online();
    Update batch = transport.drain(Update.class).get(0);
    assertThat(batch.delta().fields()).containsOnlyKeys("x", "ok");
    session.onMessage(
        gen(), ErrorMessage.of(batch.requestId(), ErrorCode.FIELD_TYPE_MISMATCH, "x"));

    List<Update> solo = transport.drain(Update.class);
    assertThat(solo).hasSize(2);
    assertThat(solo.get(0).delta().fields()).containsOnlyKeys("x");
    assertThat(solo.get(1).delta().fields()).containsOnlyKeys("ok");
    session.onMessage(
        gen(), ErrorMessage.of(solo.get(0).requestId(), ErrorCode.FIELD_TYPE_MISMATCH, "x"));
    session.onMessage(gen(), new Ack(solo.get(1).requestId().getAsLong(), "d"));
    assertThat(doc.counterValue("ok")).isEqualTo(1);
    assertThat(doc.registerValue("x")).isEmpty();
  }

  @Test
  void aRetryableErrorKeepsTheEditAndRetriesAfterABackoff() {
    online();
    increment("n");
    Update update = transport.drain(Update.class).get(0);
    session.onMessage(gen(), ErrorMessage.of(update.requestId(), ErrorCode.RATE_LIMITED, "slow"));
    assertThat(doc.pendingChanges()).isEqualTo(1);
    scheduler.advanceMillis(101);
    Update retried = transport.drain(Update.class).get(0);
    assertThat(retried.delta()).isEqualTo(update.delta());
  }

  private Map<String, Long> limitsWithDrift(long driftMillis) {
    Map<String, Long> limits = new java.util.HashMap<>(limits(1000, 1000));
    limits.put(Welcome.LIMIT_MAX_CLOCK_DRIFT_MILLIS, driftMillis);
    return limits;
  }

  @Test
  void anUpdateRefusedForClockDriftIsHeldUntilTheServersClockCatchesUpNotDropped() {
    online(limitsWithDrift(500), VersionVector.empty());
    List<UpdateRejectedException> rejected = new ArrayList<>();
    doc.rejectedListeners.add(rejected::add);
    // Stamped 2 s ahead (written offline on a fast clock, say): 1.5 s beyond the server's bound.
    doc.edit(
        "x", d -> d.setRegister(ME, "x", Value.of("v"), HlcTimestamp.of(wall.millis + 2000, 0)));
    session.kick();
    Update update = transport.drain(Update.class).get(0);

    session.onMessage(gen(), ErrorMessage.of(update.requestId(), ErrorCode.CLOCK_DRIFT, "ahead"));

    assertThat(rejected).isEmpty();
    assertThat(doc.registerValue("x")).contains(Value.of("v"));
    scheduler.advanceMillis(1_400);
    assertThat(transport.drain(Update.class))
        .as("not before the server's clock is there")
        .isEmpty();
    scheduler.advanceMillis(200);
    List<Update> retried = transport.drain(Update.class);
    assertThat(retried).hasSize(1);
    assertThat(retried.get(0).delta()).isEqualTo(update.delta());
  }

  @Test
  void anUpdateFurtherAheadThanTheClientsOwnBoundIsStillRefusedForGood() {
    online(limitsWithDrift(500), VersionVector.empty());
    List<UpdateRejectedException> rejected = new ArrayList<>();
    doc.rejectedListeners.add(rejected::add);
    doc.edit(
        "x",
        d -> d.setRegister(ME, "x", Value.of("v"), HlcTimestamp.of(wall.millis + 10 * 60_000L, 0)));
    session.kick();
    Update update = transport.drain(Update.class).get(0);

    session.onMessage(gen(), ErrorMessage.of(update.requestId(), ErrorCode.CLOCK_DRIFT, "ahead"));

    assertThat(rejected)
        .extracting(e -> e.errorCode().orElseThrow())
        .containsExactly(ErrorCode.CLOCK_DRIFT);
    assertThat(doc.registerValue("x")).isEmpty();
  }

  @Test
  void theClockIsCorrectedByTheSmallestRoundTripSample() {
    // This machine's wall clock is ten minutes behind the server's.
    long serverAhead = Duration.ofMinutes(10).toMillis();
    session.open(doc);
    session.start();
    session.onOpen(gen());
    transport.drain(Hello.class);
    scheduler.advanceMillis(200);
    wall.millis += 200;
    // WELCOME after a 200 ms round trip, stamped at the server's midpoint.
    session.onMessage(
        gen(),
        Welcome.of(
            1, SERVER, HlcTimestamp.of(wall.millis - 100 + serverAhead, 0), limits(10, 10), "s"));
    assertThat(clockSync.offsetMillis()).isEqualTo(serverAhead);
    assertThat(clock.now().physicalMillis()).isEqualTo(wall.millis + serverAhead);

    // A PING answered in 10 ms says the offset is 5 ms more: better sample, taken.
    Ping ping = pingAfter(10_000);
    wall.millis += 10;
    scheduler.advanceMillis(10);
    session.onMessage(
        gen(), new Pong(ping.nonce(), HlcTimestamp.of(wall.millis - 5 + serverAhead + 5, 0)));
    assertThat(clockSync.offsetMillis()).isEqualTo(serverAhead + 5);

    // One answered in 100 ms with a wild offset: worse sample, ignored.
    Ping slow = pingAfter(10_000);
    wall.millis += 100;
    scheduler.advanceMillis(100);
    session.onMessage(
        gen(), new Pong(slow.nonce(), HlcTimestamp.of(wall.millis + serverAhead + 900, 0)));
    assertThat(clockSync.offsetMillis()).isEqualTo(serverAhead + 5);
  }

  private Ping pingAfter(long millis) {
    transport.drain(Ping.class);
    wall.millis += millis;
    scheduler.advanceMillis(millis);
    List<Ping> pings = transport.drain(Ping.class);
    assertThat(pings).isNotEmpty();
    return pings.get(pings.size() - 1);
  }

  @Test
  void answersTheServersPingWithItsNonce() {
    online();
    session.onMessage(gen(), new Ping(77, HlcTimestamp.of(wall.millis, 0)));
    assertThat(transport.drain(Pong.class)).extracting(Pong::nonce).containsExactly(77L);
  }

  @Test
  void presenceIsSentRenewedAndOthersAreFollowed() {
    online();
    doc.setMyPresence(Optional.of(Value.of("cursor 5")));
    session.presenceChanged("d");
    Presence mine = transport.drain(Presence.class).get(0);
    assertThat(mine.ttlMillis()).isEqualTo(10_000);
    assertThat(mine.value()).contains(Value.of("cursor 5"));
    scheduler.advanceMillis(5_000);
    assertThat(transport.drain(Presence.class)).as("renewed at half the TTL").hasSize(1);

    List<PresenceEvent> events = new ArrayList<>();
    doc.presenceListeners.add(events::add);
    session.onMessage(gen(), new Presence("d", OTHER, 10_000, Optional.of(Value.of(1))));
    session.onMessage(gen(), new Presence("d", OTHER, 10_000, Optional.of(Value.of(2))));
    assertThat(doc.others()).containsEntry(OTHER, Value.of(2));
    session.onClosed(gen(), ClientSession.ABNORMAL, "cut");
    assertThat(doc.others()).isEmpty();
    assertThat(events)
        .extracting(PresenceEvent::kind)
        .containsExactly(
            PresenceEvent.Kind.JOIN, PresenceEvent.Kind.UPDATE, PresenceEvent.Kind.LEAVE);

    // After the reconnect the presence is announced again.
    scheduler.advanceMillis(1_000);
    transport.sent.clear();
    online();
    assertThat(transport.drain(Presence.class)).hasSize(1);
  }

  @Test
  void closeSendsNothingMoreAndClosesWithNormal() {
    online();
    session.close();
    increment("n");
    assertThat(transport.closes).containsExactly(CloseCodes.NORMAL);
    assertThat(transport.drain(Update.class)).isEmpty();
    assertThat(statuses.get(statuses.size() - 1).state()).isEqualTo(State.OFFLINE);
  }

  @Test
  void aConnectionThatAnswersNoPingIsDroppedAndReplaced() {
    online();
    // The idle timeout of 30 s gives a PING every 10 s; none is answered.
    scheduler.advanceMillis(10_000);
    assertThat(transport.drain(Ping.class)).hasSize(1);
    scheduler.advanceMillis(20_000);
    assertThat(transport.closes).hasSize(0);
    scheduler.advanceMillis(10_000);
    assertThat(transport.closes).hasSize(1);
    ConnectionStatus last = statuses.get(statuses.size() - 1);
    assertThat(last.state()).isEqualTo(State.CONNECTING);
    assertThat(last.reason().orElseThrow()).contains("no PONG");
    scheduler.advanceMillis(1_000);
    assertThat(transport.connects).hasSize(2);
  }

  @Test
  void aServerThatNeverAnswersHelloIsDroppedAndReplaced() {
    // A server that died silently after the socket opened: no WELCOME, no close, and no PINGs
    // yet to notice it by (found by SyncSimulationProperties in property-tests).
    session.open(doc);
    session.start();
    session.onOpen(gen());
    assertThat(transport.drain(Hello.class)).hasSize(1);
    scheduler.advanceMillis(29_999);
    assertThat(transport.closes).isEmpty();
    scheduler.advanceMillis(1);
    assertThat(transport.closes).containsExactly(CloseCodes.GOING_AWAY);
    ConnectionStatus last = statuses.get(statuses.size() - 1);
    assertThat(last.state()).isEqualTo(State.CONNECTING);
    assertThat(last.reason().orElseThrow()).contains("no WELCOME");
    scheduler.advanceMillis(1_000);
    assertThat(transport.connects).hasSize(2);
  }

  @Test
  void answeredPingsKeepTheConnection() {
    online();
    for (int i = 0; i < 5; i++) {
      Ping ping = pingAfter(10_000);
      session.onMessage(gen(), new Pong(ping.nonce(), HlcTimestamp.of(wall.millis, 0)));
    }
    assertThat(transport.closes).isEmpty();
    assertThat(transport.connects).hasSize(1);
  }

  @Test
  void aCatchUpLargerThanAFrameIsSplitIntoFramesThatTogetherCarryItAll() {
    Map<String, Long> smallFrames = new java.util.HashMap<>(limits(1000, 1000));
    smallFrames.put(Welcome.LIMIT_MAX_FRAME_BYTES, 300L);
    online(smallFrames, VersionVector.empty());
    for (int i = 0; i < 20; i++) {
      int n = i;
      doc.edit(
          "field-" + i,
          d -> d.setRegister(ME, "field-" + n, Value.of("v".repeat(40)), clock.now()));
      session.kick();
      for (Update u : transport.drain(Update.class)) {
        session.onMessage(gen(), new Ack(u.requestId().getAsLong(), "d"));
      }
    }
    assertThat(doc.pendingChanges()).isZero();

    reconnectAfter(CloseCodes.GOING_AWAY);
    online(smallFrames, VersionVector.empty());
    dev.lattice.protocol.MessageCodec codec = dev.lattice.protocol.MessageCodec.defaults();
    DocumentDelta whole = doc.catchUp(VersionVector.empty());
    DocumentDelta joined = DocumentDelta.empty();
    int parts = 0;
    long next = 1;
    // Acknowledge whatever is sent, round after round (the in-flight bound holds some back),
    // until nothing more comes.
    for (List<Update> round = transport.drain(Update.class);
        !round.isEmpty();
        round = transport.drain(Update.class)) {
      for (Update piece : round) {
        assertThat(codec.encode(piece).length).isLessThanOrEqualTo(300);
        // The server takes a replica's new dots only in order and without a gap: each part
        // claims the next run of sequences, no more.
        List<dev.lattice.crdt.DotRange> ranges = piece.delta().context().ranges();
        assertThat(ranges).hasSize(1);
        assertThat(ranges.get(0).replica()).isEqualTo(ME);
        assertThat(ranges.get(0).first()).isEqualTo(next);
        next = ranges.get(0).last() + 1;
        joined = joined.join(piece.delta());
        parts++;
        session.onMessage(gen(), new Ack(piece.requestId().getAsLong(), "d"));
      }
      scheduler.advanceMillis(1_000); // refill the rate bucket, fire the pump timer
      session.kick();
    }
    assertThat(parts).isGreaterThan(1);
    assertThat(joined).isEqualTo(whole);
  }

  @Test
  void tenThousandOfflineEditsOfTwoFieldsGoUpAsOneUpdateWithExactTotals() {
    for (int i = 0; i < 10_000; i++) {
      doc.edit("a", d -> d.incrementGCounter(ME, "a", 1));
      doc.edit("b", d -> d.incrementGCounter(ME, "b", 2));
    }
    online(limits(5, 5), VersionVector.empty());
    List<Update> sent = transport.drain(Update.class);
    assertThat(sent).as("per-field coalescing: one UPDATE, not 80 of 256 entries").hasSize(1);
    Document server = Document.create("d");
    server.merge(sent.get(0).delta());
    assertThat(server.counterValue("a")).isEqualTo(10_000);
    assertThat(server.counterValue("b")).isEqualTo(20_000);
    assertThat(server.versionVector().get(ME)).isEqualTo(20_000);

    java.util.concurrent.CompletableFuture<Void> flushed = doc.flush();
    assertThat(flushed).isNotDone();
    session.onMessage(gen(), new Ack(sent.get(0).requestId().getAsLong(), "d"));
    assertThat(flushed).as("the joined update's ACK covers every edit").isCompleted();
    assertThat(doc.pendingChanges()).isZero();
  }
}

package dev.lattice.server.session;

import static org.assertj.core.api.Assertions.assertThat;

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
import dev.lattice.protocol.Presence;
import dev.lattice.protocol.Subscribe;
import dev.lattice.protocol.Sync;
import dev.lattice.protocol.Update;
import dev.lattice.protocol.Welcome;
import dev.lattice.server.auth.ReplicaOwners;
import dev.lattice.server.hub.Hub;
import dev.lattice.server.spi.Access;
import dev.lattice.server.spi.AuthResult;
import dev.lattice.server.spi.Authenticator;
import dev.lattice.server.spi.Authorizer;
import dev.lattice.server.spi.DocumentRights;
import dev.lattice.server.spi.Principal;
import dev.lattice.server.spi.SessionConfig;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** The session's authentication (HELLO or upgrade), rights on every message, and token expiry. */
class ServerSessionAuthTest {

  private static final ReplicaId CLIENT = ReplicaId.of(0xa1b2c3d4e5f60718L);
  private static final MessageCodec CODEC = MessageCodec.defaults();
  private static final Instant EPOCH = Instant.ofEpochSecond(1_700_000_000L);

  private final ManualTime time = new ManualTime();
  private final Clock wall =
      new Clock() {
        @Override
        public ZoneId getZone() {
          return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
          return this;
        }

        @Override
        public Instant instant() {
          return EPOCH.plusNanos(time.getAsLong());
        }
      };
  private final HybridLogicalClock clock =
      new HybridLogicalClock(() -> wall.millis(), Duration.ofSeconds(60));
  private final FakeHub hub = new FakeHub();
  private final RecordingTransport transport = new RecordingTransport();
  private ServerSession session;

  private void open(
      Consumer<SessionFactory.Builder> customize, CompletionStage<AuthResult> upgrade) {
    SessionFactory.Builder builder =
        SessionFactory.builder()
            .hub(hub)
            .clock(clock)
            .serverId(ReplicaId.of(0x0b))
            .nanoTime(time)
            .wallClock(wall)
            .scheduler(time);
    customize.accept(builder);
    session = builder.build().open(transport, upgrade);
  }

  /** A server whose authenticator grants {@code principal} to every token. */
  private void openGranting(Principal principal) {
    open(b -> b.authenticator(Authenticator.of(t -> AuthResult.granted(principal))), null);
  }

  private void feed(Message message) {
    session.onFrame(CODEC.encode(message));
  }

  private void handshake() {
    feed(Hello.of(CLIENT, "token", "test/1"));
    assertThat(transport.drain()).singleElement().isInstanceOf(Welcome.class);
  }

  private void subscribe(long requestId, String documentId) {
    feed(new Subscribe(requestId, documentId, VersionVector.empty()));
    hub.subscribes
        .get(hub.subscribes.size() - 1)
        .future()
        .complete(new Hub.SyncResult(DocumentDelta.empty(), VersionVector.empty()));
    assertThat(transport.drain()).singleElement().isInstanceOf(Sync.class);
  }

  private static void assertError(Message m, OptionalLong requestId, ErrorCode code) {
    assertThat(m).isInstanceOf(ErrorMessage.class);
    ErrorMessage e = (ErrorMessage) m;
    assertThat(e.requestId()).isEqualTo(requestId);
    assertThat(e.errorCode()).contains(code);
  }

  private static Principal reader(String... patterns) {
    return Principal.of("reader").withRights(DocumentRights.of(List.of(patterns), List.of()));
  }

  // ------------------------------------------------------------------ authentication

  @Test
  void aPendingCheckHoldsHelloAndLaterFramesUntilItCompletes() {
    CompletableFuture<AuthResult> pending = new CompletableFuture<>();
    open(b -> b.authenticator(token -> pending), null);
    feed(Hello.of(CLIENT, "token", "test/1"));
    feed(new Subscribe(1, "doc", VersionVector.empty()));

    assertThat(transport.drain()).isEmpty();
    assertThat(transport.readingChanges).containsExactly(true);
    assertThat(hub.calls()).isZero();

    pending.complete(AuthResult.granted(Principal.of("alice")));

    assertThat(transport.drain()).singleElement().isInstanceOf(Welcome.class);
    assertThat(transport.readingChanges).containsExactly(true, false);
    assertThat(hub.subscribes).hasSize(1);
    assertThat(session.principal().subject()).isEqualTo("alice");
  }

  @Test
  void aPendingCheckThatFailsRefusesAndTheHeldFramesNeverReachTheHub() {
    CompletableFuture<AuthResult> pending = new CompletableFuture<>();
    open(b -> b.authenticator(token -> pending), null);
    feed(Hello.of(CLIENT, "token", "test/1"));
    feed(new Subscribe(1, "doc", VersionVector.empty()));

    pending.completeExceptionally(new IllegalStateException("introspection endpoint down"));

    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(1);
    assertError(sent.get(0), OptionalLong.empty(), ErrorCode.UNAUTHORIZED);
    assertThat(transport.closeCode).isEqualTo(CloseCodes.UNAUTHORIZED);
    assertThat(hub.calls()).isZero();
  }

  @Test
  void anAuthenticatorThatThrowsRefuses() {
    open(
        b ->
            b.authenticator(
                token -> {
                  throw new IllegalStateException("boom");
                }),
        null);
    feed(Hello.of(CLIENT, "token", "test/1"));

    assertError(transport.drain().get(0), OptionalLong.empty(), ErrorCode.UNAUTHORIZED);
    assertThat(transport.closeCode).isEqualTo(CloseCodes.UNAUTHORIZED);
  }

  @Test
  void theUpgradeTokenDecidesInsteadOfHelloCredentials() {
    open(
        b -> b.authenticator(Authenticator.of(t -> AuthResult.refused("never asked"))),
        CompletableFuture.completedFuture(AuthResult.granted(Principal.of("bob"))));
    feed(Hello.of(CLIENT, null, "test/1"));

    assertThat(transport.drain()).singleElement().isInstanceOf(Welcome.class);
    assertThat(session.principal().subject()).isEqualTo("bob");
  }

  @Test
  void aRefusedUpgradeTokenStillPendingAtHelloRefusesHello() {
    CompletableFuture<AuthResult> upgrade = new CompletableFuture<>();
    open(b -> b.authenticator(Authenticator.allowAll()), upgrade);
    feed(Hello.of(CLIENT, "ignored", "test/1"));
    assertThat(transport.drain()).isEmpty();

    upgrade.complete(AuthResult.refused("expired"));

    assertError(transport.drain().get(0), OptionalLong.empty(), ErrorCode.UNAUTHORIZED);
    assertThat(transport.closeCode).isEqualTo(CloseCodes.UNAUTHORIZED);
  }

  // ------------------------------------------------------------------ rights

  @Test
  void subscribeWithoutReadRightIsForbiddenAndTheHubNeverSeesIt() {
    openGranting(reader("pub/*"));
    handshake();

    feed(new Subscribe(1, "secret", VersionVector.empty()));

    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(1);
    assertError(sent.get(0), OptionalLong.of(1), ErrorCode.FORBIDDEN);
    assertThat(hub.subscribes).isEmpty();
    assertThat(transport.closed()).isFalse();
    subscribe(2, "pub/a");
  }

  @Test
  void aReadOnlySubscribersUpdateIsForbiddenAndMergedNowhere() {
    openGranting(reader("pub/*"));
    handshake();
    subscribe(1, "pub/a");

    feed(
        Update.request(
            2,
            "pub/a",
            dev.lattice.crdt.Document.create("pub/a").incrementGCounter(CLIENT, "n", 1)));

    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(1);
    assertError(sent.get(0), OptionalLong.of(2), ErrorCode.FORBIDDEN);
    assertThat(hub.updates).isEmpty();
    assertThat(transport.closed()).isFalse();
  }

  @Test
  void aReadOnlySubscribersUpdateOwnIsForbiddenToo() {
    openGranting(reader("pub/*"));
    handshake(); // Hello.of offers version 2
    feed(Subscribe.withAlias(1, "pub/a", VersionVector.empty(), 0));
    hub.subscribes
        .get(0)
        .future()
        .complete(new Hub.SyncResult(DocumentDelta.empty(), VersionVector.empty()));
    assertThat(transport.drain()).singleElement().isInstanceOf(Sync.class);

    feed(
        new dev.lattice.protocol.OwnUpdate(
            2, 0, 1, "g", new dev.lattice.protocol.OwnUpdate.GCount(1)));

    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(1);
    assertError(sent.get(0), OptionalLong.of(2), ErrorCode.FORBIDDEN);
    assertThat(hub.updates).isEmpty();
  }

  @Test
  void rightsAreAskedOnEveryMessageNotOnlyAtConnect() {
    AtomicReference<Access> access = new AtomicReference<>(Access.WRITE);
    open(
        b ->
            b.authenticator(Authenticator.allowAll())
                .authorizer((principal, documentId) -> access.get()),
        null);
    handshake();
    subscribe(1, "doc");
    feed(Update.request(2, "doc", DocumentDelta.empty()));
    hub.updates.get(0).future().complete(null);
    assertThat(transport.drain()).singleElement().isInstanceOf(Ack.class);

    access.set(Access.READ);
    feed(Update.request(3, "doc", DocumentDelta.empty()));
    assertError(transport.drain().get(0), OptionalLong.of(3), ErrorCode.FORBIDDEN);
    feed(new Presence("doc", CLIENT, 1_000, Optional.of(Value.of("here"))));
    assertThat(hub.presences).hasSize(1);

    access.set(Access.NONE);
    feed(new Presence("doc", CLIENT, 1_000, Optional.of(Value.of("still here"))));
    assertError(transport.drain().get(0), OptionalLong.empty(), ErrorCode.FORBIDDEN);
    assertThat(hub.presences).hasSize(1);
    assertThat(hub.updates).hasSize(1);
  }

  @Test
  void anAuthorizerThatThrowsGrantsNothing() {
    open(
        b ->
            b.authorizer(
                (principal, documentId) -> {
                  throw new IllegalStateException("policy store down");
                }),
        null);
    handshake();
    feed(new Subscribe(1, "doc", VersionVector.empty()));

    assertError(transport.drain().get(0), OptionalLong.of(1), ErrorCode.FORBIDDEN);
    assertThat(hub.subscribes).isEmpty();
  }

  // ------------------------------------------------------------------ expiry

  @Test
  void aTokenThatExpiresMidSessionEndsItWith4007() {
    openGranting(Principal.of("alice").expiringAt(EPOCH.plusSeconds(60)));
    handshake();
    subscribe(1, "doc");

    time.advance(Duration.ofSeconds(29)); // idle PING at 15 s; keep the session otherwise quiet
    feed(new dev.lattice.protocol.Ping(1, clock.now()));
    time.advance(Duration.ofSeconds(25));
    transport.drain();
    assertThat(transport.closed()).isFalse();

    time.advance(Duration.ofSeconds(6));

    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(1);
    assertError(sent.get(0), OptionalLong.empty(), ErrorCode.TOKEN_EXPIRED);
    assertThat(transport.closeCode).isEqualTo(CloseCodes.TOKEN_EXPIRED);
    assertThat(hub.disconnects).hasSize(1);
    assertThat(time.pendingTimers()).isZero();
  }

  @Test
  void anExpiredPrincipalIsRefusedAtHelloWith4007() {
    openGranting(Principal.of("alice").expiringAt(EPOCH));
    feed(Hello.of(CLIENT, "token", "test/1"));

    assertError(transport.drain().get(0), OptionalLong.empty(), ErrorCode.TOKEN_EXPIRED);
    assertThat(transport.closeCode).isEqualTo(CloseCodes.TOKEN_EXPIRED);
    assertThat(hub.calls()).isZero();
  }

  @Test
  void anExpiryCenturiesAwayNeitherOverflowsNorFires() {
    openGranting(Principal.of("alice").expiringAt(java.time.Instant.MAX));
    handshake();

    time.advance(Duration.ofDays(3));

    assertThat(transport.closeCode).isNotEqualTo(CloseCodes.TOKEN_EXPIRED);
  }

  @Test
  void closingCancelsTheExpiryTimer() {
    openGranting(Principal.of("alice").expiringAt(EPOCH.plusSeconds(3600)));
    handshake();
    session.onClosed();

    assertThat(time.pendingTimers()).isZero();
  }

  // ------------------------------------------------------------------ revoked rights

  @Test
  void aRevokedReadRightEndsTheSubscriptionAtTheNextRecheck() {
    java.util.Set<String> readable = java.util.concurrent.ConcurrentHashMap.newKeySet();
    readable.addAll(List.of("doc", "other"));
    open(
        b ->
            b.authenticator(Authenticator.of(t -> AuthResult.granted(Principal.of("alice"))))
                .authorizer(
                    (principal, documentId) ->
                        readable.contains(documentId) ? Access.READ : Access.NONE)
                .config(
                    SessionConfig.builder()
                        .idleTimeout(Duration.ofHours(1))
                        .rightsRecheckInterval(Duration.ofSeconds(10))
                        .build()),
        null);
    handshake();
    subscribe(1, "doc");
    subscribe(2, "other");

    time.advance(Duration.ofSeconds(10));
    assertThat(transport.drain()).isEmpty();
    assertThat(hub.unsubscribes).isEmpty();

    readable.remove("doc");
    time.advance(Duration.ofSeconds(10));

    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(1);
    assertError(sent.get(0), OptionalLong.empty(), ErrorCode.FORBIDDEN);
    assertThat(((ErrorMessage) sent.get(0)).message()).contains("doc");
    assertThat(hub.unsubscribes).containsExactly("doc");
    assertThat(transport.closed()).isFalse();
    // Fan-out of the revoked document no longer reaches the client; the other document's does.
    session.send(Update.fanOut("doc", DocumentDelta.empty()));
    session.send(Update.fanOut("other", DocumentDelta.empty()));
    assertThat(transport.drain())
        .singleElement()
        .satisfies(m -> assertThat(((Update) m).documentId()).isEqualTo("other"));

    readable.clear();
    time.advance(Duration.ofSeconds(10));
    assertError(transport.drain().get(0), OptionalLong.empty(), ErrorCode.FORBIDDEN);
    assertThat(hub.unsubscribes).containsExactly("doc", "other");
    // No subscription left: the recheck is not armed again, only the idle timer remains.
    assertThat(time.pendingTimers()).isEqualTo(1);
  }

  @Test
  void rightsThatDependOnlyOnThePrincipalAreNotRechecked() {
    open(
        b ->
            b.authenticator(Authenticator.of(t -> AuthResult.granted(Principal.of("alice"))))
                .authorizer(Authorizer.byPrincipalRights())
                .config(
                    SessionConfig.builder()
                        .idleTimeout(Duration.ofHours(1))
                        .rightsRecheckInterval(Duration.ofSeconds(10))
                        .build()),
        null);
    handshake();
    subscribe(1, "doc");

    // Only the idle timer: a recheck could never change these rights, and a timer per subscribed
    // connection is memory and wake-ups on every idle one.
    assertThat(time.pendingTimers()).isEqualTo(1);
    time.advance(Duration.ofSeconds(30));
    assertThat(transport.drain()).isEmpty();
    assertThat(hub.unsubscribes).isEmpty();
  }

  // ------------------------------------------------------------------ replica ownership

  /** A session of {@code subject} on its own transport, sharing {@code owners}. */
  private RecordingTransport helloAs(String subject, ReplicaOwners owners) {
    RecordingTransport own = new RecordingTransport();
    SessionFactory.builder()
        .hub(hub)
        .clock(clock)
        .serverId(ReplicaId.of(0x0b))
        .nanoTime(time)
        .wallClock(wall)
        .scheduler(time)
        .authenticator(Authenticator.of(t -> AuthResult.granted(Principal.of(subject))))
        .replicaOwners(owners)
        .build()
        .open(own)
        .onFrame(CODEC.encode(Hello.of(CLIENT, "token", "test/1")));
    return own;
  }

  @Test
  void aSubjectNamingAReplicaIdAnotherSubjectOwnsIsRefusedWith4008() {
    ReplicaOwners owners = ReplicaOwners.inMemory();
    RecordingTransport alice = helloAs("alice", owners);
    assertThat(alice.drain()).singleElement().isInstanceOf(Welcome.class);

    RecordingTransport mallory = helloAs("mallory", owners);

    List<Message> sent = mallory.drain();
    assertThat(sent).hasSize(1);
    assertError(sent.get(0), OptionalLong.empty(), ErrorCode.REPLICA_OWNED);
    // The refusal does not name the owner: that is another user's name.
    assertThat(((ErrorMessage) sent.get(0)).message()).doesNotContain("alice");
    assertThat(mallory.closeCode).isEqualTo(CloseCodes.REPLICA_OWNED);
    assertThat(hub.calls()).isZero();
    // The owner keeps its replica, on any later connection.
    assertThat(helloAs("alice", owners).drain()).singleElement().isInstanceOf(Welcome.class);
  }

  @Test
  void aPendingClaimHoldsHelloAndLaterFramesUntilItCompletes() {
    CompletableFuture<String> claim = new CompletableFuture<>();
    open(
        b ->
            b.authenticator(Authenticator.of(t -> AuthResult.granted(Principal.of("alice"))))
                .replicaOwners((replica, subject) -> claim),
        null);
    feed(Hello.of(CLIENT, "token", "test/1"));
    feed(new Subscribe(1, "doc", VersionVector.empty()));
    assertThat(transport.drain()).isEmpty();
    assertThat(hub.calls()).isZero();

    claim.complete("alice");

    assertThat(transport.drain()).singleElement().isInstanceOf(Welcome.class);
    assertThat(hub.subscribes).hasSize(1);
    assertThat(transport.readingChanges).containsExactly(true, false);
  }

  @Test
  void aClaimThatFailsRefusesHelloAsInternalSoTheClientRetries() {
    open(
        b ->
            b.authenticator(Authenticator.of(t -> AuthResult.granted(Principal.of("alice"))))
                .replicaOwners(
                    (replica, subject) ->
                        CompletableFuture.failedFuture(new IllegalStateException("store down"))),
        null);
    feed(Hello.of(CLIENT, "token", "test/1"));

    List<Message> sent = transport.drain();
    assertError(sent.get(0), OptionalLong.empty(), ErrorCode.INTERNAL);
    assertThat(((ErrorMessage) sent.get(0)).message()).doesNotContain("store down");
    assertThat(transport.closeCode).isEqualTo(CloseCodes.INTERNAL_ERROR);
    assertThat(hub.calls()).isZero();
  }

  @Test
  void withoutAuthenticationNoReplicaIsBound() {
    open(
        b ->
            b.replicaOwners(
                (replica, subject) -> {
                  throw new AssertionError("asked for " + subject);
                }),
        null);
    feed(Hello.of(CLIENT, null, "test/1"));

    assertThat(transport.drain()).singleElement().isInstanceOf(Welcome.class);
  }
}

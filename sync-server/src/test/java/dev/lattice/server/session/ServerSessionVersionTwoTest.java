package dev.lattice.server.session;

import static org.assertj.core.api.Assertions.assertThat;

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
import dev.lattice.protocol.OwnUpdate;
import dev.lattice.protocol.Subscribe;
import dev.lattice.protocol.Sync;
import dev.lattice.protocol.Unsubscribe;
import dev.lattice.protocol.Update;
import dev.lattice.protocol.Welcome;
import dev.lattice.server.hub.Hub;
import dev.lattice.server.hub.HubException;
import dev.lattice.server.spi.SessionConfig;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/** Protocol version 2 in the session: negotiation, document aliases and UPDATE_OWN. */
class ServerSessionVersionTwoTest {

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

  private void open(SessionConfig config) {
    session =
        SessionFactory.builder()
            .hub(hub)
            .clock(clock)
            .serverId(SERVER)
            .nanoTime(time)
            .scheduler(time)
            .config(config)
            .build()
            .open(transport);
  }

  private void feed(Message message) {
    session.onFrame(CODEC.encode(message));
  }

  private int handshake(int minVersion, int maxVersion) {
    feed(new Hello(minVersion, maxVersion, CLIENT, Optional.empty(), Optional.empty()));
    List<Message> sent = transport.drain();
    assertThat(sent).singleElement().isInstanceOf(Welcome.class);
    return ((Welcome) sent.get(0)).version();
  }

  private void openV2() {
    open(SessionConfig.defaults());
    assertThat(handshake(1, 2)).isEqualTo(2);
  }

  private void subscribe(long requestId, String documentId, int alias) {
    feed(Subscribe.withAlias(requestId, documentId, VersionVector.empty(), alias));
    completeLastSubscribe();
    assertThat(transport.drain()).singleElement().isInstanceOf(Sync.class);
  }

  private void completeLastSubscribe() {
    hub.subscribes
        .get(hub.subscribes.size() - 1)
        .future()
        .complete(new Hub.SyncResult(DocumentDelta.empty(), VersionVector.empty()));
  }

  private static void assertError(Message m, OptionalLong requestId, ErrorCode code) {
    assertThat(m).isInstanceOf(ErrorMessage.class);
    ErrorMessage e = (ErrorMessage) m;
    assertThat(e.requestId()).isEqualTo(requestId);
    assertThat(e.errorCode()).contains(code);
  }

  // ------------------------------------------------------------------ negotiation

  @Test
  void aVersionOneClientGetsVersionOneAVersionTwoClientVersionTwo() {
    open(SessionConfig.defaults());
    assertThat(handshake(1, 1)).isEqualTo(1);
    ServerSession first = session;
    open(SessionConfig.defaults());
    assertThat(session).isNotSameAs(first);
    assertThat(handshake(1, 2)).isEqualTo(2);
    open(SessionConfig.defaults());
    assertThat(handshake(2, 7)).isEqualTo(2);
  }

  @Test
  void aServerLimitedToVersionOneOffersVersionOne() {
    open(SessionConfig.builder().maxProtocolVersion(1).build());
    assertThat(handshake(1, 2)).isEqualTo(1);

    open(SessionConfig.builder().maxProtocolVersion(1).build());
    feed(new Hello(2, 2, CLIENT, Optional.empty(), Optional.empty()));
    List<Message> sent = transport.drain();
    assertError(sent.get(sent.size() - 1), OptionalLong.empty(), ErrorCode.UNSUPPORTED_VERSION);
    assertThat(((ErrorMessage) sent.get(sent.size() - 1)).message()).contains("1 to 1");
    assertThat(transport.closeCode).isEqualTo(CloseCodes.UNSUPPORTED_VERSION);
  }

  @Test
  void aVersionOneSessionRefusesUpdateOwnAndIgnoresAliases() {
    open(SessionConfig.defaults());
    assertThat(handshake(1, 1)).isEqualTo(1);
    // The alias is an ignored trailing field in version 1...
    subscribe(1, "d", 0);
    // ...so no UPDATE_OWN can name the document, and version 1 has no such message anyway.
    feed(new OwnUpdate(2, 0, 1, "g", new OwnUpdate.GCount(1)));
    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(1);
    assertError(sent.get(0), OptionalLong.empty(), ErrorCode.MALFORMED_MESSAGE);
    assertThat(((ErrorMessage) sent.get(0)).message()).contains("needs protocol version 2");
    assertThat(transport.closeCode).isEqualTo(CloseCodes.MALFORMED_FRAME);
    assertThat(hub.updates).isEmpty();
  }

  // ------------------------------------------------------------------ UPDATE_OWN

  @Test
  void updateOwnMergesTheDeltaOfTheConnectionsReplicaAndAcksWithTheDocumentId() {
    openV2();
    subscribe(1, "doc-0", 0);
    DocumentDelta increment = Document.create("doc-0").incrementGCounter(CLIENT, "g", 1);
    byte[] frame = CODEC.encode(OwnUpdate.of(2, 0, CLIENT, increment).orElseThrow());
    assertThat(HexFormat.of().formatHex(frame)).isEqualTo("970c020001a1670201");
    session.onFrame(frame);

    assertThat(hub.updates).singleElement();
    assertThat(hub.updates.get(0).documentId()).isEqualTo("doc-0");
    assertThat(hub.updates.get(0).delta()).isEqualTo(increment);
    assertThat(hub.updates.get(0).connection()).isSameAs(session);
    assertThat(transport.drain()).isEmpty(); // not durable yet
    hub.updates.get(0).future().complete(null);
    assertThat(transport.drain()).containsExactly(new Ack(2, "doc-0"));
  }

  @Test
  void updateOwnOfARegisterWriteAndAPnAddRebuildTheirDeltas() {
    openV2();
    subscribe(1, "d", 7);
    Document doc = Document.create("d");
    DocumentDelta write = doc.setRegister(CLIENT, "title", Value.of("hi"), clock.now());
    DocumentDelta add = doc.addPNCounter(CLIENT, "stock", -3);
    feed(OwnUpdate.of(2, 7, CLIENT, write).orElseThrow());
    feed(OwnUpdate.of(3, 7, CLIENT, add).orElseThrow());
    assertThat(hub.updates).extracting(FakeHub.UpdateCall::delta).containsExactly(write, add);
  }

  @Test
  void updateOwnAndUpdateRepliesLeaveInRequestOrder() {
    openV2();
    subscribe(1, "a", 0);
    subscribe(2, "b", 1);
    Document a = Document.create("a");
    feed(OwnUpdate.of(10, 0, CLIENT, a.incrementGCounter(CLIENT, "g", 1)).orElseThrow());
    feed(Update.request(11, "b", DocumentDelta.empty()));
    feed(new OwnUpdate(12, 5, 2, "g", new OwnUpdate.GCount(2))); // alias 5: nobody's
    hub.updates.get(1).future().complete(null);
    assertThat(transport.drain()).isEmpty();
    hub.updates.get(0).future().complete(null);
    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(3);
    assertThat(sent.get(0)).isEqualTo(new Ack(10, "a"));
    assertThat(sent.get(1)).isEqualTo(new Ack(11, "b"));
    assertError(sent.get(2), OptionalLong.of(12), ErrorCode.NOT_SUBSCRIBED);
  }

  @Test
  void refusesAnUnknownAliasAsNotSubscribed() {
    openV2();
    feed(new OwnUpdate(2, 0, 1, "g", new OwnUpdate.GCount(1)));
    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(1);
    assertError(sent.get(0), OptionalLong.of(2), ErrorCode.NOT_SUBSCRIBED);
    assertThat(((ErrorMessage) sent.get(0)).message()).contains("alias 0");
    assertThat(hub.updates).isEmpty();
    assertThat(transport.closed()).isFalse();
  }

  @Test
  void anAliasEndsWithItsSubscription() {
    openV2();
    subscribe(1, "d", 3);
    feed(new Unsubscribe(2, "d"));
    assertThat(transport.drain()).containsExactly(new Ack(2, "d"));
    feed(new OwnUpdate(3, 3, 1, "g", new OwnUpdate.GCount(1)));
    assertError(transport.drain().get(0), OptionalLong.of(3), ErrorCode.NOT_SUBSCRIBED);
    // A failed SUBSCRIBE leaves no alias behind either.
    feed(Subscribe.withAlias(4, "e", VersionVector.empty(), 4));
    hub.subscribes
        .get(hub.subscribes.size() - 1)
        .future()
        .completeExceptionally(new HubException(ErrorCode.UNAUTHORIZED, "no"));
    assertError(transport.drain().get(0), OptionalLong.of(4), ErrorCode.UNAUTHORIZED);
    feed(new OwnUpdate(5, 4, 1, "g", new OwnUpdate.GCount(1)));
    assertError(transport.drain().get(0), OptionalLong.of(5), ErrorCode.NOT_SUBSCRIBED);
    // The freed aliases can name other documents.
    subscribe(6, "f", 3);
    subscribe(7, "g", 4);
    assertThat(hub.updates).isEmpty();
  }

  @Test
  void refusesAnAliasInUseByAnotherDocument() {
    openV2();
    subscribe(1, "a", 0);
    feed(Subscribe.withAlias(2, "b", VersionVector.empty(), 0));
    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(1);
    assertError(sent.get(0), OptionalLong.of(2), ErrorCode.ALIAS_IN_USE);
    assertThat(((ErrorMessage) sent.get(0)).message()).contains("alias 0").contains("a");
    assertThat(hub.subscribes).hasSize(1); // "b" was not subscribed
    assertThat(transport.closed()).isFalse();
    // Alias 0 still names "a".
    feed(new OwnUpdate(3, 0, 1, "g", new OwnUpdate.GCount(1)));
    assertThat(hub.updates)
        .singleElement()
        .satisfies(c -> assertThat(c.documentId()).isEqualTo("a"));
  }

  @Test
  void aNewSubscribeOfTheSameDocumentReplacesItsAlias() {
    openV2();
    subscribe(1, "a", 0);
    subscribe(2, "a", 0); // the same alias again: fine
    subscribe(3, "a", 1);
    feed(new OwnUpdate(4, 0, 1, "g", new OwnUpdate.GCount(1)));
    assertError(transport.drain().get(0), OptionalLong.of(4), ErrorCode.NOT_SUBSCRIBED);
    feed(new OwnUpdate(5, 1, 1, "g", new OwnUpdate.GCount(1)));
    assertThat(hub.updates)
        .singleElement()
        .satisfies(c -> assertThat(c.documentId()).isEqualTo("a"));
    subscribe(6, "b", 0); // alias 0 is free again
  }

  @Test
  void updateOwnDrawsOnTheSameRateLimitAsUpdate() {
    open(SessionConfig.builder().updatesPerSecond(10).updateBurst(2).build());
    assertThat(handshake(1, 2)).isEqualTo(2);
    subscribe(1, "d", 0);
    feed(Update.request(2, "d", DocumentDelta.empty()));
    feed(new OwnUpdate(3, 0, 1, "g", new OwnUpdate.GCount(1)));
    feed(new OwnUpdate(4, 0, 2, "g", new OwnUpdate.GCount(2)));
    assertThat(hub.updates).hasSize(2);
    hub.updates.forEach(c -> c.future().complete(null));
    List<Message> sent = transport.drain();
    assertThat(sent).hasSize(3);
    assertError(sent.get(2), OptionalLong.of(4), ErrorCode.RATE_LIMITED);
  }

  @Test
  void refusesADuplicateRequestIdAcrossUpdateAndUpdateOwn() {
    openV2();
    subscribe(1, "d", 0);
    feed(Update.request(2, "d", DocumentDelta.empty()));
    feed(new OwnUpdate(2, 0, 1, "g", new OwnUpdate.GCount(1)));
    assertThat(hub.updates).hasSize(1);
    hub.updates.get(0).future().complete(null);
    List<Message> sent = transport.drain();
    assertThat(sent.get(0)).isEqualTo(new Ack(2, "d"));
    assertError(sent.get(1), OptionalLong.of(2), ErrorCode.DUPLICATE_REQUEST_ID);
  }

  @Test
  void aMalformedUpdateOwnClosesLikeAnyMalformedFrame() {
    openV2();
    subscribe(1, "d", 0);
    session.onFrame(HexFormat.of().parseHex("970c020000a1670201")); // seq 0
    List<Message> sent = transport.drain();
    assertError(sent.get(0), OptionalLong.empty(), ErrorCode.MALFORMED_MESSAGE);
    assertThat(transport.closeCode).isEqualTo(CloseCodes.MALFORMED_FRAME);
    assertThat(hub.updates).isEmpty();
  }
}

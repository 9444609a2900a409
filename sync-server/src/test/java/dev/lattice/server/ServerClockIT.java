package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.protocol.Ack;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Hello;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.Ping;
import dev.lattice.protocol.Pong;
import dev.lattice.protocol.Welcome;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server's clock across a restart on a wall clock set back (issue 11, bug 2): it starts past
 * the greatest timestamp in its store, whatever the wall says.
 */
class ServerClockIT {

  private static final Clock DAY_BEHIND = Clock.offset(Clock.systemUTC(), Duration.ofDays(-1));

  @TempDir Path dataDir;
  private final List<AutoCloseable> closeables = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  private LatticeServer server(Clock clock) {
    LatticeServer server =
        LatticeServer.builder()
            .bindAddress("127.0.0.1")
            .port(0)
            .dataDirectory(dataDir)
            .clock(clock)
            .build()
            .start();
    closeables.add(server);
    return server;
  }

  private static HlcTimestamp timestampOf(DocumentDelta delta) {
    return delta.maxTimestamp().orElseThrow();
  }

  @Test
  void aServerRestartedADayBehindKeepsItsTimestampsAboveWhatItStored() throws Exception {
    LatticeServer first = server(Clock.systemUTC());
    HlcTimestamp stored =
        timestampOf(
            first.edit("doc", e -> e.set("title", Value.of("before"))).get(5, TimeUnit.SECONDS));
    first.close();

    LatticeServer restarted = server(DAY_BEHIND);

    // Its own edit of a field nobody wrote is stamped from its clock alone.
    HlcTimestamp edited =
        timestampOf(
            restarted
                .edit("doc", e -> e.set("fresh", Value.of("after restart")))
                .get(5, TimeUnit.SECONDS));
    assertThat(edited).isGreaterThan(stored);

    // The time it gives clients to sync to is not a day in the past either.
    RawClient raw = RawClient.connect(restarted.uri(), 0xC1, "doc");
    closeables.add(raw);
    raw.send(Hello.of(ReplicaId.of(0xC1), null, "it"));
    Welcome welcome = raw.take(Welcome.class);
    assertThat(welcome.serverTime().physicalMillis())
        .isGreaterThanOrEqualTo(stored.physicalMillis());
  }

  @Test
  void aCorrectClientsWriteAfterSeeingAValueIsTakenByAServerRestartedADayBehind() throws Exception {
    LatticeServer first = server(Clock.systemUTC());
    first.edit("doc", e -> e.set("title", Value.of("before"))).get(5, TimeUnit.SECONDS);
    first.close();

    LatticeServer restarted = server(DAY_BEHIND);
    RawClient client = RawClient.hello(restarted.uri(), 0xC2, "doc");
    closeables.add(client);
    client.subscribe();
    assertThat(client.doc.registerValue("title")).contains(Value.of("before"));

    // A client on the right time writes after what it saw.
    long request =
        client.sendUpdate(
            client.doc.setRegister(client.replica, "title", Value.of("after"), client.clock.now()));
    Message reply = client.awaitReply(request);

    assertThat(reply).isInstanceOf(Ack.class);
    assertThat(restarted.document("doc").orElseThrow().registerValue("title"))
        .contains(Value.of("after"));
  }

  /** A wall clock a test sets back while the server runs. */
  private static final class SettableClock extends Clock {
    private volatile Duration offset = Duration.ZERO;

    void setBack(Duration by) {
      offset = offset.minus(by);
    }

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Instant instant() {
      return Instant.now().plus(offset);
    }
  }

  @Test
  void aRunningServerWhoseWallClockIsSetBackADayKeepsTakingCorrectClients() throws Exception {
    SettableClock wall = new SettableClock();
    LatticeServer server = server(wall);
    RawClient client = RawClient.hello(server.uri(), 0xC4, "doc");
    closeables.add(client);
    client.subscribe();
    long first =
        client.sendUpdate(
            client.doc.setRegister(client.replica, "title", Value.of("a"), client.clock.now()));
    assertThat(client.awaitReply(first)).isInstanceOf(Ack.class);

    wall.setBack(Duration.ofDays(1));

    // The client's clock is right; the server's wall is a day behind. Refusing it as drift
    // would hold every correct client's edits for a day.
    long second =
        client.sendUpdate(
            client.doc.setRegister(client.replica, "title", Value.of("b"), client.clock.now()));
    assertThat(client.awaitReply(second)).isInstanceOf(Ack.class);
    assertThat(server.document("doc").orElseThrow().registerValue("title")).contains(Value.of("b"));
    // Nor does its own edit go below what it acknowledged.
    HlcTimestamp edited =
        timestampOf(
            server.edit("doc", e -> e.set("fresh", Value.of("x"))).get(5, TimeUnit.SECONDS));
    assertThat(edited.physicalMillis())
        .isGreaterThanOrEqualTo(System.currentTimeMillis() - Duration.ofHours(1).toMillis());
  }

  @Test
  void welcomeAdvertisesTheDriftBound() throws Exception {
    LatticeServer server =
        LatticeServer.builder()
            .bindAddress("127.0.0.1")
            .port(0)
            .inMemory(true)
            .maxClockDrift(Duration.ofMillis(250))
            .build()
            .start();
    closeables.add(server);
    RawClient raw = RawClient.connect(server.uri(), 0xC3, "doc");
    closeables.add(raw);
    raw.send(Hello.of(ReplicaId.of(0xC3), null, "it"));
    assertThat(raw.take(Welcome.class).limits())
        .containsEntry(Welcome.LIMIT_MAX_CLOCK_DRIFT_MILLIS, 250L);
  }

  @Test
  void aClientWithinTheDriftBoundDoesNotShiftTheTimeOtherClientsSyncTo() throws Exception {
    Instant now = Instant.ofEpochMilli(System.currentTimeMillis());
    LatticeServer server =
        LatticeServer.builder()
            .bindAddress("127.0.0.1")
            .port(0)
            .inMemory(true)
            .clock(Clock.fixed(now, ZoneOffset.UTC))
            .nanoTime(() -> 0L)
            .build()
            .start();
    closeables.add(server);
    RawClient fast = RawClient.hello(server.uri(), 0xF1, "doc");
    closeables.add(fast);
    fast.subscribe();

    HlcTimestamp within = HlcTimestamp.of(now.toEpochMilli() + 400, 0);
    long accepted =
        fast.sendUpdate(fast.doc.setRegister(fast.replica, "a", Value.of("ok"), within));
    assertThat(fast.awaitReply(accepted)).isInstanceOf(Ack.class);
    HlcTimestamp beyond =
        HlcTimestamp.of(
            now.toEpochMilli() + LatticeServer.DEFAULT_MAX_CLOCK_DRIFT.toMillis() + 1, 0);
    long refused = fast.sendUpdate(fast.doc.setRegister(fast.replica, "b", Value.of("no"), beyond));
    Message refusal = fast.awaitReply(refused);
    assertThat(refusal).isInstanceOf(ErrorMessage.class);
    assertThat(((ErrorMessage) refusal).errorCode()).contains(ErrorCode.CLOCK_DRIFT);

    // The server's HLC took the accepted timestamp, but the time it gives others is its own.
    RawClient other = RawClient.connect(server.uri(), 0xF2, "doc");
    closeables.add(other);
    other.send(Hello.of(ReplicaId.of(0xF2), null, "it"));
    assertThat(other.take(Welcome.class).serverTime())
        .isEqualTo(HlcTimestamp.of(now.toEpochMilli(), 0));
    other.send(new Ping(7, HlcTimestamp.of(now.toEpochMilli(), 0)));
    assertThat(other.take(Pong.class).time()).isEqualTo(HlcTimestamp.of(now.toEpochMilli(), 0));
  }
}

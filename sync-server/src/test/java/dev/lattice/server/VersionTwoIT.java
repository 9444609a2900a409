package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.VersionVector;
import dev.lattice.protocol.Ack;
import dev.lattice.protocol.CloseCodes;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Hello;
import dev.lattice.protocol.OwnUpdate;
import dev.lattice.protocol.Subscribe;
import dev.lattice.protocol.Sync;
import dev.lattice.protocol.Update;
import dev.lattice.protocol.Welcome;
import dev.lattice.server.spi.SessionConfig;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Protocol version 2 over real sockets: v1 and v2 clients on one server, a v1-only server. */
class VersionTwoIT {

  private static final String DOC = "doc-0";
  private final Closer closer = new Closer();

  @AfterEach
  void closeAll() throws Exception {
    closer.closeAll();
  }

  private LatticeServer server(SessionConfig config) {
    return closer.add(
        LatticeServer.builder()
            .bindAddress("127.0.0.1")
            .port(0)
            .inMemory(true)
            .sessionConfig(config)
            .build()
            .start());
  }

  /** Connects, offers versions 1 to {@code max}, returns the client and the version chosen. */
  private RawClient hello(LatticeServer server, long replica, int max) throws Exception {
    RawClient client = closer.add(RawClient.connect(server.uri(), replica, DOC));
    client.send(new Hello(1, max, client.replica, Optional.empty(), Optional.empty()));
    Welcome welcome = client.take(Welcome.class);
    assertThat(welcome.version()).isEqualTo(max);
    return client;
  }

  @Test
  void anUpdateOwnIsMergedAckedAndFannedOutAsAnUpdateToAVersionOneClient() throws Exception {
    LatticeServer server = server(SessionConfig.defaults());
    RawClient v2 = hello(server, 0xa1b2c3d4e5f60718L, 2);
    RawClient v1 = hello(server, 0xb, 1);
    v2.send(Subscribe.withAlias(1, DOC, VersionVector.empty(), 0));
    v2.take(Sync.class);
    v1.send(new Subscribe(1, DOC, VersionVector.empty()));
    v1.take(Sync.class);

    DocumentDelta increment = v2.doc.incrementGCounter(v2.replica, "g", 1);
    OwnUpdate own = OwnUpdate.of(2, 0, v2.replica, increment).orElseThrow();
    v2.send(own);
    assertThat(v2.take(Ack.class)).isEqualTo(new Ack(2, DOC));

    // The version 1 subscriber gets the full delta, replica and all, as an ordinary UPDATE.
    Update fanOut = v1.take(Update.class);
    assertThat(fanOut.requestId()).isEmpty();
    assertThat(fanOut.delta()).isEqualTo(increment);
    assertThat(server.document(DOC).orElseThrow().counterValue("g")).isEqualTo(1);
  }

  @Test
  void aVersionOneConnectionThatSendsUpdateOwnIsClosedAsMalformed() throws Exception {
    LatticeServer server = server(SessionConfig.defaults());
    RawClient v1 = hello(server, 0xb, 1);
    v1.send(Subscribe.withAlias(1, DOC, VersionVector.empty(), 0)); // alias ignored in v1
    v1.take(Sync.class);
    v1.send(new OwnUpdate(2, 0, 1, "g", new OwnUpdate.GCount(1)));
    ErrorMessage error = v1.take(ErrorMessage.class);
    assertThat(error.errorCode()).contains(ErrorCode.MALFORMED_MESSAGE);
    assertThat(error.message()).contains("needs protocol version 2");
    assertThat(v1.awaitClose()).isEqualTo(CloseCodes.MALFORMED_FRAME);
    assertThat(server.document(DOC)).isEmpty();
  }

  @Test
  void aServerLimitedToVersionOneNegotiatesVersionOne() throws Exception {
    LatticeServer server = server(SessionConfig.builder().maxProtocolVersion(1).build());
    RawClient client = closer.add(RawClient.connect(server.uri(), 0xa, DOC));
    client.send(Hello.of(client.replica, null, "it")); // offers [1, 2]
    assertThat(client.take(Welcome.class).version()).isEqualTo(1);
  }
}

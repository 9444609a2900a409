package dev.lattice.server.session;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.CloseCodes;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Hello;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.protocol.Welcome;
import dev.lattice.server.spi.AuthResult;
import dev.lattice.server.spi.Authenticator;
import dev.lattice.server.spi.Principal;
import dev.lattice.server.spi.SessionConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.junit.jupiter.api.Test;

/** What a session tells its {@link SessionHooks}, and how their answers decide the handshake. */
class ServerSessionHooksTest {

  private static final ReplicaId CLIENT = ReplicaId.of(0xC1);
  private static final MessageCodec CODEC = MessageCodec.defaults();

  private final ManualTime time = new ManualTime();
  private final HybridLogicalClock clock =
      new HybridLogicalClock(() -> 1_700_000_000_000L, Duration.ofSeconds(60));
  private final FakeHub hub = new FakeHub();
  private final RecordingTransport transport = new RecordingTransport();

  /** Records calls; answers with the stages the test sets. */
  static final class Hooks implements SessionHooks {
    final List<String> calls = new ArrayList<>();
    CompletableFuture<Void> connectAnswer = CompletableFuture.completedFuture(null);
    CompletableFuture<AuthResult> authAnswer;

    @Override
    public CompletionStage<Void> connecting(String connectionId, ReplicaId replica, int version) {
      calls.add("connect " + replica);
      return connectAnswer;
    }

    @Override
    public CompletionStage<AuthResult> authenticated(
        String connectionId, ReplicaId replica, Optional<String> token, Principal principal) {
      calls.add("authenticate " + token.orElse("-") + " as " + principal.subject());
      return authAnswer != null
          ? authAnswer
          : CompletableFuture.completedFuture(AuthResult.granted(principal));
    }

    @Override
    public void disconnected(
        String connectionId, ReplicaId replica, Principal principal, int code, String reason) {
      calls.add(
          "disconnect "
              + replica
              + " "
              + (principal == null ? "-" : principal.subject())
              + " "
              + code
              + " "
              + reason);
    }
  }

  private final Hooks hooks = new Hooks();

  private ServerSession open(Optional<String> upgradeToken) {
    return open(transport, upgradeToken);
  }

  private ServerSession open(RecordingTransport transport, Optional<String> upgradeToken) {
    return SessionFactory.builder()
        .hub(hub)
        .clock(clock)
        .serverId(ReplicaId.of(0x0b))
        .nanoTime(time)
        .scheduler(time)
        .config(SessionConfig.builder().idleTimeout(Duration.ofSeconds(10)).build())
        .authenticator(Authenticator.of(t -> AuthResult.granted(Principal.of("user"))))
        .hooks(hooks)
        .build()
        .open(transport, upgradeToken, null);
  }

  private static void hello(ServerSession session, String token) {
    session.onFrame(CODEC.encode(Hello.of(CLIENT, token, "test/1")));
  }

  @Test
  void helloWaitsForConnectThenAuthenticateAndTheirPrincipalIsTheSessions() {
    ServerSession session = open(Optional.empty());
    hooks.connectAnswer = new CompletableFuture<>();
    hooks.authAnswer = CompletableFuture.completedFuture(AuthResult.granted(Principal.of("vip")));

    hello(session, "t0ken");
    assertThat(transport.drain()).isEmpty(); // nothing answered while a hook decides
    assertThat(hooks.calls).containsExactly("connect " + CLIENT);

    hooks.connectAnswer.complete(null);

    assertThat(transport.drain()).singleElement().isInstanceOf(Welcome.class);
    assertThat(hooks.calls).containsExactly("connect " + CLIENT, "authenticate t0ken as user");
    assertThat(session.principal()).isEqualTo(Principal.of("vip"));
  }

  @Test
  void theUpgradesTokenIsTheOneTheHooksSee() {
    ServerSession session = open(Optional.of("from-upgrade"));
    hello(session, null);
    assertThat(hooks.calls).contains("authenticate from-upgrade as user");
  }

  @Test
  void aFailedConnectOrARefusedAuthenticationClosesWith4002AndReportsIt() {
    ServerSession session = open(Optional.empty());
    hooks.authAnswer = CompletableFuture.completedFuture(AuthResult.refused("not today"));

    hello(session, "x");

    List<Message> out = transport.drain();
    assertThat(out).singleElement().isInstanceOf(ErrorMessage.class);
    ErrorMessage error = (ErrorMessage) out.get(0);
    assertThat(error.errorCode()).contains(ErrorCode.UNAUTHORIZED);
    assertThat(error.message()).contains("not today");
    assertThat(transport.closeCode).isEqualTo(CloseCodes.UNAUTHORIZED);
    assertThat(hooks.calls).last().asString().startsWith("disconnect " + CLIENT + " - 4002");

    RecordingTransport second = new RecordingTransport();
    hooks.connectAnswer = CompletableFuture.failedFuture(new IllegalStateException("banned"));
    ServerSession other =
        SessionFactory.builder()
            .hub(hub)
            .clock(clock)
            .serverId(ReplicaId.of(0x0b))
            .nanoTime(time)
            .scheduler(time)
            .hooks(hooks)
            .build()
            .open(second, null);
    hello(other, null);
    assertThat(second.closeCode).isEqualTo(CloseCodes.UNAUTHORIZED);
    assertThat(hooks.calls).doesNotContain("authenticate - as anonymous");
  }

  @Test
  void theDisconnectHookGetsTheSessionsOwnCloseOrThePeers() {
    ServerSession idle = open(Optional.empty());
    hello(idle, null);
    time.advance(Duration.ofSeconds(30)); // PING at 5 s, then silence: closed 4004

    assertThat(transport.closeCode).isEqualTo(CloseCodes.IDLE_TIMEOUT);
    assertThat(hooks.calls).last().asString().startsWith("disconnect " + CLIENT + " user 4004");

    ServerSession leaving = open(new RecordingTransport(), Optional.empty());
    hello(leaving, null);
    leaving.onClosed(4321, "see you");
    leaving.onClosed(1006, ""); // the transport's late report changes nothing

    assertThat(hooks.calls).last().isEqualTo("disconnect " + CLIENT + " user 4321 see you");
    assertThat(hooks.calls.stream().filter(c -> c.startsWith("disconnect"))).hasSize(2);
  }

  @Test
  void aConnectionThatNeverSaidHelloIsNotReported() {
    ServerSession session = open(Optional.empty());
    session.onClosed(1000, "");
    assertThat(hooks.calls).isEmpty();
  }
}

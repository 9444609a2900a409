package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.CloseCodes;
import dev.lattice.protocol.Hello;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.protocol.Pong;
import dev.lattice.server.hub.DefaultHub;
import dev.lattice.server.hub.HubConfig;
import dev.lattice.server.hub.WriteBatch;
import dev.lattice.server.session.Handshake;
import dev.lattice.server.session.SessionFactory;
import dev.lattice.server.session.SessionObserver;
import dev.lattice.server.session.SessionScheduler;
import dev.lattice.server.store.InMemoryDocumentStore;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.websocket.core.CloseStatus;
import org.eclipse.jetty.websocket.core.CoreSession;
import org.eclipse.jetty.websocket.core.Frame;
import org.eclipse.jetty.websocket.core.OpCode;
import org.eclipse.jetty.websocket.core.exception.MessageTooLargeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The adapter against a recording Jetty core session that never writes. */
class WebSocketConnectionTest {

  private static final long MAX_QUEUED = 100;
  private static final int MAX_MESSAGE = 1 << 16;

  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private final DefaultHub hub =
      new DefaultHub(
          HubConfig.builder(new InMemoryDocumentStore(), ReplicaId.of(0x5e))
              .executor(Runnable::run)
              .build());
  private final SessionFactory sessions =
      SessionFactory.builder()
          .hub(hub)
          .clock(new HybridLogicalClock())
          .serverId(ReplicaId.of(0x5e))
          .scheduler(SessionScheduler.of(timer))
          .build();
  private final Set<WebSocketConnection> open = ConcurrentHashMap.newKeySet();
  private final List<Callback> pendingSends = new ArrayList<>();
  private final List<Frame> sentFrames = new ArrayList<>();
  private final List<Boolean> batched = new ArrayList<>();
  private final List<Integer> closes = new ArrayList<>();
  private int demands;
  private int flushes;

  private final CoreSession socket =
      (CoreSession)
          Proxy.newProxyInstance(
              CoreSession.class.getClassLoader(),
              new Class<?>[] {CoreSession.class},
              (proxy, method, args) -> {
                switch (method.getName()) {
                  case "sendFrame" -> {
                    sentFrames.add((Frame) args[0]);
                    pendingSends.add((Callback) args[1]);
                    batched.add((Boolean) args[2]);
                  }
                  case "flush" -> flushes++;
                  case "close" -> {
                    if (args != null && args.length == 3) {
                      closes.add((Integer) args[0]);
                    }
                  }
                  case "demand" -> demands++;
                  case "isOutputOpen", "isInputOpen" -> {
                    return true;
                  }
                  case "isClosed" -> {
                    return false;
                  }
                  case "hashCode" -> {
                    return System.identityHashCode(proxy);
                  }
                  case "equals" -> {
                    return proxy == args[0];
                  }
                  case "toString" -> {
                    return "RecordingSession";
                  }
                  default -> {}
                }
                return null;
              });

  private final List<Integer> counted = new CopyOnWriteArrayList<>();
  private final CompletableFuture<Integer> cut = new CompletableFuture<>();
  private final SessionObserver observer =
      new SessionObserver() {
        @Override
        public void closedByServer(int closeCode) {
          counted.add(closeCode);
        }

        @Override
        public void closeCut(int closeCode) {
          cut.complete(closeCode);
        }
      };

  private final WebSocketConnection connection =
      new WebSocketConnection(
          sessions,
          Handshake.NONE,
          Optional.empty(),
          null,
          MAX_QUEUED,
          MAX_MESSAGE,
          open,
          timer,
          observer,
          5_000,
          1L << 30,
          1L << 30);

  @AfterEach
  void stop() {
    timer.shutdownNow();
    hub.close();
  }

  @Test
  void demandsOneFrameAtOpenAndOneAfterEachFrame() {
    connection.onOpen(socket, Callback.NOOP);
    assertThat(demands).isEqualTo(1);
    assertThat(open).containsExactly(connection);

    connection.onFrame(binary(new byte[] {(byte) 0xc1}), Callback.NOOP);
    assertThat(demands).isEqualTo(2);
    assertThat(closes).containsExactly(CloseCodes.MALFORMED_FRAME);
  }

  private static Frame binary(byte[] message) {
    return new Frame(OpCode.BINARY).setPayload(ByteBuffer.wrap(message));
  }

  private static byte[] hello() {
    return MessageCodec.defaults().encode(Hello.of(ReplicaId.of(7), null, "test"));
  }

  @Test
  void aPausedConnectionDemandsNoFrameUntilItIsResumedAndThenExactlyOne() {
    connection.onOpen(socket, Callback.NOOP);
    connection.pauseReading();

    connection.onFrame(binary(hello()), Callback.NOOP);
    assertThat(demands).isEqualTo(1);

    connection.resumeReading();
    assertThat(demands).isEqualTo(2);
    connection.resumeReading();
    assertThat(demands).isEqualTo(2);

    connection.onFrame(
        binary(MessageCodec.defaults().encode(new Pong(1, HlcTimestamp.of(1, 0)))), Callback.NOOP);
    assertThat(demands).isEqualTo(3);
    assertThat(closes).isEmpty();
  }

  @Test
  void closesWithSlowConsumerWhenQueuedBytesPassTheBound() {
    connection.onOpen(socket, Callback.NOOP);

    connection.sendFrame(new byte[60]);
    assertThat(connection.queuedBytes()).isEqualTo(60);
    connection.sendFrame(new byte[60]);

    assertThat(pendingSends).hasSize(1);
    assertThat(closes).containsExactly(CloseCodes.SLOW_CONSUMER);
    assertThat(connection.queuedBytes()).isEqualTo(60);

    pendingSends.get(0).succeeded();
    assertThat(connection.queuedBytes()).isZero();
    connection.sendFrame(new byte[10]);
    assertThat(pendingSends).as("nothing is sent after the close").hasSize(1);
  }

  @Test
  void aSlowConsumerCloseIsCountedAndACloseThePeerNeverReadsIsCutAndCounted() throws Exception {
    WebSocketConnection quick =
        new WebSocketConnection(
            sessions,
            Handshake.NONE,
            Optional.empty(),
            null,
            MAX_QUEUED,
            MAX_MESSAGE,
            open,
            timer,
            observer,
            50,
            1L << 30,
            1L << 30);
    quick.onOpen(socket, Callback.NOOP);

    quick.sendFrame(new byte[60]);
    quick.sendFrame(new byte[60]);

    assertThat(closes).containsExactly(CloseCodes.SLOW_CONSUMER);
    assertThat(counted).containsExactly(CloseCodes.SLOW_CONSUMER);
    // The peer never reads up to the close frame (the recording socket writes nothing).
    assertThat(cut.get(10, TimeUnit.SECONDS)).isEqualTo(CloseCodes.SLOW_CONSUMER);
    assertThat(counted).as("one close, counted once").hasSize(1);
  }

  @Test
  void byteRateDebtDelaysTheNextReadByExactlyItsTime() {
    WebSocketConnection.ByteRate rate = new WebSocketConnection.ByteRate(1_000, 2_000, 0);

    assertThat(rate.take(1_500, 0)).isZero();
    assertThat(rate.take(1_000, 0)).isEqualTo(500_000_000L); // 500 bytes owed at 1000/s
    // Half a second later the debt is paid; a full second more refills 1000 bytes.
    assertThat(rate.take(0, 500_000_000L)).isZero();
    assertThat(rate.take(1_000, 1_500_000_000L)).isZero();
    assertThat(rate.take(1, 1_500_000_000L)).isEqualTo(1_000_000L);
    // A long silence refills only up to the burst.
    assertThat(rate.take(2_000, 3_600_000_000_000L)).isZero();
    assertThat(rate.take(1, 3_600_000_000_000L)).isEqualTo(1_000_000L);
  }

  @Test
  void aConnectionOverItsByteRateIsReadAgainOnlyOnceTheRateAllows() throws Exception {
    CompletableFuture<Void> secondDemand = new CompletableFuture<>();
    WebSocketConnection throttled =
        new WebSocketConnection(
            sessions,
            Handshake.NONE,
            Optional.empty(),
            null,
            MAX_QUEUED,
            MAX_MESSAGE,
            open,
            timer,
            observer,
            5_000,
            1_024,
            1_024);
    CoreSession counting =
        (CoreSession)
            Proxy.newProxyInstance(
                CoreSession.class.getClassLoader(),
                new Class<?>[] {CoreSession.class},
                (proxy, method, args) -> {
                  if (method.getName().equals("demand") && ++demands == 2) {
                    secondDemand.complete(null);
                  }
                  return method.getName().startsWith("is") ? Boolean.FALSE : null;
                });
    throttled.onOpen(counting, Callback.NOOP);

    // About 1.5 KiB against 1 KiB/s with a 1 KiB burst: about half a second of debt.
    byte[] hello =
        MessageCodec.defaults().encode(Hello.of(ReplicaId.of(7), null, "x".repeat(1_536)));
    throttled.onFrame(binary(hello), Callback.NOOP);
    assertThat(demands).as("no demand while the debt is unpaid").isEqualTo(1);
    secondDemand.get(10, TimeUnit.SECONDS);
    assertThat(demands).isEqualTo(2);
  }

  @Test
  void aServerShutdownCloseIsCounted() {
    connection.onOpen(socket, Callback.NOOP);
    connection.shutDown();

    assertThat(closes).containsExactly(CloseCodes.GOING_AWAY);
    assertThat(counted).containsExactly(CloseCodes.GOING_AWAY);
    assertThat(cut).isNotDone();
  }

  @Test
  void completedSendsFreeTheirBytesWhetherTheySucceedOrFail() {
    connection.onOpen(socket, Callback.NOOP);

    connection.sendFrame(new byte[60]);
    pendingSends.get(0).succeeded();
    connection.sendFrame(new byte[60]);
    pendingSends.get(1).failed(new RuntimeException("write failed"));
    connection.sendFrame(new byte[90]);

    assertThat(pendingSends).hasSize(3);
    assertThat(closes).isEmpty();
    assertThat(connection.queuedBytes()).isEqualTo(90);
  }

  @Test
  void aSingleFrameLargerThanTheBoundIsSentWhenNothingIsQueued() {
    connection.onOpen(socket, Callback.NOOP);

    connection.sendFrame(new byte[500]);

    assertThat(pendingSends).hasSize(1);
    assertThat(closes).isEmpty();
  }

  @Test
  void theEndOfTheConnectionLeavesTheOpenSet() {
    connection.onOpen(socket, Callback.NOOP);
    connection.onClosed(new CloseStatus(1000, "bye"), Callback.NOOP);
    assertThat(open).isEmpty();
    assertThat(connection.ended()).isDone();
  }

  @Test
  void aPingIsAnsweredWithItsPayloadAndTheNextFrameDemanded() {
    connection.onOpen(socket, Callback.NOOP);

    connection.onFrame(
        new Frame(OpCode.PING).setPayload(ByteBuffer.wrap(new byte[] {1, 2, 3})), Callback.NOOP);

    assertThat(sentFrames).hasSize(1);
    assertThat(sentFrames.get(0).getOpCode()).isEqualTo(OpCode.PONG);
    assertThat(bytes(sentFrames.get(0).getPayload())).containsExactly(1, 2, 3);
    assertThat(demands).isEqualTo(2);
  }

  @Test
  void aFragmentedMessageReachesTheSessionWhole() {
    connection.onOpen(socket, Callback.NOOP);
    byte[] hello = hello();
    int half = hello.length / 2;

    connection.onFrame(
        new Frame(OpCode.BINARY, false, ByteBuffer.wrap(hello, 0, half).slice()), Callback.NOOP);
    assertThat(sentFrames).as("nothing answered before the last fragment").isEmpty();
    connection.onFrame(
        new Frame(OpCode.CONTINUATION, true, ByteBuffer.wrap(hello, half, hello.length - half)),
        Callback.NOOP);

    assertThat(closes).as("the joined HELLO is well formed").isEmpty();
    assertThat(sentFrames).as("WELCOME").hasSize(1);
    assertThat(demands).isEqualTo(3);
  }

  @Test
  void fragmentsAddingUpPastTheMessageBoundFailTheFrame() {
    WebSocketConnection small =
        new WebSocketConnection(
            sessions,
            Handshake.NONE,
            Optional.empty(),
            null,
            MAX_QUEUED,
            100,
            open,
            timer,
            observer,
            5_000,
            1L << 30,
            1L << 30);
    small.onOpen(socket, Callback.NOOP);
    small.onFrame(new Frame(OpCode.BINARY, false, ByteBuffer.allocate(60)), Callback.NOOP);
    CompletableFuture<Throwable> failed = new CompletableFuture<>();
    small.onFrame(
        new Frame(OpCode.CONTINUATION, true, ByteBuffer.allocate(60)),
        Callback.from(() -> failed.complete(null), failed::complete));

    assertThat(failed).isCompletedWithValueMatching(e -> e instanceof MessageTooLargeException);
  }

  @Test
  void insideAWriteBatchFramesAreQueuedUnflushedAndFlushedOnceAtItsEnd() {
    connection.onOpen(socket, Callback.NOOP);

    WriteBatch.open();
    try {
      connection.sendFrame(new byte[10]);
      connection.sendFrame(new byte[10]);
      assertThat(flushes).isZero();
    } finally {
      WriteBatch.close();
    }
    connection.sendFrame(new byte[10]);

    assertThat(batched).containsExactly(true, true, false);
    assertThat(flushes).isEqualTo(1);
  }

  private static byte[] bytes(ByteBuffer buffer) {
    byte[] out = new byte[buffer.remaining()];
    buffer.duplicate().get(out);
    return out;
  }
}

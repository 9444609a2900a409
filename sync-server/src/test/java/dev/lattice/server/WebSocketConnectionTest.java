package dev.lattice.server;

import static dev.lattice.server.WebSocketFramingIT.frame;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.CloseCodes;
import dev.lattice.server.hub.DefaultHub;
import dev.lattice.server.hub.HubConfig;
import dev.lattice.server.hub.WriteBatch;
import dev.lattice.server.session.Handshake;
import dev.lattice.server.session.SessionFactory;
import dev.lattice.server.session.SessionObserver;
import dev.lattice.server.session.SessionScheduler;
import dev.lattice.server.store.InMemoryDocumentStore;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import org.eclipse.jetty.io.ArrayByteBufferPool;
import org.eclipse.jetty.io.ByteArrayEndPoint;
import org.eclipse.jetty.util.BufferUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The connection against Jetty's in-memory {@link ByteArrayEndPoint}: input is handed to it in
 * chosen pieces on the test thread, output read back as bytes, and timers (byte rate, close grace)
 * run by the test from the timer's queue rather than waited for.
 */
class WebSocketConnectionTest {

  private static final long MAX_QUEUED = 100;
  private static final int MAX_MESSAGE = 1 << 16;

  // Its delayed tasks (a byte-rate wait, a close grace) are far off: the test takes them off the
  // queue and runs them itself.
  private final ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1);
  private final ScheduledThreadPoolExecutor sessionTimer = new ScheduledThreadPoolExecutor(1);
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
          .scheduler(SessionScheduler.of(sessionTimer))
          .build();
  private final Set<WebSocketConnection> open = ConcurrentHashMap.newKeySet();
  private final List<Integer> counted = new CopyOnWriteArrayList<>();
  private final List<Integer> cuts = new CopyOnWriteArrayList<>();
  private final SessionObserver observer =
      new SessionObserver() {
        @Override
        public void closedByServer(int closeCode) {
          counted.add(closeCode);
        }

        @Override
        public void closeCut(int closeCode) {
          cuts.add(closeCode);
        }
      };
  private final ArrayByteBufferPool buffers = new ArrayByteBufferPool();
  private final List<ByteArrayEndPoint> endPoints = new ArrayList<>();

  @AfterEach
  void stop() {
    endPoints.forEach(ByteArrayEndPoint::close);
    timer.shutdownNow();
    sessionTimer.shutdownNow();
    hub.close();
  }

  /** Runs the timer's delayed tasks now, each once. */
  private void runTimers() {
    for (Runnable task : new ArrayList<>(timer.getQueue())) {
      if (timer.remove(task)) {
        task.run();
      }
    }
  }

  private WebSocketConnection open(long bytesPerSecond, long burst, int outputBytes) {
    ByteArrayEndPoint endPoint =
        new ByteArrayEndPoint(null, 0, null, BufferUtil.allocate(outputBytes));
    endPoints.add(endPoint);
    WebSocketConnection.Shared shared =
        new WebSocketConnection.Shared(
            sessions,
            MAX_QUEUED,
            MAX_MESSAGE,
            open,
            timer,
            observer,
            5_000,
            bytesPerSecond,
            burst,
            buffers);
    WebSocketConnection connection =
        new WebSocketConnection(
            endPoint, Runnable::run, shared, Handshake.NONE, Optional.empty(), null);
    endPoint.setConnection(connection);
    connection.onOpen();
    return connection;
  }

  private WebSocketConnection open() {
    return open(1L << 30, 1L << 30, 1 << 16);
  }

  private static ByteArrayEndPoint endPoint(WebSocketConnection c) {
    return (ByteArrayEndPoint) c.getEndPoint();
  }

  private static byte[] ping(int... payload) {
    byte[] p = new byte[payload.length];
    for (int i = 0; i < p.length; i++) {
      p[i] = (byte) payload[i];
    }
    return frame(true, 0x9, p, true);
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  /** The server frames written so far, as {opcode, payload...} arrays. */
  private static List<byte[]> written(WebSocketConnection c) {
    ByteBuffer out = endPoint(c).takeOutput();
    List<byte[]> frames = new ArrayList<>();
    while (out.hasRemaining()) {
      int opcode = out.get() & 0x0F;
      int length = out.get() & 0x7F;
      if (length == 126) {
        length = out.getShort() & 0xFFFF;
      } else if (length == 127) {
        length = (int) out.getLong();
      }
      byte[] frame = new byte[1 + length];
      frame[0] = (byte) opcode;
      out.get(frame, 1, length);
      frames.add(frame);
    }
    return frames;
  }

  @Test
  void anIdleConnectionHoldsNoReadBufferAndAHalfHeaderIsKeptUntilWhole() {
    WebSocketConnection c = open();
    assertThat(c.holdsReadBuffer()).isFalse();

    byte[] ping = ping(1, 2);
    endPoint(c).addInput(ByteBuffer.wrap(ping, 0, 1));
    assertThat(c.holdsReadBuffer()).as("a header byte waits for the rest").isTrue();
    endPoint(c).addInput(ByteBuffer.wrap(ping, 1, 4));
    endPoint(c).addInput(ByteBuffer.wrap(ping, 5, ping.length - 5));

    assertThat(written(c)).containsExactly(new byte[] {0xA, 1, 2});
    assertThat(c.holdsReadBuffer()).isFalse();
  }

  @Test
  void aPausedConnectionParsesNoFurtherFrameUntilResumed() {
    WebSocketConnection c = open();
    c.pauseReading();

    // The frame already being read still arrives; the next waits for the resume.
    endPoint(c).addInput(ByteBuffer.wrap(concat(ping(1), ping(2))));
    assertThat(written(c)).containsExactly(new byte[] {0xA, 1});

    c.resumeReading();
    assertThat(written(c)).containsExactly(new byte[] {0xA, 2});
    c.resumeReading();
    endPoint(c).addInput(ByteBuffer.wrap(ping(3)));
    assertThat(written(c)).containsExactly(new byte[] {0xA, 3});
  }

  @Test
  void aConnectionOverItsByteRateIsReadAgainOnlyOnceTheTimerFires() {
    // 25 bytes over the burst at 1 B/s: 25 s of debt, unless the test runs the timer.
    WebSocketConnection c = open(1, 100, 1 << 16);

    endPoint(c).addInput(ByteBuffer.wrap(concat(ping(new int[125]), ping(7))));
    assertThat(written(c)).hasSize(1);
    assertThat(timer.getQueue()).as("a read after the debt is paid").hasSize(1);

    runTimers();
    assertThat(written(c)).containsExactly(new byte[] {0xA, 7});
  }

  @Test
  void byteRateDebtDelaysTheNextReadByExactlyItsTime() {
    WebSocketConnection c = open(1_000, 2_000, 1 << 16);
    long t = System.nanoTime();

    assertThat(c.takeRate(1_500, t)).isZero();
    assertThat(c.takeRate(1_000, t)).isEqualTo(500_000_000L); // 500 bytes owed at 1000/s
    assertThat(c.takeRate(0, t + 500_000_000L)).isZero();
    assertThat(c.takeRate(1_000, t + 1_500_000_000L)).isZero();
    assertThat(c.takeRate(1, t + 1_500_000_000L)).isEqualTo(1_000_000L);
    // A long silence refills only up to the burst.
    assertThat(c.takeRate(2_000, t + 3_600_000_000_000L)).isZero();
    assertThat(c.takeRate(1, t + 3_600_000_000_000L)).isEqualTo(1_000_000L);
  }

  @Test
  void insideAWriteBatchFramesAreQueuedUnwrittenAndWrittenTogetherAtItsEnd() {
    WebSocketConnection c = open();
    WriteBatch.open();
    try {
      c.sendFrame(new byte[] {1});
      c.sendFrame(new byte[] {2});
      assertThat(endPoint(c).getOutput().remaining()).isZero();
      assertThat(c.queuedBytes()).isEqualTo(2);
    } finally {
      WriteBatch.close();
    }
    assertThat(written(c)).containsExactly(new byte[] {0x2, 1}, new byte[] {0x2, 2});
    assertThat(c.queuedBytes()).isZero();
  }

  @Test
  void closesWithSlowConsumerWhenQueuedBytesPassTheBoundAndCutsAPeerThatNeverReads() {
    // 10 bytes of room: a 60-byte frame stays queued.
    WebSocketConnection c = open(1L << 30, 1L << 30, 10);
    c.sendFrame(new byte[60]);
    assertThat(c.queuedBytes()).isEqualTo(60);

    c.sendFrame(new byte[60]);
    assertThat(counted).containsExactly(CloseCodes.SLOW_CONSUMER);
    assertThat(c.queuedBytes()).isEqualTo(60);
    c.sendFrame(new byte[1]);
    assertThat(c.queuedBytes()).as("nothing is queued after the close").isEqualTo(60);

    // The close grace passes without the peer reading: the connection is cut, and counted.
    runTimers();
    assertThat(cuts).containsExactly(CloseCodes.SLOW_CONSUMER);
    assertThat(endPoint(c).isOpen()).isFalse();
    c.onClose(null); // Jetty's report of the closed socket, which ByteArrayEndPoint leaves to us
    assertThat(c.ended()).isDone();
    assertThat(open).isEmpty();
    assertThat(counted).as("one close, counted once").hasSize(1);
  }

  @Test
  void aSingleFrameLargerThanTheBoundIsSentWhenNothingIsQueued() {
    WebSocketConnection c = open();
    c.sendFrame(new byte[500]);
    assertThat(counted).isEmpty();
    assertThat(written(c)).hasSize(1);
  }

  @Test
  void aPeersCloseIsAnsweredAndEndsTheConnectionOnce() {
    WebSocketConnection c = open();
    assertThat(open).containsExactly(c);
    endPoint(c).addInput(ByteBuffer.wrap(frame(true, 0x8, new byte[] {0x03, (byte) 0xE8}, true)));

    assertThat(written(c)).containsExactly(new byte[] {0x8, 0x03, (byte) 0xE8});
    assertThat(endPoint(c).isOpen()).isFalse();
    assertThat(c.holdsReadBuffer()).as("the read buffer went back to the pool").isFalse();
    c.onClose(null); // Jetty's report of the closed socket, which ByteArrayEndPoint leaves to us
    c.onClose(null);
    assertThat(c.ended()).isDone();
    assertThat(open).isEmpty();
    assertThat(counted).isEmpty();
  }

  @Test
  void aServerShutdownCloseIsCountedAndCompletedByThePeersAnswer() {
    WebSocketConnection c = open();
    c.shutDown();
    assertThat(counted).containsExactly(CloseCodes.GOING_AWAY);
    assertThat(written(c).get(0)[0]).isEqualTo((byte) 0x8);
    assertThat(endPoint(c).isOpen()).as("waits for the answer").isTrue();

    c.pauseReading(); // a paused connection still reads the answer to its close
    endPoint(c).addInput(ByteBuffer.wrap(frame(true, 0x8, new byte[] {0x03, (byte) 0xE9}, true)));
    assertThat(endPoint(c).isOpen()).isFalse();
    assertThat(cuts).isEmpty();
  }

  @Test
  void aFragmentedMessageOverTheBoundClosesWith1009() {
    WebSocketConnection c = open();
    byte[] half = new byte[MAX_MESSAGE / 2 + 1];
    endPoint(c).addInput(ByteBuffer.wrap(concat(frame(false, 0x2, half, true))));
    endPoint(c).addInput(ByteBuffer.wrap(concat(frame(true, 0x0, half, true))));
    byte[] close = written(c).get(0);
    assertThat(close[0]).isEqualTo((byte) 0x8);
    assertThat(((close[1] & 0xFF) << 8) | (close[2] & 0xFF)).isEqualTo(CloseCodes.TOO_BIG);
  }
}

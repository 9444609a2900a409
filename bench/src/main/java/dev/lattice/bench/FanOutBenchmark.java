package dev.lattice.bench;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.Hello;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.protocol.Subscribe;
import dev.lattice.protocol.Update;
import dev.lattice.server.hub.DefaultHub;
import dev.lattice.server.hub.FanOut;
import dev.lattice.server.hub.HubConfig;
import dev.lattice.server.session.ServerSession;
import dev.lattice.server.session.SessionFactory;
import dev.lattice.server.session.SessionTransport;
import dev.lattice.server.store.InMemoryDocumentStore;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The fan-out step of one round: handing one UPDATE to every subscriber's session, which encodes it
 * and queues the frame. {@code shared} is the pipeline (one {@link FanOut}, encoded by the first
 * session and the same bytes handed to all); {@code perSubscriber} is what the hub did before
 * rounds (each session encodes the update itself). Real {@link ServerSession}s, subscribed through
 * the protocol, write into a transport that only counts bytes, so the figure is the server's own
 * cost per round, without sockets.
 */
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Benchmark)
public class FanOutBenchmark {

  private static final String DOC = "bench";
  private static final MessageCodec CODEC = MessageCodec.defaults();

  @Param({"1", "100", "10000"})
  public int subscribers;

  /** Replicas whose increments the round joins: 1 (a quiet document) or 100 (a busy one). */
  @Param({"1", "100"})
  public int writersInRound;

  private DefaultHub hub;
  private final List<ServerSession> sessions = new ArrayList<>();
  private Update update;
  private long sentBytes;

  @Setup(Level.Trial)
  public void subscribe() {
    InMemoryDocumentStore store = new InMemoryDocumentStore();
    HybridLogicalClock clock = new HybridLogicalClock();
    hub = new DefaultHub(HubConfig.builder(store, ReplicaId.of(1)).executor(Runnable::run).build());
    SessionFactory factory =
        SessionFactory.builder()
            .hub(hub)
            .clock(clock)
            .serverId(ReplicaId.of(1))
            // Idle timers never fire within a trial; nothing to schedule.
            .scheduler((task, delayNanos) -> () -> {})
            .build();
    SessionTransport counting =
        new SessionTransport() {
          @Override
          public void sendFrame(byte[] frame) {
            sentBytes += frame.length;
          }

          @Override
          public void close(int code, String reason) {
            throw new IllegalStateException("closed: " + code + " " + reason);
          }
        };
    for (int i = 0; i < subscribers; i++) {
      ServerSession session = factory.open(counting);
      session.onFrame(CODEC.encode(Hello.of(ReplicaId.of(1000 + i), null, "bench")));
      session.onFrame(CODEC.encode(new Subscribe(1, DOC, VersionVector.empty())));
      sessions.add(session);
    }
    Document doc = Document.create(DOC);
    DocumentDelta joined = DocumentDelta.empty();
    for (int w = 0; w < writersInRound; w++) {
      joined = joined.join(doc.incrementGCounter(ReplicaId.of(5000 + w), "likes", 1));
    }
    update = Update.fanOut(DOC, joined);
  }

  @TearDown(Level.Trial)
  public void close() {
    if (sentBytes == 0) {
      throw new IllegalStateException("no frame was sent: the sessions are not subscribed");
    }
    hub.close();
  }

  @Benchmark
  public long shared() {
    FanOut round = new FanOut(update);
    for (ServerSession s : sessions) {
      s.sendFanOut(round);
    }
    return sentBytes;
  }

  @Benchmark
  public long perSubscriber() {
    for (ServerSession s : sessions) {
      s.send(update);
    }
    return sentBytes;
  }
}

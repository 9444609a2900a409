package dev.lattice.client;

import static dev.lattice.client.Awaits.awaitValue;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.protocol.Presence;
import dev.lattice.server.Closer;
import dev.lattice.server.LatticeServer;
import dev.lattice.server.redis.RedisDocumentStore;
import dev.lattice.server.redis.RedisReplicator;
import dev.lattice.server.redis.RedisReplicatorConfig;
import dev.lattice.server.redis.RedisServerProcess;
import dev.lattice.server.redis.RedisStoreConfig;
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.ReplicationSink;
import dev.lattice.server.spi.Replicator;
import dev.lattice.server.spi.StoreCursor;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two servers sharing a real {@code redis-server} (started by the test on a free loopback port),
 * each with a client, create one field with different types before either server hears of the
 * other's: the type Redis makes durable first wins, the other client's edit of it is refused with
 * FIELD_TYPE_MISMATCH (never acknowledged and then dropped), its replica takes the winning type and
 * value, and every other edit of both clients survives.
 */
class RedisFieldTypeArbitrationIT {

  private static final long TIMEOUT_SECONDS = 60;
  private static final String DOC = "doc";

  private final Closer closer = new Closer();

  @AfterEach
  void closeAll() throws Exception {
    closer.closeAll();
  }

  private <T extends AutoCloseable> T closeLater(T resource) {
    return closer.add(resource);
  }

  private LatticeServer server(RedisServerProcess redis, long replica, Replicator replicator) {
    ReplicaId id = ReplicaId.of(replica);
    return closeLater(
        LatticeServer.builder()
            .bindAddress("127.0.0.1")
            .port(0)
            .replicaId(id)
            .store(RedisDocumentStore.open(RedisStoreConfig.builder(redis.uri()).build()))
            .replicator(replicator)
            .build()
            .start());
  }

  private LatticeClient client(URI server) {
    return closeLater(
        LatticeClient.builder()
            .serverUri(server)
            .backoff(Duration.ofMillis(10), Duration.ofMillis(200))
            .build());
  }

  @Test
  void theTypeRedisMakesDurableFirstWinsAndTheLoserIsRefusedAndRepaired() throws Exception {
    RedisServerProcess redis = closeLater(RedisServerProcess.startDefault());
    LatticeServer one =
        server(
            redis,
            1001,
            RedisReplicator.connect(
                RedisReplicatorConfig.builder(redis.uri(), ReplicaId.of(1001)).build()));
    HeldReplicator held =
        new HeldReplicator(
            RedisReplicator.connect(
                RedisReplicatorConfig.builder(redis.uri(), ReplicaId.of(1002)).build()));
    LatticeServer two = server(redis, 1002, held);
    LatticeDocument a = client(one.uri()).open(DOC);
    LatticeDocument b = client(two.uri()).open(DOC);
    List<UpdateRejectedException> refusals = new CopyOnWriteArrayList<>();
    b.onRejected(refusals::add);
    // Both servers hold the document live and follow it.
    a.counter("warm").increment(1);
    awaitValue(b, () -> b.counter("warm").value(), 1L);

    // Server two hears nothing of server one from now on: the race two servers run when both
    // take a new field before either's announcement arrives.
    held.hold();
    a.counter("f").increment(5);
    a.counter("a").increment(1);
    a.flush().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    b.register("f").set(Value.of("text"));
    b.counter("b").increment(2);
    CompletableFuture<Void> flushed = b.flush();
    try {
      flushed.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      assertThat(e.getCause()).isInstanceOf(UpdateRejectedException.class);
      assertThat(((UpdateRejectedException) e.getCause()).errorCode())
          .contains(ErrorCode.FIELD_TYPE_MISMATCH);
    }

    // Before, the register was acknowledged and then dropped: Bob kept a register nobody else
    // had, and was never told.
    awaitValue(
        b, () -> b.snapshot().field("f").map(f -> f.type()).orElse(null), CrdtType.G_COUNTER);
    awaitValue(b, () -> b.counter("f").value(), 5L);
    awaitValue(b, b::pendingChanges, 0);
    assertThat(refusals).isNotEmpty();
    assertThat(refusals)
        .allSatisfy(r -> assertThat(r.errorCode()).contains(ErrorCode.FIELD_TYPE_MISMATCH));
    held.release();
    awaitValue(b, () -> b.counter("a").value(), 1L);
    awaitValue(a, () -> a.counter("b").value(), 2L);
    try (RedisDocumentStore store =
        RedisDocumentStore.open(RedisStoreConfig.builder(redis.uri()).build())) {
      Document stored = store.load(DOC).orElseThrow();
      assertThat(stored.typeOf("f")).contains(CrdtType.G_COUNTER);
      assertThat(stored.counterValue("f")).isEqualTo(5);
      assertThat(stored.counterValue("a")).isEqualTo(1);
      assertThat(stored.counterValue("b")).isEqualTo(2);
    }

    // Bob edits the field as what it is now: accepted everywhere, no further refusal.
    int refusalsSoFar = refusals.size();
    b.counter("f").increment(1);
    b.flush().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    awaitValue(a, () -> a.counter("f").value(), 6L);
    assertThat(refusals).hasSize(refusalsSoFar);
  }

  /**
   * A replicator whose deliveries to its server wait while held (in order, released at once by
   * {@link #release}): the server makes its own appends durable and announces them meanwhile, but
   * hears nothing of the others'. Thread-safe.
   */
  private static final class HeldReplicator implements Replicator {
    private final Replicator delegate;
    private final List<Runnable> waiting = new ArrayList<>();
    private boolean holding;

    HeldReplicator(Replicator delegate) {
      this.delegate = delegate;
    }

    synchronized void hold() {
      holding = true;
    }

    void release() {
      List<Runnable> due;
      synchronized (this) {
        holding = false;
        due = List.copyOf(waiting);
        waiting.clear();
      }
      due.forEach(Runnable::run);
    }

    private void pass(Runnable call) {
      synchronized (this) {
        if (holding) {
          waiting.add(call);
          return;
        }
      }
      call.run();
    }

    @Override
    public void start(ReplicationSink sink) {
      delegate.start(
          new ReplicationSink() {
            @Override
            public void deliver(String documentId, DocumentDelta delta, Appended appended) {
              pass(() -> sink.deliver(documentId, delta, appended));
            }

            @Override
            public void head(String documentId, StoreCursor latest) {
              pass(() -> sink.head(documentId, latest));
            }

            @Override
            public void mayHaveMissed(String documentId) {
              pass(() -> sink.mayHaveMissed(documentId));
            }

            @Override
            public void presence(Presence presence) {
              sink.presence(presence);
            }
          });
    }

    @Override
    public CompletableFuture<Void> follow(String documentId) {
      return delegate.follow(documentId);
    }

    @Override
    public void unfollow(String documentId) {
      delegate.unfollow(documentId);
    }

    @Override
    public void announce(String documentId, DocumentDelta delta, Appended appended) {
      delegate.announce(documentId, delta, appended);
    }

    @Override
    public void announcePresence(Presence presence) {
      delegate.announcePresence(presence);
    }

    @Override
    public void close() {
      delegate.close();
    }
  }
}

package dev.lattice.properties.multi;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.DocumentStore;
import dev.lattice.server.spi.StoreCursor;
import dev.lattice.server.spi.StoreException;
import dev.lattice.server.spi.StoreStats;
import dev.lattice.server.spi.StoredChanges;
import dev.lattice.server.spi.StoredDocument;
import java.util.ArrayDeque;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * One server's connection to the {@link RedisModel}, as the {@link DocumentStore} its hub writes
 * through: a pipeline. Commands queue in call order; the simulation decides when Redis runs the
 * next one (atomically, against the shared state) and, separately, when its reply reaches the
 * server, so replies come back in call order and commands of several servers interleave as the
 * schedule says. A command may fail before Redis runs it, or run and have its reply lost (a
 * timeout): both fail the future. When the server crashes the commands it already sent may still
 * run; no reply reaches anyone.
 *
 * <p>Not thread-safe: the simulation is single-threaded.
 */
final class StoreClient implements DocumentStore {

  /** How a command ends, decided by the simulation when Redis takes it. */
  enum Outcome {
    OK,
    /** Never ran (connection lost on the way): fails, Redis unchanged. */
    FAILED,
    /** Ran, but the reply was lost (a timeout): fails, Redis changed. */
    RAN_REPLY_LOST
  }

  /** A command and the future its reply completes. */
  private static final class Command<T> {
    final String what;
    final boolean writes;
    final Supplier<T> run;
    final CompletableFuture<T> future = new CompletableFuture<>();
    T result;
    Throwable failure;

    Command(String what, boolean writes, Supplier<T> run) {
      this.what = what;
      this.writes = writes;
      this.run = run;
    }

    void reply() {
      if (failure != null) {
        future.completeExceptionally(failure);
      } else {
        future.complete(result);
      }
    }
  }

  private final RedisModel redis;
  private final String name;
  private final ArrayDeque<Command<?>> sent = new ArrayDeque<>();
  private final ArrayDeque<Command<?>> replies = new ArrayDeque<>();
  private boolean dead;

  StoreClient(RedisModel redis, String name) {
    this.redis = redis;
    this.name = name;
  }

  // ---------------------------------------------------------------- the simulation's side

  boolean hasCommand() {
    return !sent.isEmpty();
  }

  boolean hasReply() {
    return !replies.isEmpty();
  }

  /** What Redis runs next, for the trace. */
  String nextCommand() {
    return sent.isEmpty() ? "nothing" : sent.peek().what;
  }

  /** Whether the next command writes (appends), so the caller may fail it. */
  boolean nextWrites() {
    return !sent.isEmpty() && sent.peek().writes;
  }

  /** Redis takes the next command and runs it, or not, as {@code outcome} says. */
  String runNext(Outcome outcome) {
    Command<?> c = sent.poll();
    run(c, outcome);
    if (!dead) {
      replies.add(c);
    }
    return name + " " + c.what + " " + outcome;
  }

  private static <T> void run(Command<T> c, Outcome outcome) {
    if (outcome == Outcome.FAILED) {
      c.failure = new StoreException("connection lost before " + c.what);
      return;
    }
    c.result = c.run.get();
    if (outcome == Outcome.RAN_REPLY_LOST) {
      c.failure = new StoreException("timed out waiting for " + c.what);
    }
  }

  /** The next reply reaches the server: completes its future. */
  String replyNext() {
    Command<?> c = replies.poll();
    c.reply();
    return name + " reply " + c.what + (c.failure == null ? " " + c.result : " failed");
  }

  /**
   * The server crashed: replies are lost; of the commands not yet run, those already on the wire
   * (the first {@code onTheWire}) still run, the rest never do.
   */
  void crash(int onTheWire) {
    dead = true;
    replies.clear();
    while (sent.size() > onTheWire) {
      sent.pollLast();
    }
  }

  int pending() {
    return sent.size() + replies.size();
  }

  // ---------------------------------------------------------------- the hub's side

  private <T> CompletableFuture<T> send(String what, boolean writes, Supplier<T> run) {
    Command<T> c = new Command<>(what, writes, run);
    if (dead) {
      return c.future; // a dead process calls nothing; never completes
    }
    sent.add(c);
    return c.future;
  }

  @Override
  public CompletableFuture<Appended> append(String documentId, DocumentDelta delta) {
    return send(
        "append " + documentId + " " + delta.context(),
        true,
        () -> redis.append(documentId, delta));
  }

  @Override
  public CompletableFuture<Optional<StoredDocument>> loadAsync(String documentId) {
    return send("load " + documentId, false, () -> redis.load(documentId));
  }

  @Override
  public CompletableFuture<StoredChanges> readSince(String documentId, StoreCursor after) {
    return send(
        "readSince " + documentId + " " + after, false, () -> redis.readSince(documentId, after));
  }

  @Override
  public Optional<Document> load(String documentId) {
    throw new UnsupportedOperationException("the hub loads asynchronously");
  }

  @Override
  public boolean exists(String documentId) {
    return redis.exists(documentId);
  }

  @Override
  public Set<String> documentIds() {
    return Set.copyOf(redis.ids());
  }

  @Override
  public void compact(String documentId) {}

  @Override
  public StoreStats stats() {
    return new StoreStats(0, 0, 0, 0, 0);
  }

  @Override
  public void close() {}

  @Override
  public String toString() {
    return name;
  }
}

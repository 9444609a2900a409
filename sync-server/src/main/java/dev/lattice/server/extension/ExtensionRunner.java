package dev.lattice.server.extension;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.server.hub.DocumentHooks;
import dev.lattice.server.session.Handshake;
import dev.lattice.server.session.SessionHooks;
import dev.lattice.server.spi.AuthResult;
import dev.lattice.server.spi.DocumentEdit;
import dev.lattice.server.spi.LatticeExtension;
import dev.lattice.server.spi.Principal;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Runs the server's {@link LatticeExtension}s for the hub ({@link DocumentHooks}) and the sessions
 * ({@link SessionHooks}), isolating the server from them: each hook call runs on the runner's own
 * threads, under a deadline, and a hook that throws, fails or misses it is logged and counted in
 * {@code lattice_extension_failures_total{hook}}. A failure refuses the connection for {@code
 * onConnect} and {@code onAuthenticate}, fails the load for {@code onLoadDocument}, and is ignored
 * for the notifications ({@code onChange}, {@code onStoreDocument}, {@code onUnloadDocument},
 * {@code onDisconnect}).
 *
 * <p>Notifications are queued per document (or connection) and delivered in order, one event to
 * every extension in turn before the next event; the hub and the sessions only queue them, so they
 * never wait for an extension. At most {@link #MAX_PENDING_NOTIFICATIONS} wait at once; more are
 * dropped and counted in {@code lattice_extension_dropped_total}.
 *
 * <p>The server builds one from {@link dev.lattice.server.LatticeServer.Builder#extension}; it is
 * public for tests and for embedders wiring a hub and sessions by hand. Thread-safe.
 */
public final class ExtensionRunner implements DocumentHooks, SessionHooks, AutoCloseable {

  /** The default deadline of one hook call: 5 seconds. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);

  /** The most notifications waiting for the extensions at once. */
  public static final int MAX_PENDING_NOTIFICATIONS = 10_000;

  private static final System.Logger LOG = System.getLogger(ExtensionRunner.class.getName());

  private final List<LatticeExtension> extensions;
  private final Duration timeout;
  private final MeterRegistry registry;
  private final ExecutorService pool;
  private final ConcurrentHashMap<String, CompletableFuture<Void>> queues =
      new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Counter> failures = new ConcurrentHashMap<>();
  private final Counter dropped;
  private final AtomicInteger pending = new AtomicInteger();
  private volatile boolean closed;

  /**
   * A runner of {@code extensions}, in order, each call within {@code timeout}, counting into
   * {@code registry}. Starts its threads (daemons); {@link #close()} stops them.
   */
  public ExtensionRunner(
      List<LatticeExtension> extensions, Duration timeout, MeterRegistry registry) {
    this.extensions = List.copyOf(extensions);
    Objects.requireNonNull(timeout, "timeout");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("the extension timeout must be positive, was " + timeout);
    }
    this.timeout = timeout;
    this.registry = Objects.requireNonNull(registry, "registry");
    this.dropped =
        Counter.builder("lattice.extension.dropped")
            .description("extension notifications dropped because too many were waiting")
            .register(registry);
    AtomicInteger n = new AtomicInteger();
    int threads = Math.max(2, Runtime.getRuntime().availableProcessors());
    this.pool =
        Executors.newFixedThreadPool(
            threads,
            r -> {
              Thread t = new Thread(r, "lattice-extension-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
  }

  /** Calls every extension's {@link LatticeExtension#onStart}, in order. */
  public void start(LatticeExtension.Context context) {
    for (LatticeExtension e : extensions) {
      e.onStart(context);
    }
  }

  /** The failures counted for {@code hook} (e.g. "onChange") so far. */
  public double failures(String hook) {
    return failureCounter(hook).count();
  }

  // ------------------------------------------------------------------ SessionHooks

  @Override
  public CompletionStage<Void> connecting(String connectionId, ReplicaId replica, int version) {
    return connecting(connectionId, replica, version, Handshake.NONE);
  }

  @Override
  public CompletionStage<Void> connecting(
      String connectionId, ReplicaId replica, int version, Handshake handshake) {
    LatticeExtension.Connect event =
        new LatticeExtension.Connect(
            connectionId, replica, version, handshake.remoteAddress(), handshake.headers());
    CompletableFuture<Void> chain = CompletableFuture.completedFuture(null);
    for (LatticeExtension e : extensions) {
      chain = chain.thenCompose(ignored -> call("onConnect", e, () -> e.onConnect(event)));
    }
    return chain;
  }

  @Override
  public CompletionStage<AuthResult> authenticated(
      String connectionId, ReplicaId replica, Optional<String> token, Principal principal) {
    CompletableFuture<AuthResult> chain =
        CompletableFuture.completedFuture(AuthResult.granted(principal));
    for (LatticeExtension e : extensions) {
      chain =
          chain.thenCompose(
              result -> {
                if (!(result instanceof AuthResult.Granted granted)) {
                  return CompletableFuture.completedFuture(result);
                }
                LatticeExtension.Authenticate event =
                    new LatticeExtension.Authenticate(
                        connectionId, replica, token, granted.principal());
                return call("onAuthenticate", e, () -> e.onAuthenticate(event))
                    .thenApply(
                        answer -> {
                          if (answer == null) {
                            failed("onAuthenticate", e, new NullPointerException("no answer"));
                            throw new IllegalStateException(
                                e.getClass().getName() + ".onAuthenticate answered null");
                          }
                          return answer;
                        });
              });
    }
    return chain;
  }

  @Override
  public void disconnected(
      String connectionId, ReplicaId replica, Principal principal, int code, String reason) {
    LatticeExtension.Disconnect event =
        new LatticeExtension.Disconnect(
            connectionId, replica, Optional.ofNullable(principal), code, reason);
    notify("c:" + connectionId, "onDisconnect", e -> e.onDisconnect(event));
  }

  // ------------------------------------------------------------------ DocumentHooks

  @Override
  public CompletionStage<List<Consumer<DocumentEdit>>> loading(String documentId, boolean isNew) {
    LatticeExtension.LoadDocument event = new LatticeExtension.LoadDocument(documentId, isNew);
    CompletableFuture<List<Consumer<DocumentEdit>>> chain =
        CompletableFuture.completedFuture(List.of());
    for (LatticeExtension e : extensions) {
      chain =
          chain.thenCompose(
              seeds ->
                  call("onLoadDocument", e, () -> e.onLoadDocument(event))
                      .thenApply(
                          seed -> {
                            if (seed == null || seed.edits().isEmpty()) {
                              return seeds;
                            }
                            List<Consumer<DocumentEdit>> more = new ArrayList<>(seeds);
                            more.add(seed.edits().get());
                            return List.copyOf(more);
                          }));
    }
    return chain;
  }

  @Override
  public void changed(LatticeExtension.Change change) {
    notify("d:" + change.documentId(), "onChange", e -> e.onChange(change));
  }

  @Override
  public void stored(String documentId, DocumentDelta delta, int updates) {
    LatticeExtension.StoreDocument event =
        new LatticeExtension.StoreDocument(documentId, delta, updates);
    notify("d:" + documentId, "onStoreDocument", e -> e.onStoreDocument(event));
  }

  @Override
  public void unloaded(String documentId) {
    LatticeExtension.UnloadDocument event = new LatticeExtension.UnloadDocument(documentId);
    notify("d:" + documentId, "onUnloadDocument", e -> e.onUnloadDocument(event));
  }

  // ------------------------------------------------------------------ running

  /**
   * Queues one event for every extension, after the events of {@code key} queued before it. Never
   * blocks and never throws: it runs on a document's or a session's thread.
   */
  private void notify(
      String key, String hook, Function<LatticeExtension, CompletionStage<Void>> hookCall) {
    if (closed || extensions.isEmpty()) {
      return;
    }
    if (pending.incrementAndGet() > MAX_PENDING_NOTIFICATIONS) {
      pending.decrementAndGet();
      dropped.increment();
      LOG.log(
          System.Logger.Level.WARNING,
          hook
              + " of "
              + key.substring(2)
              + " dropped: "
              + MAX_PENDING_NOTIFICATIONS
              + " events already wait for slow extensions");
      return;
    }
    @SuppressWarnings("unchecked")
    CompletableFuture<Void>[] mine = new CompletableFuture[1];
    queues.compute(
        key,
        (k, tail) -> {
          CompletableFuture<Void> after =
              tail == null ? CompletableFuture.completedFuture(null) : tail;
          CompletableFuture<Void> chain = after;
          for (LatticeExtension e : extensions) {
            // Each extension's failure is counted in call and swallowed here: it stops nobody.
            chain =
                chain.thenCompose(
                    ignored ->
                        call(hook, e, () -> hookCall.apply(e)).handle((v, failure) -> (Void) null));
          }
          mine[0] = chain;
          return chain;
        });
    CompletableFuture<Void> queued = mine[0];
    queued.whenComplete(
        (v, failure) -> {
          pending.decrementAndGet();
          queues.remove(key, queued);
        });
  }

  /**
   * One hook call: made on the runner's threads, its stage bounded by the timeout; a throw, a null
   * or failed stage, or the timeout is logged, counted and returned as a failed stage.
   */
  private <T> CompletableFuture<T> call(
      String hook, LatticeExtension extension, Supplier<CompletionStage<T>> hookCall) {
    CompletableFuture<T> result;
    try {
      result =
          CompletableFuture.supplyAsync(
                  () -> {
                    CompletionStage<T> stage = hookCall.get();
                    if (stage == null) {
                      throw new NullPointerException("the hook returned no stage");
                    }
                    return stage;
                  },
                  pool)
              .thenCompose(stage -> stage);
    } catch (RejectedExecutionException e) {
      result = CompletableFuture.failedFuture(e);
    }
    // Our copy times out; the extension's own stage is left alone.
    return result
        .orTimeout(timeout.toNanos(), TimeUnit.NANOSECONDS)
        .whenComplete(
            (v, failure) -> {
              if (failure != null) {
                failed(hook, extension, failure);
              }
            });
  }

  private void failed(String hook, LatticeExtension extension, Throwable failure) {
    Throwable cause = failure;
    while (cause instanceof java.util.concurrent.CompletionException && cause.getCause() != null) {
      cause = cause.getCause();
    }
    failureCounter(hook).increment();
    String name = extension.getClass().getName();
    if (cause instanceof TimeoutException) {
      LOG.log(
          System.Logger.Level.WARNING,
          "extension "
              + name
              + "."
              + hook
              + " did not complete within "
              + timeout.toMillis()
              + " ms; ignored it");
    } else {
      LOG.log(System.Logger.Level.WARNING, "extension " + name + "." + hook + " failed", cause);
    }
  }

  private Counter failureCounter(String hook) {
    return failures.computeIfAbsent(
        hook,
        h ->
            Counter.builder("lattice.extension.failures")
                .description("extension hook calls that threw, failed or timed out")
                .tag("hook", h)
                .register(registry));
  }

  /**
   * Waits (at most the timeout) for the notifications already queued, stops the threads, then calls
   * every extension's {@link LatticeExtension#onStop}, last registered first. Idempotent.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      CompletableFuture.allOf(queues.values().toArray(CompletableFuture[]::new))
          .get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (TimeoutException | ExecutionException e) {
      LOG.log(System.Logger.Level.WARNING, "extensions still busy at close; not waiting for them");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    pool.shutdownNow();
    for (int i = extensions.size() - 1; i >= 0; i--) {
      try {
        extensions.get(i).onStop();
      } catch (RuntimeException e) {
        LOG.log(
            System.Logger.Level.WARNING,
            "extension " + extensions.get(i).getClass().getName() + ".onStop failed",
            e);
      }
    }
  }
}

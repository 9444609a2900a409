package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.server.hub.HubScheduler;
import dev.lattice.server.spi.LatticeExtension;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link WebhookExtension} against a local HTTP server: delivery, debounce, retries, signature and
 * stop. Time is driven by hand through the extension's scheduler; nothing waits on a clock.
 */
class WebhookExtensionTest {

  private static final ReplicaId A = ReplicaId.of(0xA);
  private static final ReplicaId B = ReplicaId.of(0xB);
  private static final byte[] SECRET = "0123456789abcdef0123".getBytes(StandardCharsets.UTF_8);

  /** One POST as the receiver saw it. */
  record Post(String body, String signature) {}

  private final BlockingQueue<Post> posts = new LinkedBlockingQueue<>();
  private final ConcurrentLinkedQueue<Integer> statuses = new ConcurrentLinkedQueue<>();
  private final ManualScheduler scheduler = new ManualScheduler();
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private HttpServer receiver;
  private WebhookExtension webhook;

  @BeforeEach
  void startReceiver() throws Exception {
    receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    receiver.createContext(
        "/hook",
        exchange -> {
          byte[] body = exchange.getRequestBody().readAllBytes();
          posts.add(
              new Post(
                  new String(body, StandardCharsets.UTF_8),
                  exchange.getRequestHeaders().getFirst(WebhookExtension.SIGNATURE_HEADER)));
          Integer status = statuses.poll();
          exchange.sendResponseHeaders(status == null ? 204 : status, -1);
          exchange.close();
        });
    receiver.start();
  }

  @AfterEach
  void stop() {
    if (webhook != null) {
      webhook.onStop();
    }
    receiver.stop(0);
  }

  private WebhookExtension webhook(WebhookExtension.Builder builder) {
    webhook = builder.scheduler(scheduler).jitter(() -> 0.0).build();
    webhook.onStart(new StubContext(registry));
    return webhook;
  }

  private WebhookExtension.Builder builder() {
    URI url = URI.create("http://127.0.0.1:" + receiver.getAddress().getPort() + "/hook");
    return WebhookExtension.builder(url).requestTimeout(Duration.ofSeconds(10));
  }

  private static LatticeExtension.Change change(String documentId, ReplicaId replica, String f) {
    DocumentDelta delta = Document.create(documentId).incrementGCounter(replica, f, 1);
    return new LatticeExtension.Change(
        documentId, delta, replica, Optional.empty(), LatticeExtension.Source.CLIENT);
  }

  private Post post() throws InterruptedException {
    Post p = posts.poll(10, TimeUnit.SECONDS);
    assertThat(p).as("a POST within 10 s").isNotNull();
    return p;
  }

  private double count(String name, String... tags) {
    var counter = registry.find(name).tags(tags).counter();
    return counter == null ? 0 : counter.count();
  }

  @Test
  void postsADocumentsChangeAsJson() throws Exception {
    webhook(builder());
    webhook.onChange(change("board", A, "likes"));

    ManualScheduler.Task window = scheduler.next();
    assertThat(window.delay()).isEqualTo(WebhookExtension.DEFAULT_DEBOUNCE);
    window.run();

    assertThat(post().body())
        .isEqualTo(
            "{\"event\":\"change\",\"document\":{\"id\":\"board\",\"fields\":[\"likes\"]},"
                + "\"replicas\":[\"000000000000000a\"],\"changes\":1}");
    assertThat(post(() -> count("lattice.webhook.deliveries", "result", "delivered"))).isOne();
  }

  @Test
  void changesOfADocumentWithinTheWindowRideInOnePost() throws Exception {
    webhook(builder().debounce(Duration.ofMillis(250)));
    for (int i = 0; i < 5; i++) {
      webhook.onChange(change("a", i % 2 == 0 ? B : A, i < 3 ? "x" : "y"));
    }
    webhook.onChange(change("b", A, "z"));

    // One window per document, however many changes.
    ManualScheduler.Task first = scheduler.next();
    ManualScheduler.Task second = scheduler.next();
    assertThat(scheduler.pending()).isZero();
    assertThat(first.delay()).isEqualTo(Duration.ofMillis(250));
    first.run();
    second.run();

    Set<String> bodies = new TreeSet<>(Set.of(post().body(), post().body()));
    assertThat(bodies)
        .containsExactly(
            "{\"event\":\"change\",\"document\":{\"id\":\"a\",\"fields\":[\"x\",\"y\"]},"
                + "\"replicas\":[\"000000000000000a\",\"000000000000000b\"],\"changes\":5}",
            "{\"event\":\"change\",\"document\":{\"id\":\"b\",\"fields\":[\"z\"]},"
                + "\"replicas\":[\"000000000000000a\"],\"changes\":1}");

    // A change after the window closed opens the next one.
    webhook.onChange(change("a", A, "x"));
    scheduler.next().run();
    assertThat(post().body()).contains("\"changes\":1");
  }

  @Test
  void aPostAnswered500IsRetriedWithAGrowingBackOffUntilDelivered() throws Exception {
    statuses.add(500);
    statuses.add(503);
    webhook(builder().initialBackoff(Duration.ofMillis(100)).maxBackoff(Duration.ofSeconds(1)));
    webhook.onChange(change("board", A, "likes"));
    scheduler.next().run();
    String body = post().body();

    ManualScheduler.Task retry = scheduler.next();
    assertThat(retry.delay()).isEqualTo(Duration.ofMillis(50)); // half of 100 ms, jitter 0
    retry.run();
    assertThat(post().body()).isEqualTo(body);
    ManualScheduler.Task again = scheduler.next();
    assertThat(again.delay()).isEqualTo(Duration.ofMillis(100)); // doubled
    again.run();
    assertThat(post().body()).isEqualTo(body);

    assertThat(post(() -> count("lattice.webhook.deliveries", "result", "delivered"))).isOne();
    assertThat(count("lattice.webhook.retries")).isEqualTo(2);
  }

  @Test
  void aPostThatKeepsFailingIsDroppedAfterItsAttemptsAndCounted() throws Exception {
    for (int i = 0; i < 3; i++) {
      statuses.add(500);
    }
    webhook(builder().maxAttempts(3).initialBackoff(Duration.ofMillis(10)));
    webhook.onChange(change("board", A, "likes"));
    scheduler.next().run();
    post();
    scheduler.next().run();
    post();
    scheduler.next().run();
    post();

    assertThat(post(() -> count("lattice.webhook.deliveries", "result", "failed"))).isOne();
    assertThat(scheduler.pending()).isZero(); // no fourth attempt
  }

  @Test
  void aSignedPostCarriesTheHmacOfItsBody() throws Exception {
    webhook(builder().secret(SECRET));
    webhook.onChange(change("board", A, "likes"));
    scheduler.next().run();

    Post p = post();
    javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
    mac.init(new javax.crypto.spec.SecretKeySpec(SECRET, "HmacSHA256"));
    String expected =
        "sha256="
            + java.util.HexFormat.of()
                .formatHex(mac.doFinal(p.body().getBytes(StandardCharsets.UTF_8)));
    assertThat(p.signature()).isEqualTo(expected);
    assertThat(WebhookExtension.signature("another secret!!".getBytes(), p.body().getBytes()))
        .isNotEqualTo(p.signature());
  }

  @Test
  void stopSendsOpenWindowsAtOnceAndRetriesNothing() throws Exception {
    statuses.add(500);
    webhook(builder());
    webhook.onChange(change("board", A, "likes"));
    scheduler.next(); // the window, never run by hand

    webhook.onStop();
    webhook = null;

    assertThat(post().body()).contains("\"changes\":1");
    assertThat(post(() -> count("lattice.webhook.deliveries", "result", "failed"))).isOne();
    assertThat(scheduler.pending()).isZero(); // the failed POST is not retried
  }

  /** Waits (bounded) until {@code value} is positive: counters move just after the POST answers. */
  private static double post(java.util.function.DoubleSupplier value) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (value.getAsDouble() == 0 && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    return value.getAsDouble();
  }

  /** Renders a document as its id and the field names asked for. */
  private record StubContext(MeterRegistry meterRegistry) implements LatticeExtension.Context {
    @Override
    public ReplicaId serverReplicaId() {
      return ReplicaId.of(0x5E);
    }

    @Override
    public Optional<Document> document(String documentId) {
      return Optional.empty();
    }

    @Override
    public Optional<String> documentJson(String documentId, Set<String> fields) {
      return Optional.of(
          "{\"id\":\""
              + documentId
              + "\",\"fields\":"
              + new TreeSet<>(fields)
                  .stream()
                      .map(f -> "\"" + f + "\"")
                      .collect(java.util.stream.Collectors.joining(",", "[", "]"))
              + "}");
    }
  }

  /** A scheduler whose tasks the test runs by hand, in the order they were scheduled. */
  static final class ManualScheduler implements HubScheduler {
    /** One scheduled task. */
    record Task(Runnable action, Duration delay, AtomicBoolean cancelled) {
      void run() {
        if (!cancelled.get()) {
          action.run();
        }
      }
    }

    private final BlockingQueue<Task> tasks = new LinkedBlockingQueue<>();

    @Override
    public Cancellable schedule(Runnable task, Duration delay) {
      Task t = new Task(task, delay, new AtomicBoolean());
      tasks.add(t);
      return () -> t.cancelled.set(true);
    }

    @Override
    public long nanoTime() {
      return 0;
    }

    /** The next task scheduled, waiting up to 10 s for it. */
    Task next() throws InterruptedException {
      Task t = tasks.poll(10, TimeUnit.SECONDS);
      assertThat(t).as("a scheduled task within 10 s").isNotNull();
      return t;
    }

    int pending() {
      return tasks.size();
    }
  }
}

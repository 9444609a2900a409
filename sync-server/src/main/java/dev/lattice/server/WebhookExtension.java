package dev.lattice.server;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.server.hub.HubScheduler;
import dev.lattice.server.spi.LatticeExtension;
import io.micrometer.core.instrument.Counter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * An extension that POSTs each document's durable changes to a URL as JSON, with the JDK's {@link
 * HttpClient}:
 *
 * <pre>{@code
 * {"event":"change",
 *  "document":{"id":"board","fields":{"likes":{"type":"G_COUNTER","value":7}}},
 *  "replicas":["000000000000000a"],
 *  "changes":3}
 * }</pre>
 *
 * <p>{@code document} is what {@code GET /v1/docs/{id}} renders, read from the store when the POST
 * is made, restricted to the fields the changes touched (null if the document is gone); {@code
 * replicas} are the replica ids that made the changes (16 hex digits, sorted), {@code changes} how
 * many updates the POST covers.
 *
 * <p><b>Debounce.</b> A document's first change opens a window of {@link Builder#debounce} (default
 * 2 s); every change of the document within it rides in the same POST, sent when the window closes.
 * So a document sends at most one POST per window, however busy it is.
 *
 * <p><b>Retries.</b> A POST answered with anything but 2xx, or not answered within {@link
 * Builder#requestTimeout}, is tried again after an exponential back-off with jitter (the {@link
 * Builder#initialBackoff}, doubling per attempt up to {@link Builder#maxBackoff}, each wait drawn
 * between half and all of that), at most {@link Builder#maxAttempts} times in all; then it is
 * logged and counted in {@code lattice_webhook_deliveries_total{result="failed"}}. Changes that
 * arrive meanwhile go into the next POST. Delivered POSTs count as {@code result="delivered"},
 * retries in {@code lattice_webhook_retries_total}.
 *
 * <p><b>Signature.</b> With a {@link Builder#secret}, each POST carries {@code X-Lattice-Signature:
 * sha256=<hex>}, the HMAC-SHA256 of the body's bytes under the secret, so the receiver can tell the
 * POST came from the server and was not changed.
 *
 * <p><b>Shutdown.</b> When the server stops, every open window is sent at once, with one attempt
 * each, and the extension waits up to the request timeout for them; retries still waiting are
 * dropped (and logged).
 *
 * <p>At least once: a POST that reached the receiver but whose answer was lost is sent again, so a
 * receiver should tolerate repeats. Thread-safe.
 */
public final class WebhookExtension implements LatticeExtension {

  /** The header carrying the body's HMAC-SHA256, as {@code sha256=<hex>}. */
  public static final String SIGNATURE_HEADER = "X-Lattice-Signature";

  /** Default {@link Builder#debounce}: 2 seconds. */
  public static final Duration DEFAULT_DEBOUNCE = Duration.ofSeconds(2);

  private static final System.Logger LOG = System.getLogger(WebhookExtension.class.getName());

  private final URI url;
  private final byte[] secret;
  private final Duration debounce;
  private final int maxAttempts;
  private final Duration initialBackoff;
  private final Duration maxBackoff;
  private final Duration requestTimeout;
  private final DoubleSupplier jitter;
  // Made at start, not in the builder: an extension built only to check options owns no thread.
  private volatile HttpClient http;
  private volatile HubScheduler scheduler;
  private volatile ScheduledExecutorService ownedScheduler;

  private final Object lock = new Object();
  private final Map<String, Batch> open = new HashMap<>(); // guarded by lock
  private final List<CompletableFuture<?>> inFlight = new ArrayList<>(); // guarded by lock
  private boolean stopped; // guarded by lock

  private volatile Context context;
  private volatile Counter delivered;
  private volatile Counter failed;
  private volatile Counter retries;

  private WebhookExtension(Builder b) {
    this.url = b.url;
    this.secret = b.secret;
    this.debounce = b.debounce;
    this.maxAttempts = b.maxAttempts;
    this.initialBackoff = b.initialBackoff;
    this.maxBackoff = b.maxBackoff;
    this.requestTimeout = b.requestTimeout;
    this.http = b.http;
    this.jitter = b.jitter;
    this.scheduler = b.scheduler;
  }

  /** A builder of a webhook that POSTs to {@code url} (http or https). */
  public static Builder builder(URI url) {
    return new Builder(url);
  }

  @Override
  public void onStart(Context context) {
    this.context = context;
    if (http == null) {
      http = HttpClient.newBuilder().build();
    }
    if (scheduler == null) {
      ownedScheduler =
          Executors.newSingleThreadScheduledExecutor(
              r -> {
                Thread t = new Thread(r, "lattice-webhook");
                t.setDaemon(true);
                return t;
              });
      scheduler = HubScheduler.of(ownedScheduler);
    }
    var registry = context.meterRegistry();
    this.delivered =
        Counter.builder("lattice.webhook.deliveries")
            .description("webhook POSTs by outcome")
            .tag("result", "delivered")
            .register(registry);
    this.failed =
        Counter.builder("lattice.webhook.deliveries")
            .description("webhook POSTs by outcome")
            .tag("result", "failed")
            .register(registry);
    this.retries =
        Counter.builder("lattice.webhook.retries")
            .description("webhook POSTs tried again after a failed attempt")
            .register(registry);
  }

  @Override
  public CompletionStage<Void> onChange(Change change) {
    synchronized (lock) {
      if (stopped) {
        return CompletableFuture.completedFuture(null);
      }
      Batch batch = open.get(change.documentId());
      if (batch == null) {
        batch = new Batch(change.documentId());
        open.put(change.documentId(), batch);
        Batch b = batch;
        batch.timer = scheduler.schedule(() -> close(b), debounce);
      }
      batch.fields.addAll(change.fields());
      batch.replicas.add(change.replicaId());
      batch.changes++;
    }
    return CompletableFuture.completedFuture(null);
  }

  /** The window of {@code batch} closed: it leaves the open set and is sent. */
  private void close(Batch batch) {
    synchronized (lock) {
      if (open.get(batch.documentId) != batch) {
        return; // sent already, by a stop
      }
      open.remove(batch.documentId);
    }
    send(batch, maxAttempts);
  }

  private void send(Batch batch, int attempts) {
    byte[] body;
    try {
      body = body(batch).getBytes(StandardCharsets.UTF_8);
    } catch (RuntimeException e) {
      // The store could not be read: worth another try, like a failed POST.
      LOG.log(System.Logger.Level.WARNING, "webhook: cannot read " + batch.documentId, e);
      attemptFailed(batch, null, 1, attempts);
      return;
    }
    attempt(batch, body, 1, attempts);
  }

  private void attempt(Batch batch, byte[] body, int attempt, int attempts) {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(url)
            .timeout(requestTimeout)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    if (secret != null) {
      request.header(SIGNATURE_HEADER, signature(secret, body));
    }
    CompletableFuture<HttpResponse<Void>> sent;
    try {
      sent = http.sendAsync(request.build(), HttpResponse.BodyHandlers.discarding());
    } catch (RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    track(sent);
    sent.whenComplete(
        (response, failure) -> {
          if (failure == null && response.statusCode() / 100 == 2) {
            count(delivered);
            return;
          }
          String why = failure != null ? failure.toString() : "HTTP " + response.statusCode();
          if (attempt < attempts) {
            attemptFailed(batch, body, attempt + 1, attempts);
          } else {
            count(failed);
            LOG.log(
                System.Logger.Level.WARNING,
                "webhook: gave up on a POST of "
                    + batch.changes
                    + " changes of document "
                    + batch.documentId
                    + " after "
                    + attempt
                    + " attempts; last: "
                    + why);
          }
        });
  }

  /** Schedules attempt {@code next} after the back-off, unless stopped. */
  private void attemptFailed(Batch batch, byte[] body, int next, int attempts) {
    long base = initialBackoff.toNanos() << Math.min(next - 2, 30);
    long capped = Math.min(maxBackoff.toNanos(), base <= 0 ? maxBackoff.toNanos() : base);
    long wait = (long) (capped * (0.5 + 0.5 * jitter.getAsDouble()));
    synchronized (lock) {
      if (stopped) {
        LOG.log(
            System.Logger.Level.WARNING,
            "webhook: stopping; dropped a retry of document " + batch.documentId);
        count(failed);
        return;
      }
    }
    count(retries);
    scheduler.schedule(
        () -> {
          if (body == null) {
            send(batch, attempts - next + 1);
          } else {
            attempt(batch, body, next, attempts);
          }
        },
        Duration.ofNanos(wait));
  }

  private void track(CompletableFuture<?> sent) {
    synchronized (lock) {
      inFlight.add(sent);
    }
    sent.whenComplete(
        (r, e) -> {
          synchronized (lock) {
            inFlight.remove(sent);
          }
        });
  }

  private static void count(Counter counter) {
    if (counter != null) {
      counter.increment();
    }
  }

  private String body(Batch batch) {
    Context c = context;
    Optional<String> document =
        c == null ? Optional.empty() : c.documentJson(batch.documentId, Set.copyOf(batch.fields));
    StringBuilder out = new StringBuilder(128);
    out.append("{\"event\":\"change\",\"document\":").append(document.orElse("null"));
    out.append(",\"replicas\":[");
    boolean first = true;
    for (ReplicaId r : batch.replicas) {
      if (!first) {
        out.append(',');
      }
      first = false;
      out.append('"').append(r).append('"');
    }
    return out.append("],\"changes\":").append(batch.changes).append('}').toString();
  }

  /** {@code sha256=<hex>}: the HMAC-SHA256 of {@code body} under {@code secret}. */
  public static String signature(byte[] secret, byte[] body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret, "HmacSHA256"));
      return "sha256=" + HexFormat.of().formatHex(mac.doFinal(body));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is missing from this JDK", e);
    }
  }

  /**
   * Sends every open window at once (one attempt each), waits up to the request timeout for the
   * POSTs in flight, and drops retries still waiting.
   */
  @Override
  public void onStop() {
    List<Batch> pending;
    synchronized (lock) {
      if (stopped) {
        return;
      }
      pending = new ArrayList<>(open.values());
      open.clear();
      stopped = true; // from now on changes are not gathered and failed POSTs not retried
    }
    for (Batch b : pending) {
      b.timer.cancel();
      send(b, 1);
    }
    List<CompletableFuture<?>> waiting;
    synchronized (lock) {
      waiting = new ArrayList<>(inFlight);
    }
    try {
      CompletableFuture.allOf(waiting.toArray(CompletableFuture[]::new))
          .handle((v, e) -> null)
          .get(requestTimeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (Exception e) {
      LOG.log(System.Logger.Level.WARNING, "webhook: POSTs still in flight at stop");
    }
    if (ownedScheduler != null) {
      ownedScheduler.shutdownNow();
    }
  }

  @Override
  public String toString() {
    return "WebhookExtension[" + where(url) + ", debounce " + debounce + "]";
  }

  /** The URL for a log line: scheme, host, port and path, without user info or query. */
  public static String where(URI url) {
    return url.getScheme()
        + "://"
        + url.getHost()
        + (url.getPort() < 0 ? "" : ":" + url.getPort())
        + (url.getRawPath() == null ? "" : url.getRawPath());
  }

  /** One document's changes waiting for their window to close. Guarded by the extension's lock. */
  private static final class Batch {
    final String documentId;
    final TreeSet<String> fields = new TreeSet<>();
    final TreeSet<ReplicaId> replicas = new TreeSet<>();
    int changes;
    HubScheduler.Cancellable timer;

    Batch(String documentId) {
      this.documentId = documentId;
    }
  }

  /**
   * Builds a {@link WebhookExtension}. Defaults: no signature, 2 s debounce, 5 attempts, back-off
   * from 500 ms up to 30 s, 10 s request timeout. Not thread-safe.
   */
  public static final class Builder {
    private final URI url;
    private byte[] secret;
    private Duration debounce = DEFAULT_DEBOUNCE;
    private int maxAttempts = 5;
    private Duration initialBackoff = Duration.ofMillis(500);
    private Duration maxBackoff = Duration.ofSeconds(30);
    private Duration requestTimeout = Duration.ofSeconds(10);
    private HttpClient http;
    private HubScheduler scheduler;
    private DoubleSupplier jitter = () -> ThreadLocalRandom.current().nextDouble();

    private Builder(URI url) {
      Objects.requireNonNull(url, "url");
      String scheme = url.getScheme();
      if (!"http".equals(scheme) && !"https".equals(scheme)) {
        throw new IllegalArgumentException("a webhook URL is http:// or https://, was " + url);
      }
      this.url = url;
    }

    /** Sign each body with HMAC-SHA256 under {@code secret} (at least 16 bytes). */
    public Builder secret(byte[] secret) {
      Objects.requireNonNull(secret, "secret");
      if (secret.length < 16) {
        throw new IllegalArgumentException(
            "a webhook secret needs at least 16 bytes, had " + secret.length);
      }
      this.secret = secret.clone();
      return this;
    }

    /** How long a document's changes are gathered into one POST; positive, default 2 s. */
    public Builder debounce(Duration debounce) {
      Objects.requireNonNull(debounce, "debounce");
      if (debounce.isNegative() || debounce.isZero()) {
        throw new IllegalArgumentException("debounce must be positive, was " + debounce);
      }
      this.debounce = debounce;
      return this;
    }

    /** Attempts per POST, the first included; at least 1, default 5. */
    public Builder maxAttempts(int attempts) {
      if (attempts < 1) {
        throw new IllegalArgumentException("maxAttempts must be at least 1, was " + attempts);
      }
      this.maxAttempts = attempts;
      return this;
    }

    /** The back-off before the second attempt (doubling after); positive, default 500 ms. */
    public Builder initialBackoff(Duration backoff) {
      Objects.requireNonNull(backoff, "initialBackoff");
      if (backoff.isNegative() || backoff.isZero()) {
        throw new IllegalArgumentException("initialBackoff must be positive, was " + backoff);
      }
      this.initialBackoff = backoff;
      return this;
    }

    /** The longest back-off; at least the initial one, default 30 s. */
    public Builder maxBackoff(Duration backoff) {
      Objects.requireNonNull(backoff, "maxBackoff");
      if (backoff.compareTo(initialBackoff) < 0) {
        throw new IllegalArgumentException(
            "maxBackoff must be at least initialBackoff " + initialBackoff + ", was " + backoff);
      }
      this.maxBackoff = backoff;
      return this;
    }

    /** How long one POST may take; positive, default 10 s. */
    public Builder requestTimeout(Duration timeout) {
      Objects.requireNonNull(timeout, "requestTimeout");
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("requestTimeout must be positive, was " + timeout);
      }
      this.requestTimeout = timeout;
      return this;
    }

    /** The HTTP client (proxy, TLS settings); default a new one with the JDK's defaults. */
    public Builder httpClient(HttpClient http) {
      this.http = Objects.requireNonNull(http, "httpClient");
      return this;
    }

    /**
     * The scheduler of windows and retries; default one daemon thread, stopped with the extension.
     * For tests that drive time by hand.
     */
    public Builder scheduler(HubScheduler scheduler) {
      this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
      return this;
    }

    /** The jitter source, uniform in [0, 1); for tests. */
    public Builder jitter(DoubleSupplier jitter) {
      this.jitter = Objects.requireNonNull(jitter, "jitter");
      return this;
    }

    public WebhookExtension build() {
      return new WebhookExtension(this);
    }
  }
}

package dev.lattice.server;

import dev.lattice.protocol.CloseCodes;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.server.hub.DefaultHub;
import dev.lattice.server.hub.HubObserver;
import dev.lattice.server.hub.HubStats;
import dev.lattice.server.redis.RedisReplicator;
import dev.lattice.server.session.SessionObserver;
import dev.lattice.server.spi.DocumentStore;
import dev.lattice.server.spi.StoreStats;
import io.lettuce.core.metrics.CommandLatencyRecorder;
import io.lettuce.core.metrics.MicrometerCommandLatencyRecorder;
import io.lettuce.core.metrics.MicrometerOptions;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.cache.CaffeineCacheMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.Collection;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import java.util.function.ToDoubleFunction;

/**
 * The server's Micrometer meters, served as Prometheus text at {@code /metrics}. Timings and
 * per-frame counts arrive through the hub and session observers; the hub's and store's own counters
 * are read when scraped, so the hot path pays for nothing it already counts.
 *
 * <p>Meter names (Prometheus form): {@code lattice_connections}, {@code lattice_documents_live},
 * {@code lattice_subscriptions}, {@code lattice_updates_in_total{result=merged|duplicate|refused}},
 * {@code lattice_updates_out_total}, {@code lattice_presence_out_total}, {@code
 * lattice_received_bytes_total}, {@code lattice_sent_bytes_total}, {@code lattice_frame_bytes}
 * (summary of incoming frame sizes), {@code lattice_errors_total{code=...}}, {@code
 * lattice_closes_total{code=...,name=...}} (every close the server makes, session or transport),
 * {@code lattice_close_cuts_total{code=...,name=...}} (closes the peer never read, dropped after
 * the grace), {@code lattice_upgrades_refused_total{status=...}} (401 for a refused token, 403 for
 * a disallowed origin, 429 and 503 for the connection and handshake limits, 503 while stopping),
 * {@code lattice_merge_seconds}, {@code lattice_fanout_seconds}, {@code
 * lattice_store_commit_seconds} (histograms), {@code lattice_store_*}, {@code
 * lattice_document_loads_total}, {@code lattice_replication_*} (deltas received, repairs, reseeds,
 * type conflicts; in Redis mode also messages published and received, publish failures, reconnects,
 * head checks and the lag histogram {@code lattice_replication_lag_seconds}), Lettuce's {@code
 * lettuce_command_completion_seconds} in Redis mode, the Caffeine cache meters ({@code
 * cache_*{cache="documents"}}) and the JVM's.
 *
 * <p>Thread-safe.
 */
final class ServerMetrics implements HubObserver, SessionObserver {

  private final PrometheusMeterRegistry registry =
      new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Counter bytesIn;
  private final Counter bytesOut;
  private final DistributionSummary frameSizes;
  private final Timer merge;
  private final Timer fanOut;
  private final Timer storeCommit;
  private final ConcurrentHashMap<Integer, Counter> errors = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Integer, Counter> closes = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Integer, Counter> cuts = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Integer, Counter> upgradesRefused = new ConcurrentHashMap<>();

  ServerMetrics() {
    bytesIn =
        Counter.builder("lattice.received")
            .description("bytes of WebSocket frames received")
            .baseUnit("bytes")
            .register(registry);
    bytesOut =
        Counter.builder("lattice.sent")
            .description("bytes of WebSocket frames sent")
            .baseUnit("bytes")
            .register(registry);
    frameSizes =
        DistributionSummary.builder("lattice.frame")
            .description("sizes of received frames")
            .baseUnit("bytes")
            .register(registry);
    merge = latency("lattice.merge", "checking and merging one update into its document");
    fanOut =
        latency(
            "lattice.fanout",
            "from an update's arrival to its hand-off to every other subscriber (durable first)");
    storeCommit =
        latency("lattice.store.commit", "from handing a delta to the store to it being durable");
    new JvmMemoryMetrics().bindTo(registry);
    new JvmGcMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
  }

  private Timer latency(String name, String description) {
    return Timer.builder(name)
        .description(description)
        .publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofNanos(10_000))
        .maximumExpectedValue(Duration.ofSeconds(10))
        .register(registry);
  }

  /** Binds the gauges and counters that are read from their owners at scrape time. */
  void bind(
      DefaultHub hub, DocumentStore store, Collection<?> connections, CaffeineDocumentCache cache) {
    Gauge.builder("lattice.connections", connections, Collection::size)
        .description("open WebSocket connections")
        .register(registry);
    hubGauge(hub, "lattice.documents.live", "documents held in memory", HubStats::documentsLive);
    hubGauge(
        hub,
        "lattice.subscriptions",
        "(connection, document) subscriptions",
        HubStats::subscriptions);
    hubCounter(hub, "lattice.updates.in", "merged", HubStats::updatesMerged);
    hubCounter(hub, "lattice.updates.in", "duplicate", HubStats::duplicateUpdates);
    hubCounter(hub, "lattice.updates.in", "refused", HubStats::refusedUpdates);
    FunctionCounter.builder("lattice.updates.out", hub, h -> h.stats().fanOutMessages())
        .description("updates fanned out to subscribers")
        .register(registry);
    FunctionCounter.builder("lattice.presence.out", hub, h -> h.stats().presenceMessages())
        .description("presence messages sent")
        .register(registry);
    FunctionCounter.builder("lattice.document.loads", hub, h -> h.stats().loads())
        .description("documents loaded from the store")
        .register(registry);
    FunctionCounter.builder("lattice.document.cache.hits", hub, h -> h.stats().cacheHits())
        .description("idle documents taken from the cache instead of loaded from the store")
        .register(registry);
    FunctionCounter.builder(
            "lattice.replication.deltas.received", hub, h -> h.stats().remoteDeltas())
        .description("deltas of other server processes merged here")
        .register(registry);
    FunctionCounter.builder("lattice.replication.repairs", hub, h -> h.stats().repairs())
        .description("store reads after a lost or doubtful replication message")
        .register(registry);
    FunctionCounter.builder("lattice.replication.gaps", hub, h -> h.stats().gaps())
        .description("lost replication messages noticed (a break that did not heal in time)")
        .register(registry);
    FunctionCounter.builder("lattice.replication.reseeds", hub, h -> h.stats().reseeds())
        .description("documents written back whole to a store that had lost them")
        .register(registry);
    FunctionCounter.builder(
            "lattice.replication.type.conflicts", hub, h -> h.stats().typeConflicts())
        .description(
            "rounds the store refused: another server made a field durable first with another type")
        .register(registry);
    FunctionCounter.builder("lattice.store.append.failures", hub, h -> h.stats().appendFailures())
        .description("appends the store failed")
        .register(registry);
    storeCounter(
        store, "lattice.store.commits", "durable commits (one sync each)", StoreStats::commits);
    storeCounter(store, "lattice.store.deltas", "deltas made durable", StoreStats::appendedDeltas);
    storeCounter(
        store, "lattice.store.failed.commits", "commits that failed", StoreStats::failedCommits);
    storeCounter(
        store,
        "lattice.store.compactions",
        "deltas folded into snapshots",
        StoreStats::compactions);
    CaffeineCacheMetrics.monitor(registry, cache.caffeine(), "documents");
  }

  private void hubGauge(
      DefaultHub hub, String name, String description, ToDoubleFunction<HubStats> value) {
    Gauge.builder(name, hub, h -> value.applyAsDouble(h.stats()))
        .description(description)
        .register(registry);
  }

  private void hubCounter(
      DefaultHub hub, String name, String result, ToDoubleFunction<HubStats> value) {
    FunctionCounter.builder(name, hub, h -> value.applyAsDouble(h.stats()))
        .description("updates received, by what became of them")
        .tag("result", result)
        .register(registry);
  }

  private void storeCounter(
      DocumentStore store, String name, String description, ToDoubleFunction<StoreStats> value) {
    FunctionCounter.builder(name, store, s -> value.applyAsDouble(s.stats()))
        .description(description)
        .register(registry);
  }

  /**
   * Registers the replication lag histogram (Redis mode only) and returns what records into it:
   * milliseconds from another server's publish to its receipt here.
   */
  LongConsumer replicationLag() {
    Timer lag =
        latency(
            "lattice.replication.lag",
            "from another server publishing a delta to its receipt here (the two wall clocks)");
    return millis -> lag.record(millis, TimeUnit.MILLISECONDS);
  }

  /**
   * Lettuce's per-command latency into this registry ({@code lettuce_command_completion_seconds} by
   * command and Redis address), for the Redis mode's client resources.
   */
  CommandLatencyRecorder redisCommandLatency() {
    return new MicrometerCommandLatencyRecorder(
        registry, MicrometerOptions.builder().histogram(true).build());
  }

  /** Binds the counters of the Redis replicator. */
  void bindReplicator(RedisReplicator replicator) {
    replicatorCounter(
        replicator,
        "lattice.replication.published",
        "round and presence messages published to other servers",
        RedisReplicator.Stats::published);
    replicatorCounter(
        replicator,
        "lattice.replication.publish.failures",
        "publishes that failed (Redis away); the other servers repair from the store",
        RedisReplicator.Stats::publishFailures);
    replicatorCounter(
        replicator,
        "lattice.replication.messages.received",
        "messages of other servers received for documents live here",
        RedisReplicator.Stats::received);
    replicatorCounter(
        replicator,
        "lattice.replication.unreadable",
        "messages that could not be read, each answered by a repair",
        RedisReplicator.Stats::unreadable);
    replicatorCounter(
        replicator,
        "lattice.replication.reconnects",
        "reconnections of the subscription, each answered by repairing every live document",
        RedisReplicator.Stats::reconnects);
    replicatorCounter(
        replicator,
        "lattice.replication.head.checks",
        "rounds of the periodic check of every live document's head in Redis",
        RedisReplicator.Stats::headChecks);
  }

  private void replicatorCounter(
      RedisReplicator replicator,
      String name,
      String description,
      ToDoubleFunction<RedisReplicator.Stats> value) {
    FunctionCounter.builder(name, replicator, r -> value.applyAsDouble(r.stats()))
        .description(description)
        .register(registry);
  }

  /** The meters in Prometheus text exposition format. */
  String scrape() {
    return registry.scrape();
  }

  /** The registry, for embedders that export elsewhere too. */
  PrometheusMeterRegistry registry() {
    return registry;
  }

  // ------------------------------------------------------------------ HubObserver

  @Override
  public void merged(long nanos) {
    merge.record(nanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void appended(long nanos) {
    storeCommit.record(nanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void fannedOut(int recipients, long nanos) {
    fanOut.record(nanos, TimeUnit.NANOSECONDS);
  }

  // ------------------------------------------------------------------ SessionObserver

  @Override
  public void frameReceived(int bytes) {
    bytesIn.increment(bytes);
    frameSizes.record(bytes);
  }

  @Override
  public void frameSent(int bytes) {
    bytesOut.increment(bytes);
  }

  @Override
  public void errorSent(int code) {
    errors
        .computeIfAbsent(
            code,
            c ->
                Counter.builder("lattice.errors")
                    .description("ERROR messages sent, by protocol error code")
                    .tag(
                        "code",
                        ErrorCode.fromCode(c).map(ErrorCode::name).orElse(String.valueOf(c)))
                    .register(registry))
        .increment();
  }

  @Override
  public void closedByServer(int closeCode) {
    closes
        .computeIfAbsent(
            closeCode,
            c ->
                Counter.builder("lattice.closes")
                    .description("connections the server closed, by WebSocket close code")
                    .tag("code", String.valueOf(c))
                    .tag("name", CloseCodes.name(c))
                    .register(registry))
        .increment();
  }

  @Override
  public void closeCut(int closeCode) {
    cuts.computeIfAbsent(
            closeCode,
            c ->
                Counter.builder("lattice.close.cuts")
                    .description(
                        "server closes whose close frame the peer never read within the grace:"
                            + " the connection was dropped and the peer saw 1006")
                    .tag("code", String.valueOf(c))
                    .tag("name", CloseCodes.name(c))
                    .register(registry))
        .increment();
  }

  /**
   * An upgrade answered with an HTTP error before any WebSocket existed: 401 (token), 403 (origin),
   * 429 (connections per address), 503 (handshakes per second, or stopping).
   */
  void upgradeRefused(int status) {
    upgradesRefused
        .computeIfAbsent(
            status,
            c ->
                Counter.builder("lattice.upgrades.refused")
                    .description("WebSocket upgrades refused, by HTTP status")
                    .tag("status", String.valueOf(c))
                    .register(registry))
        .increment();
  }
}

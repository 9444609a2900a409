package dev.lattice.load;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * Prints a scenario's result as a small table for people and one {@code RESULT {...}} JSON line for
 * scripts. Stateless; thread-safe.
 */
final class Report {

  private Report() {}

  static void throughput(PrintWriter out, ThroughputScenario.Result r) {
    ThroughputScenario.Config c = r.config();
    LatencySummary l = r.ackLatency();
    out.printf(
        Locale.ROOT,
        "connections %d, %s, window %d, stopped by %s after %.2f s (warm-up acked %,d)%n",
        c.connections(),
        c.sharedDocument() ? "one shared document" : "one document each",
        c.window(),
        r.stopReason(),
        r.seconds(),
        r.warmupAcked());
    out.printf(
        Locale.ROOT,
        "%-14s %12s %10s %10s %10s %10s%n",
        "acked",
        "updates/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors");
    out.printf(
        Locale.ROOT,
        "%-14s %12.0f %10s %10s %10s %10d%n",
        String.format(Locale.ROOT, "%,d/%,d", r.acked(), r.sent()),
        r.ackedPerSecond(),
        LatencySummary.millis(l.p50()),
        LatencySummary.millis(l.p99()),
        LatencySummary.millis(l.max()),
        r.errors());
    out.printf(
        Locale.ROOT,
        "server counter %,d, acknowledged increments %,d: %s%n",
        r.serverCounter(),
        r.totalAcked(),
        r.counterVerified() ? "OK" : "MISMATCH");
    out.printf(
        Locale.ROOT,
        "protocol version %d, %.1f bytes on the wire per update%n",
        r.protocolVersion(),
        r.wireBytesPerUpdate());
    if (!r.firstError().isEmpty()) {
      out.println("first error: " + r.firstError());
    }
    out.printf(
        Locale.ROOT,
        "RESULT {\"scenario\":\"throughput\",\"connections\":%d,\"shared\":%b,\"window\":%d,"
            + "\"sent\":%d,\"acked\":%d,\"errors\":%d,\"seconds\":%.3f,\"ackedPerSecond\":%.0f,"
            + "\"p50Ms\":%s,\"p90Ms\":%s,\"p99Ms\":%s,\"maxMs\":%s,\"serverCounter\":%d,"
            + "\"totalAcked\":%d,\"stop\":\"%s\",\"ok\":%b}%n",
        c.connections(),
        c.sharedDocument(),
        c.window(),
        r.sent(),
        r.acked(),
        r.errors(),
        r.seconds(),
        r.ackedPerSecond(),
        LatencySummary.millis(l.p50()),
        LatencySummary.millis(l.p90()),
        LatencySummary.millis(l.p99()),
        LatencySummary.millis(l.max()),
        r.serverCounter(),
        r.totalAcked(),
        r.stopReason(),
        r.ok());
    out.flush();
  }

  static void fanout(PrintWriter out, FanoutScenario.Result r) {
    FanoutScenario.Config c = r.config();
    LatencySummary l = r.latency();
    out.printf(
        Locale.ROOT,
        "subscribers %d, rate %d/s, sent %,d (acked %,d), stopped by %s, %.2f s%n",
        c.subscribers(),
        c.ratePerSecond(),
        r.sent(),
        r.acked(),
        r.stopReason(),
        r.seconds());
    out.printf(
        Locale.ROOT,
        "%-20s %10s %10s %10s %10s%n",
        "deliveries",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms");
    out.printf(
        Locale.ROOT,
        "%-20s %10s %10s %10s %10s%n",
        String.format(Locale.ROOT, "%,d/%,d", r.deliveries(), r.expectedDeliveries()),
        LatencySummary.millis(l.p50()),
        LatencySummary.millis(l.p90()),
        LatencySummary.millis(l.p99()),
        LatencySummary.millis(l.max()));
    out.printf(
        Locale.ROOT,
        "deliveries = sent x subscribers: %s%n",
        r.ok() ? "OK" : "MISMATCH (" + r.subscribersShort() + " subscribers off)");
    out.printf(
        Locale.ROOT,
        "RESULT {\"scenario\":\"fanout\",\"subscribers\":%d,\"rate\":%d,\"sent\":%d,\"acked\":%d,"
            + "\"deliveries\":%d,\"expectedDeliveries\":%d,\"seconds\":%.3f,\"p50Ms\":%s,"
            + "\"p90Ms\":%s,\"p99Ms\":%s,\"maxMs\":%s,\"stop\":\"%s\",\"ok\":%b}%n",
        c.subscribers(),
        c.ratePerSecond(),
        r.sent(),
        r.acked(),
        r.deliveries(),
        r.expectedDeliveries(),
        r.seconds(),
        LatencySummary.millis(l.p50()),
        LatencySummary.millis(l.p90()),
        LatencySummary.millis(l.p99()),
        LatencySummary.millis(l.max()),
        r.stopReason(),
        r.ok());
    out.flush();
  }
}

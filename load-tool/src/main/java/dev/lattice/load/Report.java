package dev.lattice.load;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.HdrHistogram.Histogram;

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

  /** The percentiles the workload reports, in percent. */
  static final double[] WORKLOAD_PERCENTILES = {50, 90, 99, 99.9};

  /** Prints the workload's summary table and RESULT line; returns the JSON (for {@code --json}). */
  static String workload(PrintWriter out, WorkloadScenario.Result r) {
    WorkloadScenario.Config c = r.config();
    if (r.warmupUpdates() > 0) {
      out.printf(
          Locale.ROOT,
          "warm-up done: %d clients x %d updates, closed loop, on separate documents (%.2f s),"
              + " not measured%n",
          c.clients(),
          r.warmupUpdates(),
          r.warmupSeconds());
    } else {
      out.println("warm-up: none (--warmup-updates 0); the JIT may still be cold");
    }
    out.printf(
        Locale.ROOT,
        "clients %d, documents %d, updates %d per client, %s, %d server(s)%n",
        c.clients(),
        c.docs(),
        c.updates(),
        c.openLoop()
            ? String.format(
                Locale.ROOT,
                "open loop at %s/s per client (offered %s updates/s)",
                number(c.rate()),
                number(c.offeredPerSecond()))
            : "closed loop (next update on ACK)",
        r.servers());
    out.printf(
        Locale.ROOT,
        "acked %,d/%,d in %.3f s = %.0f updates/s; fan-out deliveries %,d carrying %,d/%,d"
            + " observations%n",
        r.acked(),
        r.expectedUpdates(),
        r.seconds(),
        r.ackedPerSecond(),
        r.deliveries(),
        r.observed(),
        r.expectedObserved());
    latencyHeader(out);
    row(out, "fan-out (last)", r.fanout());
    row(out, "ack", r.ack());
    out.printf(
        Locale.ROOT,
        "wire bytes client->server per update: %.1f (encoded UPDATE frame + 6-byte WebSocket"
            + " client header and mask; TCP/IP headers not counted)%n",
        r.wireBytesPerUpdate());
    if (c.openLoop()) {
      out.printf(
          Locale.ROOT,
          "send lag behind the open-loop schedule: p99 %s ms, max %s ms (the generator's own"
              + " delay; large values mean the offered load was not offered)%n",
          LatencySummary.millis(at(r.sendLag(), 99)),
          LatencySummary.millis(r.sendLag().getTotalCount() == 0 ? 0 : r.sendLag().getMaxValue()));
    }
    out.printf(Locale.ROOT, "load average: start %s, end %s%n", r.loadStart(), r.loadEnd());
    List<String> why = WorkloadScenario.describe(r);
    out.println(
        r.ok()
            ? "convergence: every client ended with members x K on its document: OK"
            : "FAILED: " + String.join("; ", why));
    return resultLine(out, workloadFields(r));
  }

  /** The header of the latency table whose lines {@link #row} prints. */
  private static void latencyHeader(PrintWriter out) {
    out.printf(
        Locale.ROOT,
        "%-16s %10s %10s %10s %10s %10s %10s%n",
        "latency (ms)",
        "count",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max");
  }

  private static void row(PrintWriter out, String name, Histogram h) {
    out.printf(
        Locale.ROOT,
        "%-16s %10d %10s %10s %10s %10s %10s%n",
        name,
        h.getTotalCount(),
        LatencySummary.millis(at(h, 50)),
        LatencySummary.millis(at(h, 90)),
        LatencySummary.millis(at(h, 99)),
        LatencySummary.millis(at(h, 99.9)),
        LatencySummary.millis(h.getTotalCount() == 0 ? 0 : h.getMaxValue()));
  }

  /** The value at {@code percentile}, reported as the highest equivalent value; 0 when empty. */
  static long at(Histogram h, double percentile) {
    return h.getTotalCount() == 0
        ? 0
        : h.highestEquivalentValue(h.getValueAtPercentile(percentile));
  }

  static Map<String, Object> workloadFields(WorkloadScenario.Result r) {
    WorkloadScenario.Config c = r.config();
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("scenario", "workload");
    m.put("clients", c.clients());
    m.put("docs", c.docs());
    m.put("updates", c.updates());
    m.put("rate", c.rate());
    m.put("openLoop", c.openLoop());
    m.put("offeredPerSecond", c.offeredPerSecond());
    m.put("servers", r.servers());
    m.put("warmupUpdates", r.warmupUpdates());
    m.put("sent", r.sent());
    m.put("acked", r.acked());
    m.put("expectedUpdates", r.expectedUpdates());
    m.put("errors", r.errors());
    m.put("seconds", r.seconds());
    m.put("ackedPerSecond", Math.round(r.ackedPerSecond()));
    m.put("deliveries", r.deliveries());
    m.put("observed", r.observed());
    m.put("expectedObserved", r.expectedObserved());
    m.put("clientsWrong", r.clientsWrong());
    m.put("fanoutMs", percentiles(r.fanout()));
    m.put("ackMs", percentiles(r.ack()));
    m.put("sendLagMs", percentiles(r.sendLag()));
    m.put("wireBytesPerUpdate", r.wireBytesPerUpdate());
    m.put("loadStart", r.loadStart());
    m.put("loadEnd", r.loadEnd());
    m.put("failures", r.failures());
    m.put("ok", r.ok());
    return m;
  }

  static Map<String, Object> percentiles(Histogram h) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("count", h.getTotalCount());
    m.put("p50", at(h, 50) / 1e6);
    m.put("p90", at(h, 90) / 1e6);
    m.put("p99", at(h, 99) / 1e6);
    m.put("p99.9", at(h, 99.9) / 1e6);
    m.put("max", (h.getTotalCount() == 0 ? 0 : h.getMaxValue()) / 1e6);
    return m;
  }

  /** The header of the saturation table; rows follow as the steps end. */
  static void saturationHeader(PrintWriter out) {
    out.printf(
        Locale.ROOT,
        "%6s %12s %12s %12s %10s %10s %10s  %s%n",
        "step",
        "rate/client",
        "offered/s",
        "acked/s",
        "p50 ms",
        "p99 ms",
        "ack p99",
        "result");
    out.flush();
  }

  static void saturationRow(PrintWriter out, int index, SaturationScenario.Step s, double limit) {
    WorkloadScenario.Result r = s.result();
    out.printf(
        Locale.ROOT,
        "%6d %12s %12.0f %12.0f %10s %10s %10s  %s%n",
        index,
        number(s.ratePerClient()),
        s.offered(),
        r.ackedPerSecond(),
        LatencySummary.millis(at(r.fanout(), 50)),
        LatencySummary.millis(at(r.fanout(), 99)),
        LatencySummary.millis(at(r.ack(), 99)),
        !r.ok()
            ? "FAILED: " + String.join("; ", WorkloadScenario.describe(r))
            : !s.keptUp()
                ? "behind: acked < " + Math.round(SaturationScenario.KEPT_UP * 100) + "% of offered"
                : s.p99Ms() <= limit ? "ok" : "p99 over " + number(limit) + " ms");
    out.flush();
  }

  /** The saturation run's conclusion and RESULT line; returns the JSON. */
  static String saturation(PrintWriter out, SaturationScenario.Result r) {
    SaturationScenario.Config c = r.config();
    out.printf(Locale.ROOT, "stopped: %s%n", r.stopReason());
    double knee = r.kneeOffered();
    out.println(
        knee >= 0
            ? String.format(
                Locale.ROOT,
                "knee: %.0f updates/s offered (%d clients, %d documents) with fan-out p99 <= %s ms",
                knee,
                c.workload().clients(),
                c.workload().docs(),
                number(c.p99LimitMs()))
            : "knee: none (no step passed with fan-out p99 <= " + number(c.p99LimitMs()) + " ms)");
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("scenario", "saturation");
    m.put("clients", c.workload().clients());
    m.put("docs", c.workload().docs());
    m.put("updatesPerStep", c.workload().updates());
    m.put("warmupUpdates", c.workload().warmupUpdates());
    m.put("p99LimitMs", c.p99LimitMs());
    m.put("kneeOfferedPerSecond", knee >= 0 ? knee : null);
    m.put("stop", r.stopReason());
    List<Object> steps = new java.util.ArrayList<>();
    for (SaturationScenario.Step s : r.steps()) {
      Map<String, Object> one = new LinkedHashMap<>();
      one.put("ratePerClient", s.ratePerClient());
      one.put("offeredPerSecond", s.offered());
      one.put("ackedPerSecond", Math.round(s.result().ackedPerSecond()));
      one.put("fanoutMs", percentiles(s.result().fanout()));
      one.put("ackMs", percentiles(s.result().ack()));
      one.put("sendLagMs", percentiles(s.result().sendLag()));
      one.put("keptUp", s.keptUp());
      one.put("loadStart", s.result().loadStart());
      one.put("ok", s.result().ok());
      steps.add(one);
    }
    m.put("steps", steps);
    m.put("ok", r.ok());
    return resultLine(out, m);
  }

  /** The idle scenario's table and RESULT line; returns the JSON. */
  static String idle(PrintWriter out, IdleScenario.Result r) {
    IdleScenario.Config c = r.config();
    out.printf(
        Locale.ROOT,
        "connections %,d/%,d on %d documents, clients in %s, held %.1f s%n",
        r.established(),
        c.connections(),
        c.docs(),
        c.procs() == 0 ? "this process" : c.procs() + " worker JVMs",
        r.holdSeconds());
    out.printf(
        Locale.ROOT,
        "%-22s %14s %14s %16s%n",
        "server (pid " + r.serverPid() + ")",
        "before",
        "after",
        "per connection");
    out.printf(
        Locale.ROOT,
        "%-22s %14s %14s %16s%n",
        "heap after full GC",
        mib(r.heapBefore()),
        mib(r.heapAfter()),
        bytes(r.heapPerConnection()));
    out.printf(
        Locale.ROOT,
        "%-22s %14s %14s %16s%n",
        "RSS",
        mib(r.rssBefore()),
        mib(r.rssAfter()),
        bytes(r.rssPerConnection()));
    out.printf(
        Locale.ROOT,
        "server CPU during the hold: %s; PONGs answered %,d; closed by the server while held %d%n",
        r.cpuPercent() < 0 ? "n/a" : String.format(Locale.ROOT, "%.1f%%", r.cpuPercent()),
        r.pongs(),
        r.closedDuringHold());
    if (r.clientsInServerProcess()) {
      out.println(
          "note: the clients run in the server's JVM (--procs 0): heap and RSS include their"
              + " sockets and buffers; use --procs 1 or more for the server alone");
    }
    if (r.serverPid() < 0) {
      out.println("note: server memory and CPU not measured: give --server-pid with --uri");
    }
    out.println(r.ok() ? "idle: every connection stayed open: OK" : "FAILED: connections lost");
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("scenario", "idle");
    m.put("connections", c.connections());
    m.put("established", r.established());
    m.put("docs", c.docs());
    m.put("procs", c.procs());
    m.put("holdSeconds", r.holdSeconds());
    m.put("serverPid", r.serverPid());
    m.put("clientsInServerProcess", r.clientsInServerProcess());
    m.put("heapBeforeBytes", r.heapBefore());
    m.put("heapAfterBytes", r.heapAfter());
    m.put("heapPerConnectionBytes", Math.round(r.heapPerConnection()));
    m.put("rssBeforeBytes", r.rssBefore());
    m.put("rssAfterBytes", r.rssAfter());
    m.put("rssPerConnectionBytes", Math.round(r.rssPerConnection()));
    m.put("serverCpuPercent", r.cpuPercent());
    m.put("pongs", r.pongs());
    m.put("closedDuringHold", r.closedDuringHold());
    m.put("ok", r.ok());
    return resultLine(out, m);
  }

  /** The catch-up scenario's table and RESULT line; returns the JSON. */
  static String catchup(PrintWriter out, CatchupScenario.Result r) {
    CatchupScenario.Config c = r.config();
    out.println(
        r.warmupRepeats() > 0
            ? "warm-up done: "
                + r.warmupRepeats()
                + (r.warmupRepeats() == 1 ? " repetition" : " repetitions")
                + " of the same shape, not measured"
            : "warm-up: none (--warmup 0s); the JIT may still be cold");
    out.printf(
        Locale.ROOT,
        "%d catch-ups (stopped by %s), each after missing %,d updates from %d writers, one field"
            + " each (window %d; the writers had %.0f updates/s acknowledged); protocol version"
            + " %d%n",
        r.repetitions().size(),
        r.stopReason(),
        c.missed(),
        c.writers(),
        c.window(),
        r.writesPerSecond(),
        r.protocolVersion());
    latencyHeader(out);
    Histogram latency = r.latency();
    row(out, "catch-up", latency);
    double p99 = at(latency, 99) / 1e6;
    out.printf(
        Locale.ROOT,
        "target: under %s ms: p99 %.3f ms, %s%n",
        number(CatchupScenario.TARGET_MS),
        p99,
        p99 < CatchupScenario.TARGET_MS ? "met" : "MISSED");
    out.printf(
        Locale.ROOT,
        "server frames per catch-up %s (SYNC included), bytes %s encoded, at most %,d on the wire;"
            + " fields carried %d%n",
        r.frames(),
        r.bytes(),
        r.wireBytes().max(),
        r.fields().max());
    out.printf(Locale.ROOT, "load average: start %s, end %s%n", r.loadStart(), r.loadEnd());
    out.println(
        r.ok()
            ? "exact totals: after every catch-up the reader held each writer's exact count: OK"
            : "FAILED: "
                + (r.failures().isEmpty()
                    ? "no repetition measured"
                    : String.join("; ", r.failures())));
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("scenario", "catchup");
    m.put("missed", c.missed());
    m.put("writers", c.writers());
    m.put("window", c.window());
    m.put("repeats", c.repeats());
    m.put("measured", r.repetitions().size());
    m.put("warmupRepeats", r.warmupRepeats());
    m.put("stop", r.stopReason());
    m.put("protocolVersion", r.protocolVersion());
    m.put("latencyMs", percentiles(latency));
    m.put("targetMs", CatchupScenario.TARGET_MS);
    m.put("framesMin", r.frames().min());
    m.put("framesMax", r.frames().max());
    m.put("bytesMin", r.bytes().min());
    m.put("bytesMax", r.bytes().max());
    m.put("wireBytesMax", r.wireBytes().max());
    m.put("fields", r.fields().max());
    m.put("writesPerSecond", Math.round(r.writesPerSecond()));
    m.put("latenciesMs", r.repetitions().stream().map(x -> x.nanos() / 1e6).toList());
    m.put("loadStart", r.loadStart());
    m.put("loadEnd", r.loadEnd());
    m.put("failures", r.failures());
    m.put("ok", r.ok());
    return resultLine(out, m);
  }

  /** Prints {@code fields} as the RESULT line; returns their JSON. */
  private static String resultLine(PrintWriter out, Map<String, Object> fields) {
    String json = json(fields);
    out.println("RESULT " + json);
    out.flush();
    return json;
  }

  private static String mib(long bytes) {
    return bytes < 0 ? "n/a" : String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
  }

  private static String bytes(double bytes) {
    return bytes == -1 ? "n/a" : String.format(Locale.ROOT, "%,.0f B", bytes);
  }

  /** A compact number: integers without decimals. */
  static String number(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15
        ? Long.toString((long) v)
        : String.format(Locale.ROOT, "%.3f", v);
  }

  /** One-line JSON of maps, lists, strings, numbers and booleans. */
  static String json(Object value) {
    StringBuilder b = new StringBuilder();
    json(b, value);
    return b.toString();
  }

  private static void json(StringBuilder b, Object v) {
    if (v == null) {
      b.append("null");
    } else if (v instanceof Map<?, ?> map) {
      b.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : map.entrySet()) {
        if (!first) {
          b.append(',');
        }
        first = false;
        json(b, String.valueOf(e.getKey()));
        b.append(':');
        json(b, e.getValue());
      }
      b.append('}');
    } else if (v instanceof List<?> list) {
      b.append('[');
      for (int i = 0; i < list.size(); i++) {
        if (i > 0) {
          b.append(',');
        }
        json(b, list.get(i));
      }
      b.append(']');
    } else if (v instanceof Double d) {
      b.append(Double.isFinite(d) ? number(d) : "null");
    } else if (v instanceof Number || v instanceof Boolean) {
      b.append(v);
    } else {
      b.append('"');
      for (char ch : v.toString().toCharArray()) {
        switch (ch) {
          case '"' -> b.append("\\\"");
          case '\\' -> b.append("\\\\");
          case '\n' -> b.append("\\n");
          default -> {
            if (ch < 0x20) {
              b.append(String.format(Locale.ROOT, "\\u%04x", (int) ch));
            } else {
              b.append(ch);
            }
          }
        }
      }
      b.append('"');
    }
  }
}

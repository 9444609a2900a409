package dev.lattice.faults;

import dev.lattice.client.LatticeClient;
import dev.lattice.client.LatticeDocument;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.Value;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Run by {@link RedisFaultsEndToEndIT} in a child JVM: several {@link LatticeClient}s, each with
 * its own state directory, server address (a fault proxy's port) and wall clock offset, all on one
 * document, driven by line commands on stdin and reporting on stdout, so the test JVM records every
 * attempt and acknowledgement while this JVM can be killed with {@code kill -9}.
 *
 * <p>Arguments: the document id, the lifetime cap in seconds, then one {@code
 * index,port,stateDirectory,clockOffsetMillis} per client. Commands (one a line):
 *
 * <ul>
 *   <li>{@code g|pn <client> <attempt> <field> <amount>}: increments a G-Counter or PN-Counter;
 *       prints {@code did <attempt>} once made locally, then {@code ack <attempt>} when its flush
 *       completes normally or {@code fail <attempt> <why>} when it fails;
 *   <li>{@code set <client> <attempt> <field> <value>}: sets a register to the string value; prints
 *       {@code did}, then {@code stamp <attempt> <packed HLC>} (the write's timestamp as the writer
 *       reads it back), then {@code ack} or {@code fail};
 *   <li>{@code clock <client> <offsetMillis>}: the client's wall clock jumps to that offset from
 *       the system clock;
 *   <li>{@code flush <request>}: prints {@code flushed <request>} once every client's flush
 *       completed, or {@code flushfail <request> <why>};
 *   <li>{@code snap <request>}: prints {@code snap <request> <base64>,<base64>,...}, the encoded
 *       state of every client's replica in order.
 * </ul>
 *
 * It prints {@code ready} once every client opened the document. It halts when stdin closes (the
 * parent died) or after its lifetime, so it is never left behind.
 */
public final class FaultClientChild {

  private FaultClientChild() {}

  public static void main(String[] args) throws Exception {
    long lifetimeSeconds = Long.parseLong(args[1]);
    Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "lifetime-cap");
              t.setDaemon(true);
              return t;
            })
        .schedule(() -> Runtime.getRuntime().halt(4), lifetimeSeconds, TimeUnit.SECONDS);
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    List<LatticeDocument> docs = new ArrayList<>();
    List<AtomicLong> offsets = new ArrayList<>();
    for (int i = 2; i < args.length; i++) {
      String[] spec = args[i].split(",", 4);
      AtomicLong offset = new AtomicLong(Long.parseLong(spec[3]));
      offsets.add(offset);
      Clock clock = new OffsetClock(offset);
      LatticeClient client =
          LatticeClient.builder()
              .serverUri(URI.create("ws://127.0.0.1:" + spec[1] + "/v1/sync"))
              .stateDirectory(Path.of(spec[2]))
              .clock(clock)
              .backoff(Duration.ofMillis(20), Duration.ofMillis(500))
              .build();
      docs.add(client.open(args[0]));
    }
    out.println("ready");
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      String[] c = line.split(" ");
      try {
        switch (c[0]) {
          case "g", "pn", "set" -> {
            LatticeDocument doc = docs.get(Integer.parseInt(c[1]));
            String attempt = c[2];
            String field = c[3];
            if (c[0].equals("g")) {
              doc.counter(field).increment(Long.parseLong(c[4]));
            } else if (c[0].equals("pn")) {
              doc.pnCounter(field).increment(Long.parseLong(c[4]));
            } else {
              Value value = Value.of(c[4]);
              doc.register(field).set(value);
              out.println("did " + attempt);
              // The write's stamp, read back unless a later remote write already beat it.
              Document now = doc.snapshot();
              if (value.equals(now.registerValue(field).orElse(null))) {
                now.registerTimestamp(field)
                    .ifPresent(t -> out.println("stamp " + attempt + " " + t.toLong()));
              }
            }
            if (!c[0].equals("set")) {
              out.println("did " + attempt);
            }
            doc.flush()
                .whenComplete(
                    (ok, error) ->
                        out.println(
                            error == null
                                ? "ack " + attempt
                                : "fail " + attempt + " " + oneLine(error)));
          }
          case "clock" -> offsets.get(Integer.parseInt(c[1])).set(Long.parseLong(c[2]));
          case "flush" -> {
            String request = c[1];
            CompletableFuture.allOf(
                    docs.stream().map(LatticeDocument::flush).toArray(CompletableFuture[]::new))
                .whenComplete(
                    (ok, error) ->
                        out.println(
                            error == null
                                ? "flushed " + request
                                : "flushfail " + request + " " + oneLine(error)));
          }
          case "snap" -> {
            List<String> states = new ArrayList<>();
            for (LatticeDocument doc : docs) {
              states.add(Base64.getEncoder().encodeToString(Converge.encode(doc.snapshot())));
            }
            out.println("snap " + c[1] + " " + String.join(",", states));
          }
          default -> out.println("unknown " + line);
        }
      } catch (RuntimeException e) {
        // An edit refused loudly (or a bad command): reported, never silently dropped.
        boolean edit = c[0].equals("g") || c[0].equals("pn") || c[0].equals("set");
        out.println((edit ? "fail " + c[2] : "flushfail " + c[1]) + " threw " + oneLine(e));
      }
    }
    // The parent is gone.
    Runtime.getRuntime().halt(3);
  }

  /** The system clock plus an offset that can jump, as a machine's clock stepped by NTP. */
  private static final class OffsetClock extends Clock {
    private final AtomicLong offset;

    OffsetClock(AtomicLong offset) {
      this.offset = offset;
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      throw new UnsupportedOperationException("UTC only");
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis());
    }

    @Override
    public long millis() {
      return System.currentTimeMillis() + offset.get();
    }
  }

  private static String oneLine(Throwable error) {
    return String.valueOf(error).replace('\n', ' ');
  }
}

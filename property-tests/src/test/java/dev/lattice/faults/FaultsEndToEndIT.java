package dev.lattice.faults;

import dev.lattice.client.LatticeClient;
import dev.lattice.client.LatticeDocument;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.codec.CrdtCodecs;
import dev.lattice.hlc.HlcTimestamp;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import net.jqwik.api.Example;

/**
 * Issue 11's suite with real processes: a durable server in a child JVM on a RocksDB directory, SDK
 * clients ({@link LatticeClient}, each with its own state directory) that reach it through TCP
 * fault proxies ({@link FaultProxy}: delay, pause, cut), the server killed with {@code kill -9}
 * ({@link Process#destroyForcibly()}) and started again on the same directory, clients closed and
 * started again from their state directories, or from a backup of them taken earlier. Every edit is
 * recorded with whether its flush completed (the history); after the faults heal, every replica,
 * and a fresh reader's, must be byte-identical, each counter between the sum of the acknowledged
 * edits and the sum of the attempted ones, and the register a value some client wrote, at least as
 * late as every acknowledged write. On failure the history and a report go to {@code
 * target/faults-it/<run>/}.
 *
 * <p>Seeded: {@code -Dlattice.faults.seed} picks the faults and edits (the default is fixed, so CI
 * runs the same schedule; the network and the JVMs still time things their own way). Bounded: 8
 * rounds by default, two of them server kills, one a backup and one a restore from it; {@code
 * -Dlattice.soak.minutes=M} runs rounds for M minutes instead.
 */
class FaultsEndToEndIT {

  private static final String DOC = "ledger";
  private static final int CLIENTS = 4;
  private static final int ROUNDS = 8;
  private static final long DEFAULT_SEED = 20_261_206L;
  private static final long FLUSH_SECONDS = 60;

  /** One edit and whether the server acknowledged it (its flush completed normally). */
  private record Attempt(
      int client,
      String field,
      long amount,
      Value value,
      HlcTimestamp stamp,
      CompletableFuture<Void> ack) {
    boolean acknowledged() {
      return ack.isDone() && !ack.isCompletedExceptionally();
    }

    @Override
    public String toString() {
      return "c"
          + client
          + " "
          + field
          + " "
          + (value == null ? Long.toString(amount) : value + " @" + stamp)
          + (acknowledged() ? " ACK" : ack.isDone() ? " FAILED" : " PENDING");
    }
  }

  /** One SDK client behind its own proxy, started again over the same state directory. */
  private static final class Client {
    final int index;
    final Path state;
    final FaultProxy proxy;
    LatticeClient client;
    LatticeDocument doc;

    Client(int index, Path state, FaultProxy proxy) {
      this.index = index;
      this.state = state;
      this.proxy = proxy;
      start();
    }

    void start() {
      client =
          LatticeClient.builder()
              .serverUri(URI.create("ws://127.0.0.1:" + proxy.port() + "/v1/sync"))
              .stateDirectory(state)
              .backoff(Duration.ofMillis(20), Duration.ofMillis(500))
              .build();
      doc = client.open(DOC);
    }

    void restart() {
      client.close();
      start();
    }

    /** Copies the state directory while the client is stopped, as a backup tool would. */
    void backup(Path to) throws IOException {
      client.close();
      deleteTree(to);
      copyTree(state, to);
      start();
    }

    /** Kills the client's state: starts it again over the copy in {@code from}. */
    void restore(Path from) throws IOException {
      client.close();
      deleteTree(state);
      copyTree(from, state);
      start();
    }
  }

  /** The server child JVM. */
  private static final class Server {
    final Path data;
    final Path dir;
    final long lifetimeSeconds;
    Process process;
    int port;
    int starts;

    Server(Path dir, long lifetimeSeconds) throws Exception {
      this.dir = dir;
      this.data = dir.resolve("data");
      this.lifetimeSeconds = lifetimeSeconds;
      start();
    }

    void start() throws Exception {
      String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
      starts++;
      process =
          new ProcessBuilder(
                  java,
                  "-Xmx256m",
                  "-XX:TieredStopAtLevel=1",
                  "-cp",
                  System.getProperty("java.class.path"),
                  FaultServerChild.class.getName(),
                  data.toString(),
                  Long.toString(lifetimeSeconds))
              .redirectError(dir.resolve("server-" + starts + "-stderr.txt").toFile())
              .start();
      CompletableFuture<Integer> printed = new CompletableFuture<>();
      Process p = process;
      Thread reader =
          new Thread(
              () -> {
                try (BufferedReader in =
                    new BufferedReader(
                        new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                  String line;
                  while ((line = in.readLine()) != null) {
                    if (!printed.isDone() && line.startsWith("port ")) {
                      printed.complete(Integer.parseInt(line.substring(5).trim()));
                    }
                  }
                  printed.completeExceptionally(new IOException("the server's stdout ended"));
                } catch (IOException | RuntimeException e) {
                  printed.completeExceptionally(e);
                }
              },
              "fault-server-stdout");
      reader.setDaemon(true);
      reader.start();
      try {
        port = printed.get(60, TimeUnit.SECONDS);
      } catch (Exception e) {
        kill();
        throw new AssertionError(
            "the server did not start; stderr: "
                + Files.readString(dir.resolve("server-" + starts + "-stderr.txt")),
            e);
      }
    }

    /** {@code kill -9}, and waits until the process is gone. */
    void kill() throws InterruptedException {
      if (process != null && process.isAlive()) {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
      }
    }
  }

  @Example
  void clientsConvergeAndLoseNothingAcknowledgedThroughKillsAndNetworkFaults() throws Exception {
    long seed = Long.getLong("lattice.faults.seed", DEFAULT_SEED);
    String soak = System.getProperty("lattice.soak.minutes");
    long deadline =
        soak == null
            ? Long.MAX_VALUE
            : System.nanoTime() + (long) (Double.parseDouble(soak) * 60e9);
    Random random = new Random(seed);
    Path dir = Path.of("target", "faults-it", "seed-" + seed + "-" + System.currentTimeMillis());
    Files.createDirectories(dir);
    List<Attempt> history = new ArrayList<>();
    List<String> events = new ArrayList<>();
    List<Client> clients = new ArrayList<>();
    List<FaultProxy> proxies = new ArrayList<>();
    Server server = null;
    boolean passed = false;
    try {
      // The child halts itself after its lifetime; a soak restarts it well before that.
      server = new Server(dir, soak == null ? 300 : 900);
      for (int i = 0; i < CLIENTS; i++) {
        FaultProxy proxy = new FaultProxy(server.port);
        proxies.add(proxy);
        clients.add(new Client(i, dir.resolve("client-" + i), proxy));
      }
      long serverStartedNanos = System.nanoTime();
      long writes = 0;
      for (int round = 0; soak == null ? round < ROUNDS : System.nanoTime() < deadline; round++) {
        List<CompletableFuture<Void>> flushes = new ArrayList<>();
        for (Client c : clients) {
          int edits = 3 + random.nextInt(10);
          for (int e = 0; e < edits; e++) {
            int kind = random.nextInt(3);
            if (kind == 0) {
              long amount = 1 + random.nextInt(3);
              c.doc.counter("hits").increment(amount);
              history.add(new Attempt(c.index, "hits", amount, null, null, c.doc.flush()));
            } else if (kind == 1) {
              long amount = random.nextInt(7) - 3;
              c.doc.pnCounter("balance").increment(amount);
              history.add(new Attempt(c.index, "balance", amount, null, null, c.doc.flush()));
            } else {
              Value value = Value.of("c" + c.index + "-" + ++writes);
              c.doc.register("last").set(value);
              // The write's stamp, read back unless a later remote write already beat it.
              Document now = c.doc.snapshot();
              HlcTimestamp stamp =
                  value.equals(now.registerValue("last").orElse(null))
                      ? now.registerTimestamp("last").orElse(null)
                      : null;
              history.add(new Attempt(c.index, "last", 0, value, stamp, c.doc.flush()));
            }
          }
          flushes.add(c.doc.flush());
        }
        boolean kill =
            soak == null
                ? round == 2 || round == 5
                : random.nextInt(6) == 0
                    || System.nanoTime() - serverStartedNanos > TimeUnit.MINUTES.toNanos(5);
        if (kill) {
          server.kill();
          events.add("round " + round + ": server killed (kill -9)");
          // Edits go on while it is down: they wait in the outboxes.
          Client c = clients.get(random.nextInt(CLIENTS));
          c.doc.counter("hits").increment(1);
          history.add(new Attempt(c.index, "hits", 1, null, null, c.doc.flush()));
          server.start();
          serverStartedNanos = System.nanoTime();
          for (FaultProxy proxy : proxies) {
            proxy.retarget(server.port);
          }
          events.add("round " + round + ": server started again on port " + server.port);
        } else {
          Client c = clients.get(random.nextInt(CLIENTS));
          int fault = random.nextInt(6);
          if (soak == null && (round == 3 || round == 7)) {
            // Every CI run backs a client up and later restores it.
            c = clients.get(1);
            fault = round == 3 ? 4 : 5;
          }
          Path backup = dir.resolve("backup-" + c.index);
          switch (fault) {
            case 0 -> {
              int cut = c.proxy.cut();
              events.add("round " + round + ": c" + c.index + "'s connection cut (" + cut + ")");
            }
            case 1 -> {
              long millis = 200 + random.nextInt(1500);
              c.proxy.pause(true);
              events.add(
                  "round " + round + ": c" + c.index + "'s network frozen " + millis + " ms");
              // The fault's own length, not a wait for a condition.
              Thread.sleep(millis);
              c.proxy.pause(false);
            }
            case 2 -> {
              long millis = random.nextInt(40);
              c.proxy.delay(millis);
              events.add(
                  "round " + round + ": c" + c.index + "'s network delays " + millis + " ms");
            }
            case 3 -> {
              c.restart();
              events.add(
                  "round " + round + ": c" + c.index + " restarted from its state directory");
            }
            case 4 -> {
              c.backup(backup);
              events.add("round " + round + ": c" + c.index + "'s state directory backed up");
            }
            default -> {
              if (Files.exists(backup)) {
                c.restore(backup);
                events.add("round " + round + ": c" + c.index + " restored from its backup");
              } else {
                c.restart();
                events.add("round " + round + ": c" + c.index + " restarted (no backup yet)");
              }
            }
          }
        }
        // Some progress between faults, as much as comes within a bound; none is required here.
        try {
          CompletableFuture.allOf(flushes.toArray(CompletableFuture[]::new))
              .get(2, TimeUnit.SECONDS);
        } catch (TimeoutException | java.util.concurrent.ExecutionException e) {
          // a fault may hold them up; the heal below requires them
        }
      }

      // Heal: no delay, no pause, the server up; every client's edits must go through now.
      events.add("heal");
      for (FaultProxy proxy : proxies) {
        proxy.delay(0);
        proxy.pause(false);
      }
      for (Client c : clients) {
        c.doc.flush().get(FLUSH_SECONDS, TimeUnit.SECONDS);
      }
      List<String> problems = check(clients, server, history);
      writeReport(dir, seed, events, history, problems);
      if (!problems.isEmpty()) {
        throw new AssertionError(
            "seed "
                + seed
                + " (replay with -Dlattice.faults.seed="
                + seed
                + "); history and report in "
                + dir.toAbsolutePath()
                + ":\n  "
                + String.join("\n  ", problems));
      }
      long acked = history.stream().filter(Attempt::acknowledged).count();
      System.out.println(
          "faults IT, seed "
              + seed
              + ": "
              + events.size()
              + " fault events, "
              + server.starts
              + " server starts, "
              + history.size()
              + " edits, "
              + acked
              + " acknowledged before healing's flush\n  "
              + (events.size() <= 40 ? String.join("\n  ", events) : "(events listed up to 40)"));
      passed = true;
    } catch (Exception | AssertionError e) {
      writeReport(dir, seed, events, history, List.of("failed: " + e));
      throw e;
    } finally {
      for (Client c : clients) {
        c.client.close();
      }
      for (FaultProxy proxy : proxies) {
        proxy.close();
      }
      if (server != null) {
        server.kill();
      }
      if (passed) {
        deleteTree(dir);
      }
    }
  }

  /** Waits, within a bound, for every replica to hold the same bytes, then checks the history. */
  private static List<String> check(List<Client> clients, Server server, List<Attempt> history)
      throws Exception {
    List<String> problems = new ArrayList<>();
    try (LatticeClient reader =
        LatticeClient.builder()
            .serverUri(URI.create("ws://127.0.0.1:" + server.port + "/v1/sync"))
            .backoff(Duration.ofMillis(20), Duration.ofMillis(500))
            .build()) {
      LatticeDocument fresh = reader.open(DOC);
      fresh.synced().get(FLUSH_SECONDS, TimeUnit.SECONDS);
      List<LatticeDocument> replicas = new ArrayList<>();
      clients.forEach(c -> replicas.add(c.doc));
      replicas.add(fresh);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(FLUSH_SECONDS);
      byte[][] bytes = encodeAll(replicas);
      while (!allEqual(bytes) && System.nanoTime() < deadline) {
        // Fan-out still arriving: read again on the next change anywhere, at most every 50 ms.
        CompletableFuture<Void> changed = new CompletableFuture<>();
        List<dev.lattice.client.Registration> regs = new ArrayList<>();
        replicas.forEach(d -> regs.add(d.onChange(e -> changed.complete(null))));
        try {
          changed.get(50, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
          // read again anyway
        } finally {
          regs.forEach(dev.lattice.client.Registration::close);
        }
        bytes = encodeAll(replicas);
      }
      if (!allEqual(bytes)) {
        for (int i = 0; i < replicas.size(); i++) {
          problems.add(
              (i < clients.size() ? "c" + i : "fresh reader")
                  + " holds "
                  + replicas.get(i).snapshot());
        }
        problems.add(0, "the replicas differ after healing");
      }
      Document result = fresh.snapshot();
      for (String field : List.of("hits", "balance")) {
        CounterCheck check = new CounterCheck();
        for (Attempt a : history) {
          if (a.field().equals(field)) {
            check.attempt(a.amount(), a.acknowledged());
          }
        }
        String violation = check.violation(result.counterValue(field));
        if (violation != null) {
          problems.add(field + " = " + violation);
        }
      }
      Optional<Value> last = result.registerValue("last");
      Optional<HlcTimestamp> lastStamp = result.registerTimestamp("last");
      boolean written = false;
      for (Attempt a : history) {
        if (!a.field().equals("last")) {
          continue;
        }
        written |= last.isPresent() && a.value().equals(last.get());
        if (a.acknowledged()
            && a.stamp() != null
            && (lastStamp.isEmpty() || a.stamp().compareTo(lastStamp.get()) > 0)) {
          problems.add("last = " + last + " @" + lastStamp + ", below the acknowledged " + a);
        }
      }
      if (last.isPresent() && !written) {
        problems.add("last = " + last.get() + ", a value nobody wrote");
      }
    }
    return problems;
  }

  private static byte[][] encodeAll(List<LatticeDocument> replicas) {
    byte[][] out = new byte[replicas.size()][];
    for (int i = 0; i < out.length; i++) {
      out[i] = CrdtCodecs.defaults().document().encode(replicas.get(i).snapshot());
    }
    return out;
  }

  private static boolean allEqual(byte[][] bytes) {
    for (byte[] b : bytes) {
      if (!Arrays.equals(b, bytes[0])) {
        return false;
      }
    }
    return true;
  }

  private static void writeReport(
      Path dir, long seed, List<String> events, List<Attempt> history, List<String> problems)
      throws IOException {
    List<String> lines = new ArrayList<>();
    lines.add("seed " + seed);
    lines.add("problems:");
    problems.forEach(p -> lines.add("  " + p));
    lines.add("faults:");
    events.forEach(e -> lines.add("  " + e));
    Files.write(dir.resolve("report.txt"), lines, StandardCharsets.UTF_8);
    List<String> h = new ArrayList<>();
    history.forEach(a -> h.add(a.toString()));
    Files.write(dir.resolve("history.txt"), h, StandardCharsets.UTF_8);
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> paths = Files.walk(from)) {
      for (Path p : paths.sorted().toList()) {
        // The lock belongs to the process that held the directory, not to its contents.
        if (p.getFileName().toString().equals("lock")) {
          continue;
        }
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}

package dev.lattice.faults;

import dev.lattice.client.LatticeClient;
import dev.lattice.client.LatticeDocument;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.Value;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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
    History history = new History();
    List<InProcessClient> clients = new ArrayList<>();
    List<FaultProxy> proxies = new ArrayList<>();
    // The child halts itself after its lifetime; a soak restarts it well before that.
    ChildJvm server =
        new ChildJvm(
            dir,
            "server",
            FaultServerChild.class,
            "256m",
            List.of(dir.resolve("data").toString(), soak == null ? "300" : "900"),
            line -> {});
    boolean passed = false;
    try {
      int port = Integer.parseInt(server.start("port "));
      for (int i = 0; i < CLIENTS; i++) {
        FaultProxy proxy = new FaultProxy(port);
        proxies.add(proxy);
        clients.add(new InProcessClient(i, dir.resolve("client-" + i), proxy, DOC));
      }
      long serverStartedNanos = System.nanoTime();
      long writes = 0;
      for (int round = 0; soak == null ? round < ROUNDS : System.nanoTime() < deadline; round++) {
        List<CompletableFuture<Void>> flushes = new ArrayList<>();
        for (InProcessClient c : clients) {
          int edits = 3 + random.nextInt(10);
          for (int e = 0; e < edits; e++) {
            int kind = random.nextInt(3);
            if (kind == 0) {
              long amount = 1 + random.nextInt(3);
              History.Attempt a = history.attempt(c.index, "hits", amount, null);
              c.doc.counter("hits").increment(amount);
              settleOn(a, c.doc.flush());
            } else if (kind == 1) {
              long amount = random.nextInt(7) - 3;
              History.Attempt a = history.attempt(c.index, "balance", amount, null);
              c.doc.pnCounter("balance").increment(amount);
              settleOn(a, c.doc.flush());
            } else {
              Value value = Value.of("c" + c.index + "-" + ++writes);
              History.Attempt a = history.attempt(c.index, "last", 0, value);
              c.doc.register("last").set(value);
              // The write's stamp, read back unless a later remote write already beat it.
              Document now = c.doc.snapshot();
              if (value.equals(now.registerValue("last").orElse(null))) {
                a.stamp(now.registerTimestamp("last").orElse(null));
              }
              settleOn(a, c.doc.flush());
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
          history.event("round " + round + ": server killed (kill -9)");
          // Edits go on while it is down: they wait in the outboxes.
          InProcessClient c = clients.get(random.nextInt(CLIENTS));
          History.Attempt a = history.attempt(c.index, "hits", 1, null);
          c.doc.counter("hits").increment(1);
          settleOn(a, c.doc.flush());
          port = Integer.parseInt(server.start("port "));
          serverStartedNanos = System.nanoTime();
          for (FaultProxy proxy : proxies) {
            proxy.retarget(port);
          }
          history.event("round " + round + ": server started again on port " + port);
        } else {
          InProcessClient c = clients.get(random.nextInt(CLIENTS));
          int fault = random.nextInt(6);
          if (soak == null && (round == 3 || round == 7)) {
            // Every CI run backs a client up and later restores it.
            c = clients.get(1);
            fault = round == 3 ? 4 : 5;
          }
          Path backup = dir.resolve("backup-" + c.index);
          String at = "round " + round + ": c" + c.index;
          switch (fault) {
            case 0 -> history.event(at + "'s connection cut (" + c.proxy.cut() + ")");
            case 1 -> {
              long millis = 200 + random.nextInt(1500);
              c.proxy.pause(true);
              history.event(at + "'s network frozen " + millis + " ms");
              // The fault's own length, not a wait for a condition.
              Thread.sleep(millis);
              c.proxy.pause(false);
            }
            case 2 -> {
              long millis = random.nextInt(40);
              c.proxy.delay(millis);
              history.event(at + "'s network delays " + millis + " ms");
            }
            case 3 -> {
              c.restart();
              history.event(at + " restarted from its state directory");
            }
            case 4 -> {
              c.backup(backup);
              history.event(at + "'s state directory backed up");
            }
            default -> {
              if (Files.exists(backup)) {
                c.restore(backup);
                history.event(at + " restored from its backup");
              } else {
                c.restart();
                history.event(at + " restarted (no backup yet)");
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
      history.event("heal");
      for (FaultProxy proxy : proxies) {
        proxy.delay(0);
        proxy.pause(false);
      }
      for (InProcessClient c : clients) {
        c.doc.flush().get(FLUSH_SECONDS, TimeUnit.SECONDS);
      }
      List<String> problems = new ArrayList<>();
      try (LatticeClient reader = Converge.freshReader(port, DOC, FLUSH_SECONDS)) {
        LatticeDocument fresh = reader.open(DOC);
        List<LatticeDocument> replicas = new ArrayList<>();
        clients.forEach(c -> replicas.add(c.doc));
        replicas.add(fresh);
        List<byte[]> bytes =
            Converge.awaitSame(
                () -> replicas.stream().map(d -> Converge.encode(d.snapshot())).toList(),
                FLUSH_SECONDS);
        if (!Converge.allEqual(bytes)) {
          problems.add("the replicas differ after healing");
          for (int i = 0; i < replicas.size(); i++) {
            problems.add(
                (i < clients.size() ? "c" + i : "fresh reader")
                    + " holds "
                    + replicas.get(i).snapshot());
          }
        }
        problems.addAll(history.check(fresh.snapshot(), List.of("hits", "balance"), "last"));
      }
      history.writeAndAssert(dir, seed, problems);
      List<String> events = history.events();
      System.out.println(
          "faults IT, seed "
              + seed
              + ": "
              + events.size()
              + " fault events, "
              + server.starts()
              + " server starts, "
              + history.attempts().size()
              + " edits, "
              + history.acknowledged()
              + " acknowledged before healing's flush\n  "
              + History.firstEvents(events));
      passed = true;
    } catch (Exception | AssertionError e) {
      history.write(dir, seed, List.of("failed: " + e));
      throw e;
    } finally {
      for (InProcessClient c : clients) {
        c.close();
      }
      for (FaultProxy proxy : proxies) {
        proxy.close();
      }
      server.kill();
      if (passed) {
        Trees.delete(dir);
      }
    }
  }

  /** Settles the attempt when its flush completes, as acknowledged or failed. */
  static void settleOn(History.Attempt attempt, CompletableFuture<Void> flush) {
    flush.whenComplete((ok, error) -> attempt.settle(error == null));
  }
}

package dev.lattice.load;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The {@code idle} scenario: N subscribed connections held idle (answering the server's PINGs),
 * measuring what they cost the server: heap after a full GC and RSS per connection (after
 * connecting and settling, against before connecting) and the server's CPU% during the hold.
 *
 * <p>Clients come from {@link IdleClients}: in this process ({@code procs = 0}) or spread over P
 * child JVMs of the same classpath running the hidden {@code idle-worker} command, which report
 * over their stdout. Every process here may hold at most 20,000 open files, so large N needs
 * children; every child is stopped (then killed) when the run ends.
 *
 * <p>Not thread-safe: {@link #run} blocks its one calling thread.
 */
final class IdleScenario {

  /** Longest hold allowed. */
  static final Duration MAX_HOLD = Duration.ofMinutes(5);

  /** Prefix of the lines a worker prints for its parent. */
  static final String WORKER_LINE = "IDLE-WORKER ";

  /**
   * What to run.
   *
   * @param connections N, at least 1
   * @param docs D, the connections subscribe to documents {@code j mod D}
   * @param hold how long to hold them idle, at most {@link #MAX_HOLD}
   * @param procs child JVMs for the clients; 0 keeps them in this process
   * @param settle wait between the last connection and the "after" measurement
   * @param connectTimeout limit for each connection's handshake, and (times N / threads) in all
   */
  record Config(
      int connections,
      int docs,
      Duration hold,
      int procs,
      Duration settle,
      Duration connectTimeout) {
    Config {
      if (connections < 1) {
        throw new IllegalArgumentException("connections must be at least 1, was " + connections);
      }
      if (docs < 1) {
        throw new IllegalArgumentException("docs must be at least 1, was " + docs);
      }
      Objects.requireNonNull(hold, "hold");
      if (hold.isNegative() || hold.compareTo(MAX_HOLD) > 0) {
        throw new IllegalArgumentException(
            "hold must be between 0 and " + MAX_HOLD + ", was " + hold);
      }
      if (procs < 0 || procs > 64) {
        throw new IllegalArgumentException("procs must be between 0 and 64, was " + procs);
      }
      if (procs == 0 && connections > 15_000) {
        throw new IllegalArgumentException(
            "more than 15,000 connections need --procs (20,000 open files per process)");
      }
      if (procs > 0 && (connections + procs - 1) / procs > 15_000) {
        throw new IllegalArgumentException(
            "at most 15,000 connections per process (20,000 open files): use more --procs");
      }
      Objects.requireNonNull(settle, "settle");
      Objects.requireNonNull(connectTimeout, "connectTimeout");
    }

    /** How many connections worker {@code i} of {@code procs} opens, and from which index. */
    int[] share(int i) {
      int base = connections / procs;
      int extra = connections % procs;
      int count = base + (i < extra ? 1 : 0);
      int from = i * base + Math.min(i, extra);
      return new int[] {from, count};
    }
  }

  /**
   * What was measured. Byte figures and CPU are -1 when they could not be read (a remote server
   * without {@code --server-pid}).
   */
  record Result(
      Config config,
      long serverPid,
      boolean clientsInServerProcess,
      int established,
      long heapBefore,
      long heapAfter,
      long rssBefore,
      long rssAfter,
      double cpuPercent,
      double holdSeconds,
      long pongs,
      int closedDuringHold) {

    double heapPerConnection() {
      return heapBefore < 0 || heapAfter < 0 ? -1 : (double) (heapAfter - heapBefore) / established;
    }

    double rssPerConnection() {
      return rssBefore < 0 || rssAfter < 0 ? -1 : (double) (rssAfter - rssBefore) / established;
    }

    boolean ok() {
      return established == config.connections() && closedDuringHold == 0;
    }
  }

  private IdleScenario() {}

  static Result run(URI uri, Config config, ServerProbe probe, boolean serverInThisProcess)
      throws InterruptedException {
    String prefix = Runs.documentPrefix() + "idle-";
    long heapBefore = probe.heapAfterGcBytes();
    long rssBefore = probe.rssBytes();
    IdleClients local = null;
    List<Worker> workers = new ArrayList<>();
    try {
      int established;
      if (config.procs() == 0) {
        local =
            IdleClients.open(
                uri, 0, config.connections(), config.docs(), prefix, config.connectTimeout(), 4);
        established = local.connected();
      } else {
        for (int i = 0; i < config.procs(); i++) {
          int[] share = config.share(i);
          workers.add(Worker.start(uri, config, prefix, share[0], share[1]));
        }
        established = 0;
        long wait = config.connectTimeout().toMillis() * (config.connections() / 4 + 2) + 30_000;
        for (Worker w : workers) {
          established += w.awaitReady(wait);
        }
      }
      Thread.sleep(config.settle().toMillis()); // the server's buffers and caches settle
      long heapAfter = probe.heapAfterGcBytes();
      long rssAfter = probe.rssBytes();
      long cpu0 = probe.cpuNanos();
      long t0 = System.nanoTime();
      Thread.sleep(config.hold().toMillis());
      long cpu1 = probe.cpuNanos();
      long t1 = System.nanoTime();
      double cpuPercent = cpu0 < 0 || cpu1 < 0 ? -1 : 100.0 * (cpu1 - cpu0) / Math.max(1, t1 - t0);
      long pongs = 0;
      int closed = 0;
      if (local != null) {
        pongs = local.pongs();
        closed = local.closedByServer();
      } else {
        for (Worker w : workers) {
          long[] done = w.stop();
          pongs += done[0];
          closed += (int) done[1];
        }
      }
      return new Result(
          config,
          probe.pid(),
          serverInThisProcess && config.procs() == 0,
          established,
          heapBefore,
          heapAfter,
          rssBefore,
          rssAfter,
          cpuPercent,
          (t1 - t0) / 1e9,
          pongs,
          closed);
    } finally {
      if (local != null) {
        local.close();
      }
      for (Worker w : workers) {
        w.kill();
      }
    }
  }

  /** One child JVM running {@code idle-worker}. */
  private static final class Worker {
    final Process process;
    final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

    private Worker(Process process) {
      this.process = process;
      Thread reader =
          Runs.daemonThreads("idle-worker-out")
              .newThread(
                  () -> {
                    try (BufferedReader r =
                        new BufferedReader(
                            new InputStreamReader(
                                process.getInputStream(), StandardCharsets.UTF_8))) {
                      for (String line = r.readLine(); line != null; line = r.readLine()) {
                        if (line.startsWith(WORKER_LINE)) {
                          lines.add(line.substring(WORKER_LINE.length()));
                        }
                      }
                    } catch (IOException e) {
                      // the child is gone
                    }
                    lines.add("EXIT");
                  });
      reader.start();
    }

    static Worker start(URI uri, Config config, String prefix, int from, int count) {
      String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
      long maxLife =
          config.connectTimeout().toSeconds() * (count / 4 + 2)
              + config.settle().toSeconds()
              + config.hold().toSeconds()
              + 120;
      List<String> command =
          List.of(
              java,
              "-Xmx512m",
              "-XX:+UseSerialGC",
              "-cp",
              System.getProperty("java.class.path"),
              LoadMain.class.getName(),
              "idle-worker",
              "--uri",
              uri.toString(),
              "--from",
              Integer.toString(from),
              "--count",
              Integer.toString(count),
              "--docs",
              Integer.toString(config.docs()),
              "--prefix",
              prefix,
              "--connect-timeout",
              config.connectTimeout().toMillis() + "ms",
              "--max-life",
              maxLife + "s");
      try {
        ProcessBuilder process =
            new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT);
        // In the environment, not the arguments, where ps would show it.
        UpgradeToken.get().ifPresent(t -> process.environment().put(UpgradeToken.ENV, t));
        return new Worker(process.start());
      } catch (IOException e) {
        throw new LoadException("could not start a worker JVM: " + e, e);
      }
    }

    int awaitReady(long millis) throws InterruptedException {
      String line = lines.poll(millis, TimeUnit.MILLISECONDS);
      if (line == null) {
        throw new LoadException("a worker did not connect within " + millis + " ms");
      }
      if (!line.startsWith("READY ")) {
        throw new LoadException("a worker failed: " + line);
      }
      return Integer.parseInt(line.substring("READY ".length()).trim());
    }

    /** Asks the worker to close its connections; returns {pongs, closed by the server}. */
    long[] stop() throws InterruptedException {
      try {
        OutputStream in = process.getOutputStream();
        in.write("STOP\n".getBytes(StandardCharsets.UTF_8));
        in.flush();
      } catch (IOException e) {
        throw new LoadException("a worker is gone: " + e, e);
      }
      String line = lines.poll(15, TimeUnit.SECONDS);
      if (line == null || !line.startsWith("DONE ")) {
        throw new LoadException("a worker did not finish: " + line);
      }
      String[] parts = line.split("\\s+");
      return new long[] {Long.parseLong(parts[1]), Long.parseLong(parts[2])};
    }

    void kill() {
      try {
        process.getOutputStream().close(); // end of input: the worker closes and exits
      } catch (IOException e) {
        // killed below if need be
      }
      try {
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }
}

package dev.lattice.load;

import java.io.PrintWriter;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code java -jar lattice-load.jar throughput|fanout [options]}: drives a Lattice server over the
 * raw protocol and prints a table and one JSON line of figures. The server is either one already
 * running ({@code --uri}) or one started in this process ({@code --embedded}, {@code --in-memory}).
 * Every phase is bounded by a count and a time and every wait by a timeout, so the tool always
 * exits.
 *
 * <p>Exit codes: 0 the run completed and its checks passed, 1 the run failed or a check failed, 2
 * bad option.
 */
@Command(
    name = "lattice-load",
    mixinStandardHelpOptions = true,
    versionProvider = LoadMain.Version.class,
    subcommands = {
      LoadMain.Workload.class,
      LoadMain.Saturation.class,
      LoadMain.Idle.class,
      LoadMain.IdleWorker.class,
      LoadMain.Throughput.class,
      LoadMain.Fanout.class,
      LoadMain.Catchup.class
    },
    description = {
      "Measures a Lattice server. Scenarios: workload (the default when none is named: N clients"
          + " incrementing their own counters in D documents; fan-out and ACK latency, acked"
          + " updates/s, convergence), saturation (the workload at rising rates: the knee), idle"
          + " (server memory and CPU per idle connection), throughput (acknowledged updates per"
          + " second), fanout (one writer, S subscribers) and catchup (a reader that missed M"
          + " updates subscribes again: latency, frames and bytes). See docs/BENCHMARKS.md."
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:run completed, checks passed", "1:run or check failed", "2:bad option"})
public final class LoadMain implements Runnable {

  @Spec CommandLine.Model.CommandSpec spec;

  /** The scenario that runs when none is named. */
  static final String DEFAULT_SCENARIO = "workload";

  /** Entry point of the runnable jar. */
  public static void main(String[] args) {
    System.exit(commandLine().execute(withDefaultScenario(args)));
  }

  /**
   * {@code args} with {@value #DEFAULT_SCENARIO} put first when they name no scenario: no
   * arguments, or options only ({@code --in-memory}). {@code --help} and {@code --version} alone
   * stay the tool's own.
   */
  static String[] withDefaultScenario(String[] args) {
    if (args.length > 0 && !args[0].startsWith("-")) {
      return args; // a scenario (or a mistyped one, which picocli names)
    }
    if (args.length == 1 && List.of("-h", "--help", "-V", "--version").contains(args[0])) {
      return args;
    }
    String[] withScenario = new String[args.length + 1];
    withScenario[0] = DEFAULT_SCENARIO;
    System.arraycopy(args, 0, withScenario, 1, args.length);
    return withScenario;
  }

  static CommandLine commandLine() {
    return new CommandLine(new LoadMain());
  }

  @Override
  public void run() {
    throw new CommandLine.ParameterException(
        spec.commandLine(),
        "name a scenario: workload, saturation, idle, throughput, fanout or catchup");
  }

  /** Which server to load: exactly one of the three. */
  static final class TargetChoice {
    @Option(
        names = "--uri",
        paramLabel = "URI",
        split = ",",
        description =
            "A running server, e.g. ws://localhost:7070/v1/sync (its limits apply). The workload"
                + " scenario takes several (repeat the flag or separate with commas): client g"
                + " connects to server floor(g/D) mod S.")
    List<URI> uris;

    @Option(
        names = "--embedded",
        description =
            "Start a server in this process on the embedded RocksDB store (temporary directory,"
                + " deleted afterwards). Needs lattice-load-embedded.jar: lattice-load.jar"
                + " carries no RocksDB.")
    boolean embedded;

    @Option(names = "--in-memory", description = "Start a server in this process, in memory.")
    boolean inMemory;

    /**
     * Starts or names the server; a bad {@code --uri} is a usage error. {@code several}: more than
     * one --uri is allowed. {@code token} (null for none) is sent at every upgrade of the run.
     */
    Target open(CommandLine.Model.CommandSpec spec, boolean several, String token) {
      if (uris != null && !uris.isEmpty()) {
        if (uris.size() > 1 && !several) {
          throw new CommandLine.ParameterException(
              spec.commandLine(), "this scenario takes one --uri; only workload takes several");
        }
        try {
          return Target.remote(uris).withToken(token);
        } catch (IllegalArgumentException e) {
          throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
      }
      if (!inMemory && !rocksDbPresent()) {
        throw new CommandLine.ParameterException(
            spec.commandLine(),
            "--embedded needs RocksDB, which lattice-load.jar leaves out: run"
                + " lattice-load-embedded.jar with the same options, or use --in-memory, or start"
                + " lattice-server.jar and point --uri at it");
      }
      return Target.inProcess(inMemory).withToken(token);
    }

    /**
     * Whether RocksDB is on the class path: lattice-load.jar leaves it out (its natives are most of
     * a runnable jar's size, and runs with --uri or --in-memory never load them).
     */
    static boolean rocksDbPresent() {
      try {
        Class.forName("org.rocksdb.RocksDB", false, LoadMain.class.getClassLoader());
        return true;
      } catch (ClassNotFoundException e) {
        return false;
      }
    }
  }

  /** The token for a server that authenticates: at most one of the two. */
  static final class TokenChoice {
    @Option(
        names = "--token",
        paramLabel = "TOKEN",
        description =
            "A bearer token (a JWT) every connection sends at the upgrade (Authorization: Bearer),"
                + " for a server with authentication. Visible in ps: prefer --token-file.")
    String token;

    @Option(
        names = "--token-file",
        paramLabel = "FILE",
        description = "As --token, read from FILE (surrounding whitespace dropped).")
    java.nio.file.Path tokenFile;

    /** The token given, or null. */
    String read(CommandLine.Model.CommandSpec spec) {
      if (tokenFile == null) {
        return token;
      }
      String read;
      try {
        read = java.nio.file.Files.readString(tokenFile).strip();
      } catch (java.io.IOException e) {
        throw new CommandLine.ParameterException(
            spec.commandLine(), "--token-file: cannot read " + tokenFile + ": " + e.getMessage());
      }
      if (read.isEmpty()) {
        throw new CommandLine.ParameterException(
            spec.commandLine(), "--token-file: " + tokenFile + " is empty");
      }
      return read;
    }
  }

  /** Options every scenario has. */
  static final class Common {
    @ArgGroup(exclusive = true, multiplicity = "1", heading = "Server (one of):%n")
    TargetChoice target;

    @ArgGroup(exclusive = true, multiplicity = "0..1", heading = "Credentials (at most one):%n")
    TokenChoice token = new TokenChoice();

    @Option(
        names = "--warmup",
        paramLabel = "DURATION",
        defaultValue = "5s",
        converter = DurationConverter.class,
        description = "Unmeasured warm-up first (0s for none); default ${DEFAULT-VALUE}.")
    Duration warmup;

    @Option(
        names = "--duration",
        paramLabel = "DURATION",
        defaultValue = "30s",
        converter = DurationConverter.class,
        description = "Longest measured phase; default ${DEFAULT-VALUE}.")
    Duration duration;

    @Option(
        names = "--timeout",
        paramLabel = "DURATION",
        defaultValue = "10s",
        converter = DurationConverter.class,
        description =
            "Longest wait for any one answer (WELCOME, SYNC, ACK, deliveries after the last send)"
                + " before the run fails; default ${DEFAULT-VALUE}.")
    Duration timeout;
  }

  @Command(
      name = "throughput",
      mixinStandardHelpOptions = true,
      sortOptions = false,
      description = {
        "C connections each keep W G-Counter increments in flight until N are acknowledged or the"
            + " duration passes. Reports acknowledged updates/s and ACK latency, then checks that"
            + " the server's counter equals the acknowledged count."
      })
  static final class Throughput implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;
    @Mixin Common common = new Common();

    @Option(
        names = {"-c", "--connections"},
        paramLabel = "C",
        defaultValue = "8",
        description = "Connections; default ${DEFAULT-VALUE}.")
    int connections;

    @Option(
        names = {"-w", "--window"},
        paramLabel = "W",
        defaultValue = "32",
        description = "Updates in flight per connection; default ${DEFAULT-VALUE}.")
    int window;

    @Option(
        names = {"-n", "--updates"},
        paramLabel = "N",
        defaultValue = "200000",
        description = "Measured updates in total; default ${DEFAULT-VALUE}.")
    long updates;

    @Option(
        names = "--shared-document",
        description = "All connections write one document (default: one document each).")
    boolean shared;

    @Override
    public Integer call() throws Exception {
      ThroughputScenario.Config config = config(spec, this);
      PrintWriter out = spec.commandLine().getOut();
      try (Target target = common.target.open(spec, false, common.token.read(spec))) {
        out.println("lattice-load throughput: " + target.description());
        out.flush();
        ThroughputScenario.Result r = ThroughputScenario.run(target.uri(), config);
        Report.throughput(out, r);
        return r.ok() ? 0 : 1;
      } catch (LoadException e) {
        spec.commandLine().getErr().println("lattice-load: the run failed: " + e.getMessage());
        return 1;
      }
    }

    private static ThroughputScenario.Config config(
        CommandLine.Model.CommandSpec spec, Throughput t) {
      try {
        return new ThroughputScenario.Config(
            t.connections,
            t.shared,
            t.window,
            t.updates,
            t.common.duration,
            t.common.warmup,
            t.common.timeout);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
      }
    }
  }

  @Command(
      name = "fanout",
      mixinStandardHelpOptions = true,
      sortOptions = false,
      description = {
        "S subscribers of one document; one writer sends register updates holding their send time"
            + " at a fixed rate. Reports send-to-delivery latency over all deliveries and checks"
            + " that every subscriber received every update."
      })
  static final class Fanout implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;
    @Mixin Common common = new Common();

    @Option(
        names = {"-s", "--subscribers"},
        paramLabel = "S",
        defaultValue = "100",
        description = "Subscribers; default ${DEFAULT-VALUE}.")
    int subscribers;

    @Option(
        names = {"-r", "--rate"},
        paramLabel = "PER_SECOND",
        defaultValue = "200",
        description = "Updates sent per second; default ${DEFAULT-VALUE}.")
    int rate;

    @Option(
        names = {"-n", "--updates"},
        paramLabel = "N",
        defaultValue = "2000",
        description = "Measured updates; default ${DEFAULT-VALUE}.")
    long updates;

    @Override
    public Integer call() throws Exception {
      FanoutScenario.Config config;
      try {
        config =
            new FanoutScenario.Config(
                subscribers, rate, updates, common.duration, common.warmup, common.timeout);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
      }
      PrintWriter out = spec.commandLine().getOut();
      try (Target target = common.target.open(spec, false, common.token.read(spec))) {
        out.println("lattice-load fanout: " + target.description());
        out.flush();
        FanoutScenario.Result r = FanoutScenario.run(target.uri(), config);
        Report.fanout(out, r);
        return r.ok() ? 0 : 1;
      } catch (LoadException e) {
        spec.commandLine().getErr().println("lattice-load: the run failed: " + e.getMessage());
        return 1;
      }
    }
  }

  @Command(
      name = "catchup",
      mixinStandardHelpOptions = true,
      sortOptions = false,
      description = {
        "A reader subscribes to a document and disconnects; W writers, each owning a G-Counter"
            + " field, send M increments in all (pipelined, every one acked); the reader"
            + " subscribes again with its stale vector. Repeated R times after an unmeasured"
            + " warm-up. Reports the catch-up's latency (SUBSCRIBE sent to SYNC decoded, parts"
            + " of a chunked catch-up included), its frames and bytes, and checks that the"
            + " reader's counters equal the exact totals."
      })
  static final class Catchup implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;
    @Mixin Common common = new Common();

    @Option(
        names = "--missed",
        paramLabel = "M",
        defaultValue = "10000",
        description =
            "Updates the reader misses per repetition, over all writers; default"
                + " ${DEFAULT-VALUE}.")
    long missed;

    @Option(
        names = "--writers",
        paramLabel = "W",
        defaultValue = "2",
        description = "Writers, one field each; default ${DEFAULT-VALUE}.")
    int writers;

    @Option(
        names = "--repeats",
        paramLabel = "R",
        defaultValue = "20",
        description =
            "Measured repetitions (the duration may end the run sooner); default"
                + " ${DEFAULT-VALUE}.")
    int repeats;

    @Option(
        names = {"-w", "--window"},
        paramLabel = "N",
        defaultValue = "32",
        description = "Updates in flight per writer; default ${DEFAULT-VALUE}.")
    int window;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the JSON here.")
    java.nio.file.Path json;

    @Override
    public Integer call() throws Exception {
      CatchupScenario.Config config;
      try {
        config =
            new CatchupScenario.Config(
                missed, writers, repeats, window, common.warmup, common.duration, common.timeout);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
      }
      PrintWriter out = spec.commandLine().getOut();
      try (Target t = common.target.open(spec, false, common.token.read(spec))) {
        out.println("lattice-load catchup: " + t.description());
        out.flush();
        CatchupScenario.Result r = CatchupScenario.run(t.uri(), config);
        writeJson(json, Report.catchup(out, r));
        return r.ok() ? 0 : 1;
      } catch (LoadException e) {
        spec.commandLine().getErr().println("lattice-load: the run failed: " + e.getMessage());
        return 1;
      }
    }
  }

  @Command(
      name = "workload",
      mixinStandardHelpOptions = true,
      sortOptions = false,
      description = {
        "The default scenario. N clients; client g joins document g mod D and increments its own"
            + " G-Counter field K times, one UPDATE each, open loop at R updates/s per client or"
            + " closed loop (R = 0: next update on ACK). Reports acked updates/s, fan-out latency"
            + " (until the last other member of the document observed the update) and ACK"
            + " latency, and checks that every client ends with every document's exact total."
      })
  static final class Workload implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1", heading = "Server (one of):%n")
    TargetChoice target;

    @ArgGroup(exclusive = true, multiplicity = "0..1", heading = "Credentials (at most one):%n")
    TokenChoice token = new TokenChoice();

    @Option(
        names = "--clients",
        paramLabel = "N",
        defaultValue = "100",
        description = "Clients (one connection each); default ${DEFAULT-VALUE}.")
    int clients;

    @Option(
        names = "--docs",
        paramLabel = "D",
        defaultValue = "1",
        description = "Documents; client g joins g mod D; default ${DEFAULT-VALUE}.")
    int docs;

    @Option(
        names = "--updates",
        paramLabel = "K",
        defaultValue = "100",
        description = "Increments per client; default ${DEFAULT-VALUE}.")
    int updates;

    @Option(
        names = "--rate",
        paramLabel = "R",
        defaultValue = "0",
        description =
            "Updates/s per client, open loop (sends on schedule, never waits for ACKs); 0 for a"
                + " closed loop; default ${DEFAULT-VALUE}.")
    double rate;

    @Option(
        names = "--warmup-updates",
        paramLabel = "W",
        defaultValue = "50",
        description =
            "Closed-loop warm-up updates per client on separate documents, not measured (0 for"
                + " none); default ${DEFAULT-VALUE}.")
    int warmupUpdates;

    @Option(
        names = "--timeout",
        paramLabel = "DURATION",
        defaultValue = "60s",
        converter = DurationConverter.class,
        description =
            "Time the measured phase may take beyond its schedule (open loop: K/R) before the run"
                + " fails; waits for WELCOME and SYNC take this but at least 10s; default"
                + " ${DEFAULT-VALUE}.")
    Duration timeout;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the JSON here.")
    java.nio.file.Path json;

    @Option(
        names = "--charts",
        paramLabel = "DIR",
        description = "Also write workload-latency.png (percentile distribution) here.")
    java.nio.file.Path charts;

    @Override
    public Integer call() throws Exception {
      WorkloadScenario.Config config;
      try {
        config = new WorkloadScenario.Config(clients, docs, updates, rate, warmupUpdates, timeout);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
      }
      PrintWriter out = spec.commandLine().getOut();
      try (Target t = target.open(spec, true, token.read(spec))) {
        out.println("lattice-load workload: " + t.description());
        if (warmupUpdates > 0) {
          out.printf(
              Locale.ROOT,
              "warming up: %d clients x %d updates, closed loop, separate documents%n",
              clients,
              warmupUpdates);
        }
        out.flush();
        WorkloadScenario.Result r = WorkloadScenario.run(t.uris(), config);
        String line = Report.workload(out, r);
        writeJson(json, line);
        if (charts != null) {
          java.nio.file.Path png = charts.resolve("workload-latency.png");
          Charts.latencyDistribution(
              png,
              String.format(
                  Locale.ROOT,
                  "Lattice workload: %d clients, %d docs, %d updates each, %s",
                  clients,
                  docs,
                  updates,
                  rate > 0 ? "open loop " + Report.number(rate) + "/s per client" : "closed loop"),
              List.of("fan-out (last receiver)", "ack"),
              List.of(r.fanout(), r.ack()));
          out.println("chart: " + png);
          out.flush();
        }
        return r.ok() ? 0 : 1;
      } catch (LoadException e) {
        spec.commandLine().getErr().println("lattice-load: the run failed: " + e.getMessage());
        return 1;
      }
    }
  }

  @Command(
      name = "saturation",
      mixinStandardHelpOptions = true,
      sortOptions = false,
      description = {
        "The open-loop workload at per-client rates R0, R0 x step, ... until the fan-out p99 passes"
            + " the limit (50 ms), a step fails or the steps run out. Reports the knee: the"
            + " highest offered load (updates/s) with p99 at or below the limit."
      })
  static final class Saturation implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1", heading = "Server (one of):%n")
    TargetChoice target;

    @ArgGroup(exclusive = true, multiplicity = "0..1", heading = "Credentials (at most one):%n")
    TokenChoice token = new TokenChoice();

    @Option(
        names = "--clients",
        paramLabel = "N",
        defaultValue = "100",
        description = "Clients; default ${DEFAULT-VALUE}.")
    int clients;

    @Option(
        names = "--docs",
        paramLabel = "D",
        defaultValue = "1",
        description = "Documents; default ${DEFAULT-VALUE}.")
    int docs;

    @Option(
        names = "--start-rate",
        paramLabel = "R0",
        defaultValue = "10",
        description = "First step's updates/s per client; default ${DEFAULT-VALUE}.")
    double startRate;

    @Option(
        names = "--step",
        paramLabel = "FACTOR",
        defaultValue = "1.5",
        description = "Rate factor between steps; default ${DEFAULT-VALUE}.")
    double step;

    @Option(
        names = "--max-rate",
        paramLabel = "R",
        defaultValue = "10000",
        description = "No step above this rate per client; default ${DEFAULT-VALUE}.")
    double maxRate;

    @Option(
        names = "--max-steps",
        paramLabel = "STEPS",
        defaultValue = "15",
        description = "At most this many steps; default ${DEFAULT-VALUE}.")
    int maxSteps;

    @Option(
        names = "--updates-per-step",
        paramLabel = "K",
        defaultValue = "100",
        description = "Updates per client in each step; default ${DEFAULT-VALUE}.")
    int updatesPerStep;

    @Option(
        names = "--p99-limit-ms",
        paramLabel = "MS",
        defaultValue = "50",
        description = "Fan-out p99 that ends the run; default ${DEFAULT-VALUE}.")
    double p99LimitMs;

    @Option(
        names = "--warmup-updates",
        paramLabel = "W",
        defaultValue = "50",
        description =
            "Closed-loop warm-up updates per client before the first step (0 for"
                + " none); default ${DEFAULT-VALUE}.")
    int warmupUpdates;

    @Option(
        names = "--timeout",
        paramLabel = "DURATION",
        defaultValue = "30s",
        converter = DurationConverter.class,
        description = "Time each step may take beyond its schedule; default ${DEFAULT-VALUE}.")
    Duration timeout;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the JSON here.")
    java.nio.file.Path json;

    @Option(
        names = "--charts",
        paramLabel = "DIR",
        description = "Also write saturation.png (throughput and p99 against offered load).")
    java.nio.file.Path charts;

    @Override
    public Integer call() throws Exception {
      SaturationScenario.Config config;
      try {
        config =
            new SaturationScenario.Config(
                new WorkloadScenario.Config(
                    clients, docs, updatesPerStep, startRate, warmupUpdates, timeout),
                startRate,
                step,
                maxRate,
                maxSteps,
                p99LimitMs);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
      }
      PrintWriter out = spec.commandLine().getOut();
      try (Target t = target.open(spec, false, token.read(spec))) {
        out.println("lattice-load saturation: " + t.description());
        out.printf(
            Locale.ROOT,
            "%d clients, %d documents, %d updates per client per step, rates %s per client%n",
            clients,
            docs,
            updatesPerStep,
            config.rates().stream().map(Report::number).toList());
        if (warmupUpdates > 0) {
          out.printf(
              Locale.ROOT,
              "warming up: %d clients x %d updates, closed loop, separate documents%n",
              clients,
              warmupUpdates);
        }
        out.flush();
        int[] index = {0};
        boolean[] headed = {false};
        SaturationScenario.Result r =
            SaturationScenario.run(
                List.of(t.uri()),
                config,
                s -> {
                  if (!headed[0]) {
                    headed[0] = true;
                    out.println(
                        warmupUpdates > 0
                            ? "warm-up done (" + warmupUpdates + " updates per client)"
                            : "no warm-up");
                    Report.saturationHeader(out);
                  }
                  Report.saturationRow(out, ++index[0], s, p99LimitMs);
                });
        String line = Report.saturation(out, r);
        writeJson(json, line);
        if (charts != null) {
          java.nio.file.Path png = charts.resolve("saturation.png");
          Charts.saturation(
              png,
              String.format(
                  Locale.ROOT,
                  "Lattice saturation: %d clients, %d docs, %d updates per client per step",
                  clients,
                  docs,
                  updatesPerStep),
              r.steps().stream()
                  .map(
                      s ->
                          new Charts.Step(
                              s.offered(),
                              s.result().ackedPerSecond(),
                              s.p50Ms(),
                              s.p99Ms(),
                              s.result().ok()))
                  .toList(),
              p99LimitMs);
          out.println("chart: " + png);
          out.flush();
        }
        return r.ok() ? 0 : 1;
      } catch (LoadException e) {
        spec.commandLine().getErr().println("lattice-load: the run failed: " + e.getMessage());
        return 1;
      }
    }
  }

  @Command(
      name = "idle",
      mixinStandardHelpOptions = true,
      sortOptions = false,
      description = {
        "N subscribed connections held idle (answering the server's PINGs). Reports the server's"
            + " heap after a full GC and RSS per connection, and its CPU%% during the hold. With"
            + " --uri give --server-pid to measure that process (/proc and jcmd); an in-process"
            + " server is measured in this JVM, so keep --procs at 1 or more to leave the clients"
            + " out of it."
      })
  static final class Idle implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1", heading = "Server (one of):%n")
    TargetChoice target;

    @ArgGroup(exclusive = true, multiplicity = "0..1", heading = "Credentials (at most one):%n")
    TokenChoice token = new TokenChoice();

    @Option(
        names = "--connections",
        paramLabel = "N",
        defaultValue = "1000",
        description = "Connections; default ${DEFAULT-VALUE}.")
    int connections;

    @Option(
        names = "--docs",
        paramLabel = "D",
        defaultValue = "1",
        description = "Documents; connection j subscribes to j mod D; default ${DEFAULT-VALUE}.")
    int docs;

    @Option(
        names = "--hold",
        paramLabel = "SECONDS",
        defaultValue = "30",
        description = "Seconds to hold them idle (at most 300); default ${DEFAULT-VALUE}.")
    int hold;

    @Option(
        names = "--procs",
        paramLabel = "P",
        description =
            "Child JVMs that open the connections (0: in this process); default: one per 15,000"
                + " connections, at least 1.")
    Integer procs;

    @Option(
        names = "--server-pid",
        paramLabel = "PID",
        description = "With --uri: the server's process id, to read its RSS, CPU and heap.")
    Long serverPid;

    @Option(
        names = "--settle",
        paramLabel = "DURATION",
        defaultValue = "3s",
        converter = DurationConverter.class,
        description = "Wait after connecting before measuring; default ${DEFAULT-VALUE}.")
    Duration settle;

    @Option(
        names = "--connect-timeout",
        paramLabel = "DURATION",
        defaultValue = "10s",
        converter = DurationConverter.class,
        description = "Limit for each connection's handshake; default ${DEFAULT-VALUE}.")
    Duration connectTimeout;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the JSON here.")
    java.nio.file.Path json;

    @Override
    public Integer call() throws Exception {
      int p = procs != null ? procs : Math.max(1, (connections + 14_999) / 15_000);
      IdleScenario.Config config;
      try {
        config =
            new IdleScenario.Config(
                connections, docs, Duration.ofSeconds(hold), p, settle, connectTimeout);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
      }
      PrintWriter out = spec.commandLine().getOut();
      try (Target t = target.open(spec, false, token.read(spec))) {
        boolean inProcess = target.uris == null || target.uris.isEmpty();
        ServerProbe probe =
            inProcess ? ServerProbe.self() : ServerProbe.of(serverPid != null ? serverPid : -1);
        out.println("lattice-load idle: " + t.description());
        out.flush();
        IdleScenario.Result r = IdleScenario.run(t.uri(), config, probe, inProcess);
        writeJson(json, Report.idle(out, r));
        return r.ok() ? 0 : 1;
      } catch (LoadException e) {
        spec.commandLine().getErr().println("lattice-load: the run failed: " + e.getMessage());
        return 1;
      }
    }
  }

  /** The child JVM of {@code idle --procs}: opens its share, reports, holds until told to stop. */
  @Command(name = "idle-worker", hidden = true)
  static final class IdleWorker implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--uri", required = true)
    URI uri;

    @Option(names = "--from", required = true)
    int from;

    @Option(names = "--count", required = true)
    int count;

    @Option(names = "--docs", required = true)
    int docs;

    @Option(names = "--prefix", required = true)
    String prefix;

    @Option(names = "--connect-timeout", converter = DurationConverter.class, defaultValue = "10s")
    Duration connectTimeout;

    @Option(names = "--max-life", converter = DurationConverter.class, defaultValue = "10m")
    Duration maxLife;

    @Override
    public Integer call() throws Exception {
      PrintWriter out = spec.commandLine().getOut();
      UpgradeToken.set(System.getenv(UpgradeToken.ENV));
      IdleClients clients;
      try {
        clients = IdleClients.open(uri, from, count, docs, prefix, connectTimeout, 4);
      } catch (LoadException e) {
        out.println(IdleScenario.WORKER_LINE + "FAILED " + e.getMessage());
        out.flush();
        return 1;
      }
      try (clients) {
        out.println(IdleScenario.WORKER_LINE + "READY " + clients.connected());
        out.flush();
        // Hold until the parent says STOP or its pipe closes, and never beyond --max-life.
        java.util.concurrent.CountDownLatch stop = new java.util.concurrent.CountDownLatch(1);
        Thread reader =
            Runs.daemonThreads("idle-worker-in")
                .newThread(
                    () -> {
                      try (java.io.BufferedReader in =
                          new java.io.BufferedReader(
                              new java.io.InputStreamReader(
                                  System.in, java.nio.charset.StandardCharsets.UTF_8))) {
                        for (String line = in.readLine(); line != null; line = in.readLine()) {
                          if (line.trim().equals("STOP")) {
                            break;
                          }
                        }
                      } catch (java.io.IOException e) {
                        // parent gone: stop
                      }
                      stop.countDown();
                    });
        reader.start();
        stop.await(maxLife.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        out.println(
            IdleScenario.WORKER_LINE + "DONE " + clients.pongs() + " " + clients.closedByServer());
        out.flush();
      }
      return 0;
    }
  }

  /** Writes {@code json} and a newline to {@code file} when one was asked for. */
  static void writeJson(java.nio.file.Path file, String json) throws java.io.IOException {
    if (file != null) {
      java.nio.file.Path parent = file.toAbsolutePath().getParent();
      if (parent != null) {
        java.nio.file.Files.createDirectories(parent);
      }
      java.nio.file.Files.writeString(file, json + System.lineSeparator());
    }
  }

  /** 500ms, 30s, 5m, 1h, or ISO-8601 (PT30S). */
  static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    private static final Pattern SHORT = Pattern.compile("(\\d+)(ms|s|m|h)");

    @Override
    public Duration convert(String text) {
      String t = text.trim();
      try {
        if (t.toUpperCase(Locale.ROOT).startsWith("P")) {
          return Duration.parse(t);
        }
      } catch (java.time.format.DateTimeParseException e) {
        // fall through to the message below
      }
      Matcher m = SHORT.matcher(t);
      if (!m.matches()) {
        throw new CommandLine.TypeConversionException(
            "'" + text + "' is not a duration (examples: 500ms, 30s, 5m, 1h, PT30S)");
      }
      long n = Long.parseLong(m.group(1));
      return switch (m.group(2)) {
        case "ms" -> Duration.ofMillis(n);
        case "s" -> Duration.ofSeconds(n);
        case "m" -> Duration.ofMinutes(n);
        default -> Duration.ofHours(n);
      };
    }
  }

  /** The jar manifest's Implementation-Version. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = LoadMain.class.getPackage().getImplementationVersion();
      return new String[] {"lattice-load " + (v != null ? v : "(development build)")};
    }
  }
}

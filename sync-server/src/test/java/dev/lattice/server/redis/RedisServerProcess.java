package dev.lattice.server.redis;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A real {@code redis-server} process for tests, on an ephemeral loopback port (never 6379, which
 * may be the machine's own Redis), in its own temporary directory. The binary is the {@code
 * redis-server} on {@code PATH}, else the one shipped inside the {@code
 * com.github.codemonstur:embedded-redis} test dependency (Redis 6.2: no sharded pub/sub, see {@link
 * #version()}).
 *
 * <p>Tests can crash it ({@link #kill9}), freeze it ({@link #pause}, SIGSTOP), restart it on the
 * same port and data ({@link #restart}, for AOF recovery) or empty ({@link #restartEmpty}), and
 * send it commands ({@link #call}, a minimal RESP client, so no {@code redis-cli} is needed).
 * Readiness is awaited by polling PING against a deadline. Close it in a finally block or
 * {@code @AfterEach}: {@link #close} kills the process and deletes its directory; a JVM shutdown
 * hook kills whatever a test forgot.
 *
 * <p>Not thread-safe: one test thread drives it ({@link #call} may be used from any thread).
 */
public final class RedisServerProcess implements AutoCloseable {

  private static final Duration START_DEADLINE = Duration.ofSeconds(20);
  private static final int FORBIDDEN_PORT = 6379;
  private static final Set<Process> LIVE = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(() -> LIVE.forEach(Process::destroyForcibly), "redis-test-reaper"));
  }

  private static volatile Path binary;
  private static volatile String version;

  private final boolean appendOnly;
  private final String appendFsync;
  private final boolean cluster;
  private final List<String> extraConfig;
  private final Path dir;
  private final Path dataDir;
  private int port;
  private Process process;

  private RedisServerProcess(Builder b) {
    this.appendOnly = b.appendOnly;
    this.appendFsync = b.appendFsync;
    this.cluster = b.cluster;
    this.extraConfig = List.copyOf(b.extraConfig);
    try {
      this.dir = Files.createTempDirectory("lattice-redis-");
      this.dataDir = Files.createDirectories(dir.resolve("data"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Options of a server; {@link Builder#start} starts it. */
  public static Builder builder() {
    return new Builder();
  }

  /** A started server with the defaults: AOF on, fsynced before every answer. */
  public static RedisServerProcess startDefault() {
    return builder().start();
  }

  /** The options of a {@link RedisServerProcess}. Not thread-safe. */
  public static final class Builder {
    private boolean appendOnly = true;
    private String appendFsync = "always";
    private boolean cluster;
    private final List<String> extraConfig = new ArrayList<>();

    private Builder() {}

    /** Whether to keep an append-only file; default yes. */
    public Builder appendOnly(boolean on) {
      this.appendOnly = on;
      return this;
    }

    /** {@code always} (the default), {@code everysec} or {@code no}. */
    public Builder appendFsync(String policy) {
      this.appendFsync = policy;
      return this;
    }

    /** Runs as a Redis Cluster node ({@code cluster-enabled yes}). */
    public Builder cluster(boolean on) {
      this.cluster = on;
      return this;
    }

    /**
     * One more line of {@code redis.conf}, e.g. {@code client-output-buffer-limit pubsub 1mb 0 0}.
     */
    public Builder config(String line) {
      extraConfig.add(line);
      return this;
    }

    /** Replicates {@code primary} ({@code replicaof 127.0.0.1 <port>}). */
    public Builder replicaOf(RedisServerProcess primary) {
      return config("replicaof 127.0.0.1 " + primary.port());
    }

    /** The server, not started. */
    public RedisServerProcess build() {
      return new RedisServerProcess(this);
    }

    /** The server, started and answering PING. */
    public RedisServerProcess start() {
      RedisServerProcess p = build();
      try {
        return p.start();
      } catch (RuntimeException | Error e) {
        p.close();
        throw e;
      }
    }
  }

  /**
   * Starts the server on a free loopback port (the same port again after a stop) and waits until it
   * answers PING, loading its data first if it has any.
   *
   * @throws IllegalStateException if it does not come up; the message holds its log
   */
  public RedisServerProcess start() {
    if (isRunning()) {
      throw new IllegalStateException("already running on port " + port);
    }
    boolean choosePort = port == 0;
    for (int attempt = 0; ; attempt++) {
      if (choosePort) {
        port = freePort();
      }
      try {
        launch();
        return this;
      } catch (PortTakenException e) {
        // Another process took the port between our probe and Redis' bind: pick again.
        if (!choosePort || attempt >= 5) {
          throw new IllegalStateException("port " + port + " is taken", e);
        }
      }
    }
  }

  private static final class PortTakenException extends RuntimeException {
    private static final long serialVersionUID = 1L;
  }

  private void launch() {
    Path conf = dir.resolve("redis.conf");
    Path log = dir.resolve("redis.log");
    List<String> lines = new ArrayList<>();
    lines.add("port " + port);
    lines.add("bind 127.0.0.1");
    lines.add("protected-mode no");
    lines.add("daemonize no");
    lines.add("dir " + dataDir.toAbsolutePath());
    lines.add("save \"\"");
    lines.add("appendonly " + (appendOnly ? "yes" : "no"));
    lines.add("appendfsync " + appendFsync);
    lines.add("logfile \"\"");
    // A replica syncs at once instead of after the default 5 s wait for more replicas.
    lines.add("repl-diskless-sync-delay 0");
    if (cluster) {
      lines.add("cluster-enabled yes");
      lines.add("cluster-config-file nodes.conf");
      // Also the delay before a master that saw itself in a minority (every node, before the
      // MEETs) rejoins: 2 s keeps the start short without declaring a busy node failed.
      lines.add("cluster-node-timeout 2000");
    }
    lines.addAll(extraConfig);
    try {
      Files.write(conf, lines);
      long logStart = Files.exists(log) ? Files.size(log) : 0;
      ProcessBuilder pb =
          new ProcessBuilder(binary().toString(), conf.toAbsolutePath().toString())
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
      process = pb.start();
      LIVE.add(process);
      long deadline = System.nanoTime() + START_DEADLINE.toNanos();
      while (true) {
        if (!process.isAlive()) {
          LIVE.remove(process);
          String out = logSince(log, logStart);
          if (out.contains("Address already in use")) {
            throw new PortTakenException();
          }
          throw new IllegalStateException("redis-server exited at start:\n" + out);
        }
        if (answersPing()) {
          return;
        }
        if (System.nanoTime() > deadline) {
          kill9();
          throw new IllegalStateException(
              "redis-server did not answer PING within "
                  + START_DEADLINE
                  + ":\n"
                  + logSince(log, logStart));
        }
        Thread.sleep(10);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      kill9();
      throw new IllegalStateException("interrupted while starting redis-server", e);
    }
  }

  private boolean answersPing() {
    try {
      return "PONG".equals(call("PING"));
    } catch (UncheckedIOException | RedisReplyException e) {
      return false; // not listening yet, or -LOADING its data
    }
  }

  private static String logSince(Path log, long from) {
    try {
      byte[] all = Files.readAllBytes(log);
      int start = (int) Math.min(from, all.length);
      return new String(all, start, all.length - start, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  /**
   * A free loopback port below Linux's ephemeral range (32768 and up by default). A port from that
   * range can be handed to an outgoing connection while the server is stopped: a client that keeps
   * reconnecting to it may then connect to itself (TCP simultaneous open, the port being its own
   * local port) and hold it, and the restart fails with "port taken".
   */
  private static int freePort() {
    for (int i = 0; i < 100; i++) {
      int p = 20_000 + java.util.concurrent.ThreadLocalRandom.current().nextInt(12_000);
      if (p == FORBIDDEN_PORT) {
        continue;
      }
      try (ServerSocket s = new ServerSocket()) {
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), p), 1);
        return p;
      } catch (IOException taken) {
        // in use: try another
      }
    }
    throw new IllegalStateException("no free port between 20000 and 31999");
  }

  /** {@code redis://127.0.0.1:<port>}. */
  public String uri() {
    return "redis://127.0.0.1:" + port;
  }

  /** The port, chosen by the first {@link #start}. */
  public int port() {
    return port;
  }

  /** The directory holding the config, the log and (under {@code data}) the data files. */
  public Path dir() {
    return dir;
  }

  /** The operating system's id of the running process. */
  public long pid() {
    requireRunning();
    return process.pid();
  }

  /** Whether the process is alive (perhaps paused). */
  public boolean isRunning() {
    return process != null && process.isAlive();
  }

  /** Kills the process with SIGKILL, as a crash would, and waits until it is gone. */
  public void kill9() {
    if (process == null) {
      return;
    }
    process.destroyForcibly();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        throw new IllegalStateException("redis-server " + process.pid() + " survived SIGKILL");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    LIVE.remove(process);
  }

  /** Freezes the process (SIGSTOP): connections stay open, nothing is answered. */
  public void pause() {
    signal("-STOP");
  }

  /** Thaws a {@link #pause}d process (SIGCONT). */
  public void resume() {
    signal("-CONT");
  }

  private void signal(String signal) {
    requireRunning();
    try {
      Process kill = new ProcessBuilder("kill", signal, Long.toString(process.pid())).start();
      if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
        throw new IllegalStateException("kill " + signal + " " + process.pid() + " failed");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Kills the process (SIGKILL) and starts it again on the same port with the same data. */
  public void restart() {
    kill9();
    start();
  }

  /** Kills the process (SIGKILL), deletes its data and starts it again, empty, on the same port. */
  public void restartEmpty() {
    kill9();
    deleteContents(dataDir);
    start();
  }

  private void requireRunning() {
    if (!isRunning()) {
      throw new IllegalStateException("redis-server is not running");
    }
  }

  /** A Redis error reply. */
  public static final class RedisReplyException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    RedisReplyException(String message) {
      super(message);
    }
  }

  /**
   * Sends one command and returns its reply: a {@link String} for simple and bulk strings (UTF-8),
   * {@link Long} for integers, {@link List} for arrays, null for nil.
   *
   * @throws RedisReplyException for an error reply
   * @throws UncheckedIOException if the server cannot be reached within 5 s
   */
  public Object call(String... args) {
    byte[][] raw = new byte[args.length][];
    for (int i = 0; i < args.length; i++) {
      raw[i] = args[i].getBytes(StandardCharsets.UTF_8);
    }
    return call(raw);
  }

  /** {@link #call(String...)} with binary arguments. */
  public Object call(byte[]... args) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
      s.setSoTimeout(5000);
      OutputStream out = s.getOutputStream();
      ByteArrayOutputStream req = new ByteArrayOutputStream();
      req.write(("*" + args.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
      for (byte[] a : args) {
        req.write(("$" + a.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
        req.write(a);
        req.write('\r');
        req.write('\n');
      }
      out.write(req.toByteArray());
      out.flush();
      return readReply(new BufferedInputStream(s.getInputStream()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Object readReply(InputStream in) throws IOException {
    int type = in.read();
    if (type < 0) {
      throw new EOFException("connection closed before a reply");
    }
    String line = readLine(in);
    switch (type) {
      case '+':
        return line;
      case '-':
        throw new RedisReplyException(line);
      case ':':
        return Long.parseLong(line);
      case '$':
        {
          int len = Integer.parseInt(line);
          if (len < 0) {
            return null;
          }
          byte[] data = in.readNBytes(len + 2);
          if (data.length != len + 2) {
            throw new EOFException("short bulk reply");
          }
          return new String(data, 0, len, StandardCharsets.UTF_8);
        }
      case '*':
        {
          int n = Integer.parseInt(line);
          if (n < 0) {
            return null;
          }
          List<Object> items = new ArrayList<>(n);
          for (int i = 0; i < n; i++) {
            try {
              items.add(readReply(in));
            } catch (RedisReplyException e) {
              items.add(e); // an error inside an array (EXEC) is an element, not the reply
            }
          }
          return items;
        }
      default:
        throw new IOException("unexpected RESP type '" + (char) type + "'");
    }
  }

  private static String readLine(InputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    int c;
    while ((c = in.read()) >= 0) {
      if (c == '\r') {
        in.read(); // '\n'
        return b.toString(StandardCharsets.UTF_8);
      }
      b.write(c);
    }
    throw new EOFException("connection closed inside a reply");
  }

  /** A field of {@code INFO <section>}, or null. */
  public String info(String section, String field) {
    String info = (String) call("INFO", section);
    for (String line : info.split("\r\n")) {
      if (line.startsWith(field + ":")) {
        return line.substring(field.length() + 1);
      }
    }
    return null;
  }

  /** Kills the process and deletes its directory. Idempotent. */
  @Override
  public void close() {
    kill9();
    deleteContents(dir);
    try {
      Files.deleteIfExists(dir);
    } catch (IOException e) {
      // A leftover temp directory is no failure of the test.
    }
  }

  private static void deleteContents(Path root) {
    if (!Files.isDirectory(root)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        if (!p.equals(root)) {
          Files.deleteIfExists(p);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot clear " + root, e);
    }
  }

  // ---------------------------------------------------------------- the binary

  /**
   * The {@code redis-server} the tests run: the system property {@value #BINARY_PROPERTY} if set (a
   * path, or {@code embedded}), else the one on {@code PATH}, else the one inside the
   * embedded-redis jar, extracted once per JVM.
   */
  public static synchronized Path binary() {
    if (binary == null) {
      String chosen = System.getProperty(BINARY_PROPERTY, "");
      if (chosen.equals("embedded")) {
        binary = extractEmbedded();
      } else if (!chosen.isEmpty()) {
        binary = Path.of(chosen);
      } else {
        Path onPath = onPath("redis-server");
        binary = onPath != null ? onPath : extractEmbedded();
      }
    }
    return binary;
  }

  /** The system property that picks the binary: a path, or {@code embedded}. */
  public static final String BINARY_PROPERTY = "lattice.test.redis-server";

  /** The server's version, e.g. {@code 7.0.15}. */
  public static synchronized String version() {
    if (version == null) {
      try {
        Process p =
            new ProcessBuilder(binary().toString(), "--version").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(10, TimeUnit.SECONDS);
        Matcher m = Pattern.compile("v=(\\d+\\.\\d+\\.\\d+)").matcher(out);
        version = m.find() ? m.group(1) : "0.0.0";
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
    return version;
  }

  /** The major version of {@link #version()}. */
  public static int majorVersion() {
    return Integer.parseInt(version().substring(0, version().indexOf('.')));
  }

  private static Path onPath(String name) {
    String path = System.getenv("PATH");
    if (path == null) {
      return null;
    }
    for (String d : path.split(java.io.File.pathSeparator)) {
      Path candidate = Path.of(d, name);
      if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
        return candidate;
      }
    }
    return null;
  }

  private static Path extractEmbedded() {
    String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
    String resource;
    if (os.contains("linux")) {
      resource =
          arch.contains("aarch64") || arch.contains("arm64")
              ? "redis-server-6.2.7-linux-arm64"
              : "redis-server-6.2.6-v5-linux-amd64";
    } else if (os.contains("mac")) {
      resource =
          arch.contains("aarch64") || arch.contains("arm64")
              ? "redis-server-6.2.6-v5-darwin-arm64"
              : "redis-server-6.2.6-v5-darwin-amd64";
    } else {
      throw new IllegalStateException(
          "no redis-server on PATH, and none embedded for " + os + "/" + arch);
    }
    try (InputStream in = RedisServerProcess.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException(
            "no redis-server on PATH, and the embedded-redis jar holds no " + resource);
      }
      Path d = Files.createTempDirectory("lattice-redis-bin-");
      Path bin = d.resolve("redis-server");
      Files.copy(in, bin, StandardCopyOption.REPLACE_EXISTING);
      Files.setPosixFilePermissions(bin, PosixFilePermissions.fromString("rwxr-xr-x"));
      // Deleted in reverse order of registration: the directory must come first to go last.
      d.toFile().deleteOnExit();
      bin.toFile().deleteOnExit();
      return bin;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

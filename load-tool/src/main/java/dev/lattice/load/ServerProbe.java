package dev.lattice.load;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a server process's footprint for the {@code idle} scenario: resident set size from {@code
 * /proc/PID/status}, CPU time from {@code /proc/PID/stat} (utime + stime, in clock ticks of 1/100
 * s, the Linux USER_HZ), and heap in use after a full GC: for this process, {@link System#gc()} and
 * the MemoryMXBean; for another, {@code jcmd PID GC.run} then {@code jcmd PID GC.heap_info}. A
 * figure that cannot be read is -1. Stateless apart from the pid; thread-safe.
 */
final class ServerProbe {

  /** Linux's USER_HZ, the unit of utime and stime in /proc/PID/stat on every common kernel. */
  static final long TICKS_PER_SECOND = 100;

  private static final Pattern USED = Pattern.compile("used (\\d+)K");

  private final long pid;
  private final boolean self;

  private ServerProbe(long pid, boolean self) {
    this.pid = pid;
    this.self = self;
  }

  /** This process (an in-process server). */
  static ServerProbe self() {
    return new ServerProbe(ProcessHandle.current().pid(), true);
  }

  /** Another process, by pid; -1 for "not given": every figure is then -1. */
  static ServerProbe of(long pid) {
    return new ServerProbe(pid, pid == ProcessHandle.current().pid());
  }

  long pid() {
    return pid;
  }

  /** Resident set size in bytes, or -1. */
  long rssBytes() {
    if (pid < 0) {
      return -1;
    }
    try {
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux, or gone
    }
    return -1;
  }

  /** User plus system CPU time in nanoseconds, or -1. */
  long cpuNanos() {
    if (pid < 0) {
      return -1;
    }
    try {
      return parseCpuTicks(Files.readString(Path.of("/proc/" + pid + "/stat")))
          * (1_000_000_000L / TICKS_PER_SECOND);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** utime + stime (fields 14 and 15) of a /proc/PID/stat line; the name may hold spaces. */
  static long parseCpuTicks(String stat) {
    String[] after = stat.substring(stat.lastIndexOf(')') + 2).trim().split("\\s+");
    // after[0] is field 3 (state), so field n is after[n - 3].
    return Long.parseLong(after[11]) + Long.parseLong(after[12]);
  }

  /** Heap in use right after a full GC, bytes, or -1. */
  long heapAfterGcBytes() throws InterruptedException {
    if (pid < 0) {
      return -1;
    }
    if (self) {
      System.gc();
      System.gc();
      return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
    String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
    if (run(List.of(jcmd, Long.toString(pid), "GC.run")) == null) {
      return -1;
    }
    String info = run(List.of(jcmd, Long.toString(pid), "GC.heap_info"));
    return info == null ? -1 : parseHeapUsedBytes(info);
  }

  /** The first "used NK" of {@code jcmd GC.heap_info} output, in bytes; -1 if none. */
  static long parseHeapUsedBytes(String heapInfo) {
    Matcher m = USED.matcher(heapInfo);
    return m.find() ? Long.parseLong(m.group(1)) * 1024 : -1;
  }

  private static String run(List<String> command) throws InterruptedException {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return null;
      }
      return p.exitValue() == 0 ? new String(out, StandardCharsets.UTF_8) : null;
    } catch (IOException e) {
      return null;
    }
  }
}

package dev.lattice.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.server.OrphanGuard;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A child JVM running a {@code main} of the test classpath, and the lines it printed, read by a
 * thread of its own as they come and to the end once it is gone. For tests that kill a process
 * mid-work.
 *
 * <p>The child's stdout goes to a file, not a pipe: when a child is killed, lines already written
 * into a pipe can be lost to the JDK's own draining of the pipe at process exit while a thread is
 * reading it (seen here: a killed child's last three lines missing), and what a killed child
 * printed is exactly what these tests reason about. A file keeps every byte written before the
 * kill.
 */
final class ChildJvm implements AutoCloseable {
  final Process process;
  final Path stderr;
  final Path stdout;
  final LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
  final List<String> seen = new ArrayList<>();
  final Thread reader;

  ChildJvm(Class<?> main, Path stderr, String... args) throws IOException {
    this.stderr = stderr;
    this.stdout = stderr.resolveSibling(stderr.getFileName() + ".stdout");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> command =
        new ArrayList<>(
            List.of(
                java,
                "-XX:TieredStopAtLevel=1",
                "-cp",
                System.getProperty("java.class.path"),
                main.getName()));
    command.addAll(List.of(args));
    this.process =
        new ProcessBuilder(command)
            .redirectOutput(stdout.toFile())
            .redirectError(stderr.toFile())
            .start();
    this.reader = new Thread(this::follow, "crash-child-reader");
    reader.setDaemon(true);
    reader.start();
  }

  /** Reads the stdout file as it grows, line by line, until the child is gone and all is read. */
  private void follow() {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    byte[] buffer = new byte[8192];
    try (InputStream in = Files.newInputStream(stdout)) {
      while (true) {
        boolean exited = !process.isAlive();
        int n = in.read(buffer);
        if (n > 0) {
          for (int i = 0; i < n; i++) {
            if (buffer[i] == '\n') {
              lines.add(line.toString(StandardCharsets.UTF_8));
              line.reset();
            } else {
              line.write(buffer[i]);
            }
          }
        } else if (exited) {
          // The child was gone before this read found nothing more: everything is read. A
          // partial last line (killed mid-print) is not a line.
          break;
        } else {
          Thread.sleep(2);
        }
      }
    } catch (IOException e) {
      lines.add("error reading child: " + e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    lines.add("<eof>");
  }

  /** The next line, failing after a timeout or at the child's end. */
  String next() throws Exception {
    String line = lines.poll(60, TimeUnit.SECONDS);
    assertThat(line)
        .as("child's next line (child stderr: %s)", Files.readString(stderr))
        .isNotNull()
        .isNotEqualTo("<eof>")
        .doesNotStartWith("error");
    seen.add(line);
    return line;
  }

  /** Reads until {@code count} lines starting with {@code prefix} have been seen. */
  void awaitLines(String prefix, int count) throws Exception {
    while (seen.stream().filter(l -> l.startsWith(prefix)).count() < count) {
      assertThat(next()).as("child still running").isNotEqualTo("finished");
    }
  }

  /**
   * For a child's {@code main}: halts the child (status 3) when its stdin closes, which happens
   * when the parent test JVM is gone, so a child is never left running. The parent never writes to
   * it.
   */
  static void haltWhenParentGoes() {
    OrphanGuard.haltWhenParentGoes();
  }

  /** For a child's {@code main}: halts the child (status 4) after {@code lifetime} at most. */
  static void haltAfter(Duration lifetime) {
    Thread cap =
        new Thread(
            () -> {
              try {
                Thread.sleep(lifetime.toMillis());
              } catch (InterruptedException e) {
                // halt anyway
              }
              Runtime.getRuntime().halt(4);
            },
            "lifetime-cap");
    cap.setDaemon(true);
    cap.start();
  }

  /** Kills the child and collects what it printed before it died. */
  List<String> kill() throws Exception {
    process.destroyForcibly();
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).as("child exited").isTrue();
    reader.join(TimeUnit.SECONDS.toMillis(30));
    for (String line; (line = lines.poll()) != null && !line.equals("<eof>"); ) {
      seen.add(line);
    }
    return seen;
  }

  @Override
  public void close() {
    process.destroyForcibly();
  }
}

package dev.lattice.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A child JVM running a {@code main} of the test classpath, and the lines it printed, read by a
 * thread of its own until its stdout closes. For tests that kill a process mid-work.
 */
final class ChildJvm implements AutoCloseable {
  final Process process;
  final Path stderr;
  final LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
  final List<String> seen = new ArrayList<>();
  final Thread reader;

  ChildJvm(Class<?> main, Path stderr, String... args) throws IOException {
    this.stderr = stderr;
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
    this.process = new ProcessBuilder(command).redirectError(stderr.toFile()).start();
    this.reader =
        new Thread(
            () -> {
              try (BufferedReader in =
                  new BufferedReader(
                      new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                  lines.add(line);
                }
              } catch (IOException e) {
                lines.add("error reading child: " + e);
              }
              lines.add("<eof>");
            },
            "crash-child-reader");
    reader.setDaemon(true);
    reader.start();
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

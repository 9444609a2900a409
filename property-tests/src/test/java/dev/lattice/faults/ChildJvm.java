package dev.lattice.faults;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A child JVM of a fault IT on the test's class path: started, killed with {@code kill -9} ({@link
 * Process#destroyForcibly()}) and started again with the same arguments. Its stdout lines go to a
 * listener; a start waits for the line that says it is ready. Its stderr goes to {@code
 * <name>-<start>-stderr.txt} in the run's directory. The child halts when its stdin closes, so it
 * never outlives the test JVM.
 *
 * <p>Thread-safe for {@link #send}; start and kill from the test thread. The listener runs on the
 * stdout reader's thread.
 */
final class ChildJvm {

  private static final long START_SECONDS = 60;

  private final Path dir;
  private final String name;
  private final List<String> command;
  private final Consumer<String> listener;
  private Process process;
  private OutputStream stdin;
  private int starts;

  ChildJvm(
      Path dir,
      String name,
      Class<?> main,
      String heap,
      List<String> args,
      Consumer<String> listener) {
    this.dir = dir;
    this.name = name;
    this.listener = listener;
    List<String> c = new ArrayList<>();
    c.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    c.add("-Xmx" + heap);
    c.add("-XX:TieredStopAtLevel=1");
    c.add("-XX:+UseSerialGC");
    c.add("-cp");
    c.add(System.getProperty("java.class.path"));
    c.add(main.getName());
    c.addAll(args);
    this.command = List.copyOf(c);
  }

  /** How many times it was started. */
  int starts() {
    return starts;
  }

  /**
   * Starts the child and waits for its line beginning with {@code ready}; returns the rest of it.
   */
  synchronized String start(String ready) throws Exception {
    starts++;
    Path stderr = dir.resolve(name + "-" + starts + "-stderr.txt");
    Process p = new ProcessBuilder(command).redirectError(stderr.toFile()).start();
    process = p;
    stdin = p.getOutputStream();
    CompletableFuture<String> printed = new CompletableFuture<>();
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader in =
                  new BufferedReader(
                      new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                  if (!printed.isDone() && line.startsWith(ready)) {
                    printed.complete(line.substring(ready.length()).trim());
                  }
                  listener.accept(line);
                }
                printed.completeExceptionally(new IOException(name + "'s stdout ended"));
              } catch (IOException | RuntimeException e) {
                printed.completeExceptionally(e);
              }
            },
            name + "-stdout");
    reader.setDaemon(true);
    reader.start();
    try {
      return printed.get(START_SECONDS, TimeUnit.SECONDS);
    } catch (Exception e) {
      kill();
      throw new AssertionError(name + " did not start; stderr: " + Files.readString(stderr), e);
    }
  }

  /** Sends one line to the child's stdin; lost if the child is dead. */
  synchronized void send(String line) {
    try {
      stdin.write((line + "\n").getBytes(StandardCharsets.UTF_8));
      stdin.flush();
    } catch (IOException e) {
      // the child is gone: what it did not get stays unacknowledged
    }
  }

  boolean alive() {
    return process != null && process.isAlive();
  }

  /** {@code kill -9}, and waits until the process is gone. */
  void kill() throws InterruptedException {
    Process p = process;
    if (p != null && p.isAlive()) {
      p.destroyForcibly();
      p.waitFor(30, TimeUnit.SECONDS);
    }
  }
}

package dev.lattice.faults;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.Value;
import dev.lattice.hlc.HlcTimestamp;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The recorded history of a fault IT: every edit attempted, whether the server acknowledged it (its
 * flush completed normally, as seen by the test), and for register writes the value and the
 * timestamp the writer gave it; the faults in order. Checked after healing against the state a
 * fresh reader gets: each counter by Jepsen's counter checker ({@link CounterCheck}), the register
 * a value somebody wrote and at least as late as every acknowledged write. Written to {@code
 * report.txt} and {@code history.txt}.
 *
 * <p>Thread-safe: attempts are added and acknowledged from any thread (the children's output
 * readers); {@link #check} and {@link #write} read a copy.
 */
final class History {

  /** Where an attempt stands as the test saw it. */
  enum State {
    PENDING,
    ACK,
    FAILED
  }

  /** One edit. Counter edits have a null value; register writes an amount of 0. */
  static final class Attempt {
    final int client;
    final String field;
    final long amount;
    final Value value;
    private volatile HlcTimestamp stamp;
    private volatile State state = State.PENDING;

    Attempt(int client, String field, long amount, Value value) {
      this.client = client;
      this.field = field;
      this.amount = amount;
      this.value = value;
    }

    /** Marks it acknowledged (true) or failed (false); a later report does not undo an ACK. */
    void settle(boolean acknowledged) {
      if (state != State.ACK) {
        state = acknowledged ? State.ACK : State.FAILED;
      }
    }

    /** The timestamp the writer's replica gave a register write, when it could read it. */
    void stamp(HlcTimestamp at) {
      stamp = at;
    }

    HlcTimestamp stamp() {
      return stamp;
    }

    boolean acknowledged() {
      return state == State.ACK;
    }

    @Override
    public String toString() {
      return "c"
          + client
          + " "
          + field
          + " "
          + (value == null ? Long.toString(amount) : value + " @" + stamp)
          + " "
          + state;
    }
  }

  private final List<Attempt> attempts = new ArrayList<>();
  private final List<String> events = new ArrayList<>();

  /** Records an edit about to be made, pending. */
  synchronized Attempt attempt(int client, String field, long amount, Value value) {
    Attempt a = new Attempt(client, field, amount, value);
    attempts.add(a);
    return a;
  }

  /** Records a fault or another event, in order. */
  synchronized void event(String what) {
    events.add(what);
  }

  synchronized List<Attempt> attempts() {
    return List.copyOf(attempts);
  }

  synchronized List<String> events() {
    return List.copyOf(events);
  }

  /**
   * The problems of {@code result} (a fresh reader's state after healing) against the history: the
   * counters {@code counters} by the counter checker, the register {@code register} by the LWW
   * rules above. Empty if none.
   */
  List<String> check(Document result, List<String> counters, String register) {
    List<Attempt> all = attempts();
    List<String> problems = new ArrayList<>();
    for (String field : counters) {
      CounterCheck check = new CounterCheck();
      for (Attempt a : all) {
        if (a.field.equals(field)) {
          check.attempt(a.amount, a.acknowledged());
        }
      }
      String violation = check.violation(result.counterValue(field));
      if (violation != null) {
        problems.add(field + " = " + violation);
      }
    }
    Optional<Value> last = result.registerValue(register);
    Optional<HlcTimestamp> lastStamp = result.registerTimestamp(register);
    boolean written = false;
    for (Attempt a : all) {
      if (!a.field.equals(register)) {
        continue;
      }
      written |= last.isPresent() && a.value.equals(last.get());
      HlcTimestamp stamp = a.stamp();
      if (a.acknowledged()
          && stamp != null
          && (lastStamp.isEmpty() || stamp.compareTo(lastStamp.get()) > 0)) {
        problems.add(register + " = " + last + " @" + lastStamp + ", below the acknowledged " + a);
      }
    }
    if (last.isPresent() && !written) {
      problems.add(register + " = " + last.get() + ", a value nobody wrote");
    }
    return problems;
  }

  /** Writes {@code report.txt} (the problems, then the faults) and {@code history.txt}. */
  void write(Path dir, long seed, List<String> problems) throws IOException {
    List<String> lines = new ArrayList<>();
    lines.add("seed " + seed);
    lines.add("problems:");
    problems.forEach(p -> lines.add("  " + p));
    lines.add("faults:");
    events().forEach(e -> lines.add("  " + e));
    Files.createDirectories(dir);
    Files.write(dir.resolve("report.txt"), lines, StandardCharsets.UTF_8);
    List<String> h = new ArrayList<>();
    attempts().forEach(a -> h.add(a.toString()));
    Files.write(dir.resolve("history.txt"), h, StandardCharsets.UTF_8);
  }

  /**
   * {@link #write}, then fails naming the seed to replay, the report's directory and the problems,
   * if there are any.
   */
  void writeAndAssert(Path dir, long seed, List<String> problems) throws IOException {
    write(dir, seed, problems);
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
  }

  /** How many attempts the test saw acknowledged. */
  long acknowledged() {
    return attempts().stream().filter(Attempt::acknowledged).count();
  }

  /** The first 40 of a run's fault events, one a line, and how many more a soak had. */
  static String firstEvents(List<String> events) {
    int shown = Math.min(40, events.size());
    String listed = String.join("\n  ", events.subList(0, shown));
    return shown == events.size()
        ? listed
        : listed + "\n  ... and " + (events.size() - shown) + " more";
  }
}

package dev.lattice.faults;

import dev.lattice.crdt.Value;
import dev.lattice.hlc.HlcTimestamp;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The test JVM's side of a {@link FaultClientChild}: sends it edits, recording each in the {@link
 * History} before it is sent, and settles them from what the child prints. An edit whose {@code
 * ack} was not seen (the child was killed first, or the ack is still to come) stays unacknowledged.
 *
 * <p>Thread-safe: the child's output is read on its own thread.
 */
final class ClientJvm {

  /** One client of the child: its global index, state directory, proxy and clock offset. */
  record Member(int index, Path state, FaultProxy proxy, long clockOffsetMillis) {}

  private static final AtomicLong IDS = new AtomicLong();

  final int number;
  final List<Member> members;
  private final History history;
  private final ChildJvm child;
  private final Map<String, History.Attempt> pending = new ConcurrentHashMap<>();
  private final Map<String, CompletableFuture<String>> requests = new ConcurrentHashMap<>();

  ClientJvm(
      Path dir, int number, String documentId, List<Member> members, History history, long life) {
    this.number = number;
    this.members = List.copyOf(members);
    this.history = history;
    // The child numbers its clients 0..n-1, by position.
    List<String> specs = new ArrayList<>(List.of(documentId, Long.toString(life)));
    for (int i = 0; i < members.size(); i++) {
      Member m = members.get(i);
      specs.add(
          i + "," + m.proxy.port() + "," + m.state.toAbsolutePath() + "," + m.clockOffsetMillis);
    }
    child =
        new ChildJvm(dir, "clients-" + number, FaultClientChild.class, "192m", specs, this::onLine);
  }

  void start() throws Exception {
    child.start("ready");
  }

  /** {@code kill -9}: whatever it had not reported acknowledged stays unacknowledged. */
  void kill() throws InterruptedException {
    child.kill();
    pending.clear();
    requests.values().forEach(r -> r.completeExceptionally(new IllegalStateException("killed")));
    requests.clear();
  }

  int starts() {
    return child.starts();
  }

  /** Increments a G-Counter ({@code pn} false) or a PN-Counter on member {@code m}. */
  void increment(int m, boolean pn, String field, long amount) {
    History.Attempt a = history.attempt(members.get(m).index(), field, amount, null);
    String id = Long.toString(IDS.incrementAndGet());
    pending.put(id, a);
    child.send((pn ? "pn " : "g ") + m + " " + id + " " + field + " " + amount);
  }

  /** Sets a register on member {@code m} to {@code value} (no spaces). */
  void set(int m, String field, String value) {
    History.Attempt a = history.attempt(members.get(m).index(), field, 0, Value.of(value));
    String id = Long.toString(IDS.incrementAndGet());
    pending.put(id, a);
    child.send("set " + m + " " + id + " " + field + " " + value);
  }

  /** Member {@code m}'s wall clock jumps to {@code offsetMillis} from the system clock. */
  void clock(int m, long offsetMillis) {
    child.send("clock " + m + " " + offsetMillis);
  }

  /** Completes when every member's flush did. */
  CompletableFuture<String> flush() {
    return request("flush");
  }

  /** Every member's encoded state, in order, within {@code seconds}. */
  List<byte[]> snapshots(long seconds) throws Exception {
    String reply = request("snap").get(seconds, TimeUnit.SECONDS);
    List<byte[]> out = new ArrayList<>();
    for (String s : reply.split(",")) {
      out.add(Base64.getDecoder().decode(s));
    }
    return out;
  }

  private CompletableFuture<String> request(String command) {
    String id = Long.toString(IDS.incrementAndGet());
    CompletableFuture<String> reply = new CompletableFuture<>();
    requests.put(id, reply);
    child.send(command + " " + id);
    return reply;
  }

  private void onLine(String line) {
    String[] c = line.split(" ", 3);
    switch (c[0]) {
      case "ack" -> {
        History.Attempt a = pending.remove(c[1]);
        if (a != null) {
          a.settle(true);
        }
      }
      case "fail" -> {
        History.Attempt a = pending.remove(c[1]);
        if (a != null) {
          a.settle(false);
          history.event("clients-" + number + ": " + a + ": " + (c.length > 2 ? c[2] : ""));
        }
      }
      case "stamp" -> {
        History.Attempt a = pending.get(c[1]);
        if (a != null) {
          a.stamp(HlcTimestamp.fromLong(Long.parseLong(c[2])));
        }
      }
      case "flushed", "snap" -> {
        CompletableFuture<String> r = requests.remove(c[1]);
        if (r != null) {
          r.complete(c.length > 2 ? c[2] : "");
        }
      }
      case "flushfail" -> {
        CompletableFuture<String> r = requests.remove(c[1]);
        if (r != null) {
          r.completeExceptionally(new IllegalStateException(c.length > 2 ? c[2] : "flush failed"));
        }
      }
      default -> {
        // "did", "ready": nothing to settle
      }
    }
  }
}

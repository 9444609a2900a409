package dev.lattice.properties.sim;

import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.LWWRegister;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.hlc.HybridLogicalClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;

/**
 * A seeded, deterministic simulation of replicas of one document exchanging deltas over a faulty
 * network. Everything random comes from one {@code java.util.Random(seed)}, so a configuration
 * replays exactly.
 *
 * <p>Each replica has a {@link Document}, a {@link HybridLogicalClock} over a manual physical clock
 * with its own skew and a random walk (forward and backward steps, within the drift bound), and
 * (unless the configuration turns outboxes off, leaving anti-entropy as the only repair) per peer
 * an outbox of its own deltas that peer has not acknowledged. The network drops, duplicates and
 * reorders messages and partitions the replicas into groups; messages across a partition are lost.
 * Replicas resend their outboxes from time to time and run anti-entropy: one sends its version
 * vector, the other answers with {@link Document#deltaSince}. Every payload travels as bytes
 * through the codecs (see {@link Wire}). Every merge feeds the delta's largest register timestamp
 * to the receiver's clock.
 *
 * <p>At the end the network heals and delivers everything, in bounded rounds of resends and
 * anti-entropy, until the replicas are equal; then the replicas are checked against the ground
 * truth of every operation made. A failure throws an {@link AssertionError} whose message holds the
 * configuration (to replay) and the trace of the steps.
 */
final class Simulation {

  /** What one run does. Equal configurations replay identically. */
  record Config(long seed, int replicas, int steps, boolean zeroAmounts, boolean outboxes) {
    @Override
    public String toString() {
      return "new Simulation.Config("
          + seed
          + "L, "
          + replicas
          + ", "
          + steps
          + ", "
          + zeroAmounts
          + ", "
          + outboxes
          + ")";
    }
  }

  static final Map<String, CrdtType> FIELDS = fields();

  static final long MAX_DRIFT_MS = 1_000;
  private static final long MAX_SKEW_MS = 200;
  private static final long MAX_WOBBLE_MS = 100;
  private static final int FAULTY_TAIL = 60;
  private static final int SETTLE_HEAD = 40;

  private final Config config;
  private final Random random;
  private final Wire wire;
  private final List<Node> nodes = new ArrayList<>();
  private final List<Message> inFlight = new ArrayList<>();
  private final List<String> trace = new ArrayList<>();
  private final int[] group;
  private final double dropRate;
  private final double duplicateRate;
  private long trueTime = 1_700_000_000_000L;
  private int step;
  private int settleStart = -1;

  // Ground truth: every operation made.
  private final Map<String, Long> counterSums = new TreeMap<>();
  private final Map<String, List<LWWRegister>> registerWrites = new TreeMap<>();
  private final Map<ReplicaId, Long> dotsMade = new TreeMap<>();

  // What the run exercised, for coverage statistics.
  final Map<String, Integer> counts = new TreeMap<>();

  Simulation(Config config, Wire wire) {
    this.config = config;
    this.random = new Random(config.seed());
    this.wire = wire;
    this.group = new int[config.replicas()];
    this.dropRate = random.nextDouble() * 0.3;
    this.duplicateRate = random.nextDouble() * 0.2;
    Set<ReplicaId> ids = new HashSet<>();
    for (int i = 0; i < config.replicas(); i++) {
      long skew = random.nextLong(-MAX_SKEW_MS, MAX_SKEW_MS + 1);
      ReplicaId id = ReplicaId.of(random.nextLong());
      if (!ids.add(id)) {
        id = ReplicaId.of(i);
      }
      nodes.add(new Node(i, id, skew));
    }
    log(
        "config %s, wire %s, drop %.2f, duplicate %.2f, skews %s",
        config,
        wire,
        dropRate,
        duplicateRate,
        nodes.stream().map(n -> n.name + "=" + n.id + " skew " + n.skew + "ms").toList());
  }

  static Map<String, CrdtType> fields() {
    Map<String, CrdtType> map = new LinkedHashMap<>();
    map.put("g1", CrdtType.G_COUNTER);
    map.put("g2", CrdtType.G_COUNTER);
    map.put("pn1", CrdtType.PN_COUNTER);
    map.put("pn2", CrdtType.PN_COUNTER);
    map.put("reg1", CrdtType.LWW_REGISTER);
    map.put("reg2", CrdtType.LWW_REGISTER);
    return map;
  }

  /** Runs the simulation; throws an AssertionError with the configuration and trace on failure. */
  void run() {
    try {
      for (step = 1; step <= config.steps(); step++) {
        trueTime += random.nextInt(20);
        randomStep();
      }
      settle();
      checkAgainstGroundTruth();
    } catch (AssertionError | RuntimeException e) {
      throw new AssertionError(report(e), e);
    }
  }

  // ---------------------------------------------------------------- the faulty phase

  private void randomStep() {
    int roll = random.nextInt(100);
    if (roll < 35) {
      localWrite(nodes.get(random.nextInt(nodes.size())));
    } else if (roll < 65) {
      if (!inFlight.isEmpty()) {
        deliver(inFlight.remove(random.nextInt(inFlight.size())), true);
      }
    } else if (roll < 70) {
      if (!inFlight.isEmpty()) {
        Message lost = inFlight.remove(random.nextInt(inFlight.size()));
        count("drop");
        log("drop %s", lost);
      }
    } else if (roll < 75) {
      if (!inFlight.isEmpty()) {
        Message copy = inFlight.get(random.nextInt(inFlight.size()));
        inFlight.add(copy);
        count("duplicate");
        log("duplicate %s", copy);
      }
    } else if (roll < 79) {
      partition();
    } else if (roll < 83) {
      heal();
    } else if (roll < 89) {
      resendOutbox(nodes.get(random.nextInt(nodes.size())), false);
    } else if (roll < 95) {
      int a = random.nextInt(nodes.size());
      int b = random.nextInt(nodes.size() - 1);
      antiEntropy(nodes.get(a), nodes.get(b >= a ? b + 1 : b), false);
    } else {
      Node n = nodes.get(random.nextInt(nodes.size()));
      long before = n.wobble;
      n.wobble =
          Math.max(-MAX_WOBBLE_MS, Math.min(MAX_WOBBLE_MS, n.wobble + random.nextLong(-60, 61)));
      count(n.wobble < before ? "clock back" : "clock forward");
      log("%s physical clock %+d ms (now %s)", n.name, n.wobble - before, n.physical());
    }
  }

  private void localWrite(Node n) {
    List<String> names = new ArrayList<>(FIELDS.keySet());
    String field = names.get(random.nextInt(names.size()));
    Dot dot = new Dot(n.id, n.doc.nextSequence(n.id));
    DocumentDelta delta;
    String what;
    switch (FIELDS.get(field)) {
      case G_COUNTER -> {
        long amount = amount(false);
        delta = n.doc.incrementGCounter(n.id, field, amount);
        counterSums.merge(field, amount, Long::sum);
        what = field + " += " + amount;
      }
      case PN_COUNTER -> {
        long amount = amount(true);
        delta = n.doc.addPNCounter(n.id, field, amount);
        counterSums.merge(field, amount, Long::sum);
        what = field + " += " + amount;
      }
      default -> {
        Value value = randomValue(2);
        HlcTimestamp ts = n.clock.now();
        delta = n.doc.setRegister(n.id, field, value, ts);
        registerWrites
            .computeIfAbsent(field, k -> new ArrayList<>())
            .add(LWWRegister.of(value, ts, n.id));
        what = field + " := " + value + " @" + ts;
        // The clock has seen every merged timestamp, so a local write wins at once.
        Optional<Value> shown = n.doc.registerValue(field);
        if (!shown.equals(Optional.of(value))) {
          throw new AssertionError(
              n.name + " wrote " + value + " at " + ts + " to " + field + " but reads " + shown);
        }
      }
    }
    dotsMade.merge(n.id, 1L, Long::sum);
    count("write");
    log("%s %s (dot %s)", n.name, what, dot);
    for (Node peer : nodes) {
      if (peer != n) {
        if (config.outboxes()) {
          n.outbox.get(peer.index).put(dot, delta);
        }
        send(new Message(Kind.DELTA, n.index, peer.index, List.of(dot), wire.encode(delta)));
      }
    }
  }

  private long amount(boolean signed) {
    if (config.zeroAmounts() && random.nextInt(8) == 0) {
      return 0;
    }
    long magnitude = 1 + random.nextInt(random.nextInt(10) == 0 ? 1_000_000 : 9);
    return signed && random.nextBoolean() ? -magnitude : magnitude;
  }

  private Value randomValue(int depth) {
    int kind = random.nextInt(depth > 0 ? 8 : 6);
    return switch (kind) {
      case 0 -> Value.nil();
      case 1 -> Value.of(random.nextBoolean());
      case 2 -> Value.of((long) random.nextInt(7) - 3);
      case 3 -> Value.of(random.nextInt(5) / 2.0);
      case 4 -> Value.of(List.of("a", "b", "é", "\ud83d\ude00").get(random.nextInt(4)));
      case 5 -> Value.of(new byte[] {(byte) random.nextInt(256)});
      case 6 -> Value.array(randomValue(depth - 1), randomValue(depth - 1));
      default -> Value.map(Map.of(Value.of("k" + random.nextInt(2)), randomValue(depth - 1)));
    };
  }

  private void partition() {
    int groups = 2 + random.nextInt(Math.min(2, nodes.size() - 1));
    for (int i = 0; i < group.length; i++) {
      group[i] = random.nextInt(groups);
    }
    count("partition");
    log("partition %s", groups());
  }

  private void heal() {
    Arrays.fill(group, 0);
    count("heal");
    log("heal");
  }

  private String groups() {
    Map<Integer, List<String>> byGroup = new TreeMap<>();
    for (Node n : nodes) {
      byGroup.computeIfAbsent(group[n.index], k -> new ArrayList<>()).add(n.name);
    }
    return String.join(" | ", byGroup.values().stream().map(Object::toString).toList());
  }

  private boolean connected(int a, int b) {
    return group[a] == group[b];
  }

  /** Resends every unacknowledged delta, one batch per peer. */
  private void resendOutbox(Node n, boolean reliable) {
    for (Node peer : nodes) {
      Map<Dot, DocumentDelta> pending = n.outbox.get(peer.index);
      if (peer == n || pending.isEmpty()) {
        continue;
      }
      DocumentDelta batch = DocumentDelta.empty();
      for (DocumentDelta d : pending.values()) {
        batch = batch.join(d);
      }
      count("resend");
      Message m =
          new Message(
              Kind.DELTA, n.index, peer.index, List.copyOf(pending.keySet()), wire.encode(batch));
      log("%s resends %d deltas to %s", n.name, pending.size(), peer.name);
      if (reliable) {
        inFlight.add(m);
      } else {
        send(m);
      }
    }
  }

  private void antiEntropy(Node asker, Node peer, boolean reliable) {
    count("anti-entropy");
    VersionVector vv = asker.doc.versionVector();
    Message m = new Message(Kind.SYNC_REQUEST, asker.index, peer.index, List.of(), wire.encode(vv));
    log("%s asks %s for what it lacks since %s", asker.name, peer.name, vv);
    if (reliable) {
      inFlight.add(m);
    } else {
      send(m);
    }
  }

  private void send(Message m) {
    if (!connected(m.from(), m.to())) {
      count("lost to partition");
      log("  lost to partition: %s", m);
      return;
    }
    if (random.nextDouble() < dropRate) {
      count("drop");
      log("  dropped on send: %s", m);
      return;
    }
    inFlight.add(m);
    if (random.nextDouble() < duplicateRate) {
      count("duplicate");
      inFlight.add(m);
    }
  }

  private void deliver(Message m, boolean faulty) {
    if (faulty && !connected(m.from(), m.to())) {
      count("lost to partition");
      log("lost to partition on delivery: %s", m);
      return;
    }
    Node to = nodes.get(m.to());
    Node from = nodes.get(m.from());
    count("deliver");
    switch (m.kind()) {
      case DELTA -> {
        DocumentDelta delta = wire.decodeDelta(m.payload());
        log("deliver %s: %s changed %s", m, to.name, receive(to, delta));
        reply(new Message(Kind.ACK, to.index, from.index, m.dots(), null), faulty);
      }
      case ACK -> {
        log("deliver %s", m);
        m.dots().forEach(to.outbox.get(from.index)::remove);
      }
      case SYNC_REQUEST -> {
        VersionVector vv = wire.decodeVector(m.payload());
        DocumentDelta lacking = to.doc.deltaSince(vv);
        log("deliver %s: answers with %s", m, lacking.context());
        if (!lacking.isEmpty()) {
          reply(
              new Message(
                  Kind.SYNC_RESPONSE, to.index, from.index, List.of(), wire.encode(lacking)),
              faulty);
        }
      }
      case SYNC_RESPONSE -> {
        DocumentDelta delta = wire.decodeDelta(m.payload());
        log("deliver %s: %s changed %s", m, to.name, receive(to, delta));
      }
    }
    checkBounds(to);
  }

  private void reply(Message m, boolean faulty) {
    if (faulty) {
      send(m);
    } else {
      inFlight.add(m);
    }
  }

  private Set<String> receive(Node n, DocumentDelta delta) {
    Set<String> changed = n.doc.merge(delta);
    delta.maxTimestamp().ifPresent(n.clock::update);
    return changed;
  }

  /** Jepsen-style bounds that hold at every moment, at every replica. */
  private void checkBounds(Node n) {
    for (Map.Entry<String, CrdtType> f : FIELDS.entrySet()) {
      String name = f.getKey();
      Optional<FieldState> field = n.doc.field(name);
      if (field.isEmpty()) {
        continue;
      }
      if (field.get().type() != f.getValue()) {
        throw new AssertionError(n.name + ": field " + name + " has type " + field.get().type());
      }
      if (f.getValue() == CrdtType.G_COUNTER) {
        long value = n.doc.counterValue(name);
        long made = counterSums.getOrDefault(name, 0L);
        if (value < 0 || value > made) {
          throw new AssertionError(
              n.name + ": " + name + " reads " + value + ", outside [0, " + made + "]");
        }
      }
      if (f.getValue() == CrdtType.LWW_REGISTER) {
        LWWRegister held = (LWWRegister) field.get().state();
        if (!registerWrites.getOrDefault(name, List.of()).contains(held)) {
          throw new AssertionError(n.name + ": " + name + " holds a write never made: " + held);
        }
      }
    }
    n.doc
        .context()
        .ranges()
        .forEach(
            r -> {
              if (r.last() > dotsMade.getOrDefault(r.replica(), 0L)) {
                throw new AssertionError(n.name + " holds dot " + r + " that was never made");
              }
            });
  }

  // ---------------------------------------------------------------- settling

  /**
   * Heals the network and delivers everything reliably, in rounds of outbox resends and
   * anti-entropy between every pair, until all replicas are equal and every outbox is empty.
   */
  private void settle() {
    settleStart = trace.size();
    log("---- settle: heal, then reliable rounds of resends and anti-entropy");
    heal();
    int maxRounds = 3 + nodes.size();
    for (int round = 1; round <= maxRounds; round++) {
      log("---- round %d", round);
      deliverAll();
      for (Node n : nodes) {
        resendOutbox(n, true);
      }
      deliverAll();
      for (Node a : nodes) {
        for (Node b : nodes) {
          if (a != b) {
            antiEntropy(a, b, true);
          }
        }
      }
      deliverAll();
      if (converged()) {
        log("---- converged after %d rounds", round);
        count("rounds to converge", round);
        return;
      }
    }
    throw new AssertionError(
        "replicas did not converge within "
            + maxRounds
            + " reliable rounds; "
            + firstDifference()
            + "; outboxes "
            + nodes.stream().map(n -> n.name + "=" + n.pendingCount()).toList());
  }

  private void deliverAll() {
    int budget = 100_000;
    while (!inFlight.isEmpty()) {
      if (--budget < 0) {
        throw new AssertionError("message storm: still " + inFlight.size() + " in flight");
      }
      deliver(inFlight.remove(random.nextInt(inFlight.size())), false);
    }
  }

  private boolean converged() {
    Document first = nodes.get(0).doc;
    for (Node n : nodes) {
      if (!n.doc.equals(first) || n.pendingCount() > 0) {
        return false;
      }
    }
    return true;
  }

  private String firstDifference() {
    Document first = nodes.get(0).doc;
    for (Node n : nodes) {
      if (!n.doc.context().equals(first.context())) {
        return nodes.get(0).name
            + " holds "
            + first.context()
            + " but "
            + n.name
            + " holds "
            + n.doc.context();
      }
      for (String name : FIELDS.keySet()) {
        Optional<FieldState> mine = first.field(name);
        Optional<FieldState> theirs = n.doc.field(name);
        if (!mine.equals(theirs)) {
          return "field "
              + name
              + " differs: "
              + nodes.get(0).name
              + " has "
              + mine.orElse(null)
              + ", "
              + n.name
              + " has "
              + theirs.orElse(null);
        }
      }
    }
    return "all equal";
  }

  // ---------------------------------------------------------------- the verdict

  private void checkAgainstGroundTruth() {
    VersionVector expectedVv = VersionVector.of(dotsMade);
    for (Node n : nodes) {
      for (Map.Entry<String, CrdtType> f : FIELDS.entrySet()) {
        String name = f.getKey();
        switch (f.getValue()) {
          case G_COUNTER, PN_COUNTER -> {
            long expected = counterSums.getOrDefault(name, 0L);
            long actual = n.doc.counterValue(name);
            if (actual != expected) {
              throw new AssertionError(
                  n.name
                      + ": counter "
                      + name
                      + " is "
                      + actual
                      + ", increments sum to "
                      + expected);
            }
          }
          case LWW_REGISTER -> {
            Optional<LWWRegister> winner =
                registerWrites.getOrDefault(name, List.of()).stream()
                    .max(
                        Comparator.comparing((LWWRegister r) -> r.timestamp().orElseThrow())
                            .thenComparing(r -> r.writer().orElseThrow()));
            Optional<LWWRegister> held =
                n.doc.field(name).map(field -> (LWWRegister) field.state());
            if (!Objects.equals(held, winner)) {
              throw new AssertionError(
                  n.name
                      + ": register "
                      + name
                      + " holds "
                      + held.orElse(null)
                      + ", the greatest (timestamp, replica) write is "
                      + winner.orElse(null));
            }
          }
        }
      }
      if (!n.doc.versionVector().equals(expectedVv)) {
        throw new AssertionError(
            n.name
                + ": version vector "
                + n.doc.versionVector()
                + ", but the dots made are "
                + expectedVv);
      }
      if (!n.doc.context().equals(DotSet.of(expectedVv))) {
        throw new AssertionError(
            n.name
                + ": context "
                + n.doc.context()
                + " is not exactly the dots made "
                + expectedVv);
      }
    }
  }

  // ---------------------------------------------------------------- plumbing

  private String report(Throwable e) {
    int faultyEnd = settleStart < 0 ? trace.size() : settleStart;
    StringBuilder sb = new StringBuilder();
    sb.append("Simulation failed at step ")
        .append(Math.min(step, config.steps()))
        .append(" of ")
        .append(config.steps())
        .append(settleStart < 0 ? "" : " (while settling)")
        .append(": ")
        .append(e)
        .append("\n  replay: new Simulation(")
        .append(config)
        .append(", Wire.standard()).run()  (or add it to ConvergenceProperties.KNOWN_SCHEDULES)")
        .append("\n  trace:\n    ")
        .append(trace.get(0));
    int from = Math.max(1, faultyEnd - FAULTY_TAIL);
    if (from > 1) {
      sb.append("\n    ... ").append(from - 1).append(" earlier lines");
    }
    for (int i = from; i < faultyEnd; i++) {
      sb.append("\n    ").append(trace.get(i));
    }
    int settleEnd = Math.min(trace.size(), faultyEnd + SETTLE_HEAD);
    for (int i = faultyEnd; i < settleEnd; i++) {
      sb.append("\n    ").append(trace.get(i));
    }
    if (settleEnd < trace.size()) {
      sb.append("\n    ... ").append(trace.size() - settleEnd).append(" more lines");
    }
    return sb.toString();
  }

  private void log(String format, Object... args) {
    trace.add(String.format("%3d %s", step, String.format(format, args)));
  }

  private void count(String what) {
    count(what, 1);
  }

  private void count(String what, int n) {
    counts.merge(what, n, Integer::sum);
  }

  enum Kind {
    DELTA,
    ACK,
    SYNC_REQUEST,
    SYNC_RESPONSE
  }

  /** A message: dots name the deltas a DELTA carries, for the ACK. */
  record Message(Kind kind, int from, int to, List<Dot> dots, Object payload) {
    @Override
    public String toString() {
      String what =
          switch (kind) {
            case DELTA -> "delta" + dots;
            case ACK -> "ack" + dots;
            case SYNC_REQUEST -> "sync-request";
            case SYNC_RESPONSE -> "sync-response";
          };
      return what + " r" + from + "->r" + to;
    }
  }

  /** One replica. */
  final class Node {
    final int index;
    final String name;
    final ReplicaId id;
    final long skew;
    long wobble;
    final Document doc = Document.create("sim-doc");
    final HybridLogicalClock clock;

    /** Per peer, this replica's deltas the peer has not acknowledged, by dot. */
    final List<Map<Dot, DocumentDelta>> outbox = new ArrayList<>();

    Node(int index, ReplicaId id, long skew) {
      this.index = index;
      this.name = "r" + index;
      this.id = id;
      this.skew = skew;
      this.clock = new HybridLogicalClock(this::physical, Duration.ofMillis(MAX_DRIFT_MS));
      for (int i = 0; i < config.replicas(); i++) {
        outbox.add(new LinkedHashMap<>());
      }
    }

    long physical() {
      return trueTime + skew + wobble;
    }

    int pendingCount() {
      return outbox.stream().mapToInt(Map::size).sum();
    }
  }
}

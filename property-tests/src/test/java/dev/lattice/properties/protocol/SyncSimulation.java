package dev.lattice.properties.protocol;

import dev.lattice.client.ConnectionStatus;
import dev.lattice.client.LatticeClient;
import dev.lattice.client.internal.Backoff;
import dev.lattice.client.internal.Callbacks;
import dev.lattice.client.internal.ClientScheduler;
import dev.lattice.client.internal.ClientSession;
import dev.lattice.client.internal.ClientTransport;
import dev.lattice.client.internal.ClockSync;
import dev.lattice.client.internal.DocumentState;
import dev.lattice.client.internal.MemoryLocalState;
import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.faults.CounterCheck;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.properties.sim.SimTime;
import dev.lattice.protocol.Ack;
import dev.lattice.protocol.CloseCodes;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.protocol.OwnUpdate;
import dev.lattice.protocol.Presence;
import dev.lattice.protocol.ProtocolLimits;
import dev.lattice.protocol.Subscribe;
import dev.lattice.protocol.Sync;
import dev.lattice.protocol.Update;
import dev.lattice.protocol.Welcome;
import dev.lattice.server.hub.DefaultHub;
import dev.lattice.server.hub.HubConfig;
import dev.lattice.server.hub.HubScheduler;
import dev.lattice.server.session.ServerSession;
import dev.lattice.server.session.SessionFactory;
import dev.lattice.server.session.SessionTransport;
import dev.lattice.server.spi.SessionConfig;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;

/**
 * The production protocol logic of both ends in one deterministic world: real {@link
 * ClientSession}s with their {@link DocumentState}s and {@link MemoryLocalState}, talking through
 * really encoded frames to real {@code ServerSession}s over a real {@link DefaultHub} and an
 * in-memory store whose appends become durable when the schedule says so (see {@link
 * DeferredStore}). No threads and no sockets: every executor runs inline, every timer is on one
 * simulated clock ({@link SimTime}), and a connection is two FIFO queues of frames that the
 * schedule delivers one at a time, so a run is a pure function of its {@link Setup} and steps.
 *
 * <p>Faults: connections dropped with frames in flight (the server noticing at once or only at its
 * idle timeout), server restarts (graceful, crash, or a crash the clients notice only by unanswered
 * PINGs) over the same store with a fresh server replica id, client restarts over their kept local
 * state, delivery interleavings across connections, appends held back by the store, and time jumps
 * that fire pings, idle timeouts, backoff and presence expiry; server-side edits ({@code hub.edit})
 * write beside the clients. Since issue 11: a client's state directory backed up and restored (its
 * process killed), client wall clocks that jump, a server machine clock set back that the next
 * server process starts on (its clock seeded from the store as LatticeServer seeds it), the
 * production drift bound of 500 ms with its CLOCK_DRIFT refusals, and, as LatticeClient does, a
 * fresh replica id for every client process. After the faulty schedule, {@link #heal} delivers
 * everything and runs time until the system is quiescent; {@link #problems} then compares every
 * replica with the store and with the ground truth of the edits made.
 *
 * <p>Not thread-safe: one run, one thread.
 */
final class SyncSimulation {

  /**
   * What is fixed for a run besides its steps.
   *
   * @param maxFrameBytes the server's frame limit: small ones split catch-ups and SYNCs into parts
   * @param tightRate whether the server allows only 3 updates a second (burst 2) and closes after 3
   *     refusals in a row, so the client must pace its sends to the advertised rate
   */
  record Setup(
      int clients,
      int documents,
      long seed,
      List<Integer> skewMillis,
      int maxFrameBytes,
      boolean tightRate) {}

  static final long EPOCH_MILLIS = 1_700_000_000_000L;

  /**
   * Server replica ids: a fresh one per start, as LatticeServer takes by default. Not optional: a
   * crash loses merged deltas that were not yet durable, and SYNC may already have shown one to a
   * client; a restarted server with the same id would hand out that dot again for another edit,
   * which the client then drops as held (the simulation finds this within seconds if the id is
   * kept: an acknowledged server edit missing on a client for good).
   */
  private static final long SERVER_IDS = 0x5e5e_0000L;

  private static final MessageCodec CODEC = MessageCodec.defaults();
  private static final Duration MAX_DRIFT = HybridLogicalClock.DEFAULT_MAX_DRIFT;

  /**
   * The server's drift bound, LatticeServer's default: client timestamps further ahead of its clock
   * are refused with CLOCK_DRIFT, and the client holds them until the server's clock passes them.
   */
  private static final Duration SERVER_MAX_DRIFT = Duration.ofMillis(500);

  private static final int MAX_HEAL_STEPS = 20_000;
  private static final long MAX_HEAL_NANOS = Duration.ofMinutes(30).toNanos();

  private final Setup setup;
  private final SimTime time = new SimTime();
  private final DeferredStore store = new DeferredStore();
  private final List<SimClient> clients = new ArrayList<>();
  private final List<Link> links = new ArrayList<>();
  private final List<String> documentIds = new ArrayList<>();
  private final List<String> trace = new ArrayList<>();

  /** What happened in this run, by kind, for coverage statistics. */
  private final Map<String, Integer> counts = new TreeMap<>();

  private static final CrdtKind<ORSet> SET = CrdtKind.of(ORSet.class);

  private Server server;
  private long registerWrites;

  /** Each client's wall-clock offset from the simulation's time; clock jumps move it. */
  private final long[] clientSkew;

  /** The server machine's wall-clock offset, taken by each server process at its start. */
  private long serverSkewMillis;

  /** Per client, the source of its fresh replica ids: it outlives processes and backups. */
  private final List<java.util.function.Supplier<ReplicaId>> idSources = new ArrayList<>();

  /** Per client, its last backup. */
  private final Map<Integer, SimLocalState> backups = new TreeMap<>();

  /**
   * Every edit made, with what its flush says: the history the counter and register checkers read
   * when the exact ground truth no longer applies (a restored backup forgets edits; a refusal for
   * good undoes one).
   */
  private final List<Attempt> attempts = new ArrayList<>();

  private int restores;
  private int refusedForGood;

  /**
   * One edit: a counter's amount, or a register's write. {@code ack} is the edit's flush, which
   * completes normally once the server acknowledged it (and every earlier edit of its document).
   */
  private record Attempt(String key, long amount, Write write, CompletableFuture<Void> ack) {
    boolean acknowledged() {
      return ack.isDone() && !ack.isCompletedExceptionally();
    }
  }

  private List<CompletableFuture<Void>> flushes = List.of();

  // Ground truth: what every replica must hold in the end.
  private final Map<String, Long> expectedCounters = new TreeMap<>(); // "doc.field" -> sum
  private final Map<String, Write> expectedRegisters = new TreeMap<>(); // "doc.field" -> winner
  private final Map<String, Optional<Value>> expectedPresence = new TreeMap<>(); // "doc/client"
  // The OR-Set oracle: every add is a tag (its dot); a remove, or a re-add, retracts the tags of
  // the
  // element its replica held when it was made. An element must be present iff one of its tags was
  // never retracted: add-wins for adds a remove had not seen, no resurrection of those it had.
  private final Map<String, Map<Value, Set<Dot>>> addTags = new TreeMap<>(); // "doc.field"
  private final Map<String, Set<Dot>> retractedTags = new TreeMap<>(); // "doc.field"
  // A server edit lost in a crash before it was durable may come back (a client got it in a SYNC
  // and sends it back in its catch-up) or not: only the range is known.
  private final Map<String, Long> serverAcknowledged = new TreeMap<>(); // doc -> sum
  private final Map<String, Long> serverAttempted = new TreeMap<>(); // doc -> sum

  private record Write(HlcTimestamp timestamp, ReplicaId writer, Value value) {
    boolean beats(Write other) {
      int c = timestamp.compareTo(other.timestamp);
      return c > 0 || (c == 0 && writer.compareTo(other.writer) > 0);
    }
  }

  SyncSimulation(Setup setup) {
    this.setup = setup;
    for (int d = 0; d < setup.documents(); d++) {
      documentIds.add("d" + d);
    }
    clientSkew = new long[setup.clients()];
    server = new Server(0);
    for (int i = 0; i < setup.clients(); i++) {
      clientSkew[i] = setup.skewMillis().get(i);
      long base = (i + 1) * 1_000_000L;
      long[] next = {0};
      idSources.add(() -> ReplicaId.of(base + next[0]++));
      clients.add(new SimClient(i, new SimLocalState(idSources.get(i)), 0));
    }
    for (SimClient c : clients) {
      c.open(documentIds.get(0));
      c.session.start();
    }
  }

  // ------------------------------------------------------------------ steps

  void run(List<SimStep> steps) {
    for (SimStep step : steps) {
      log("step: " + step);
      apply(step);
    }
  }

  private void apply(SimStep step) {
    if (step instanceof SimStep.Edit e) {
      edit(client(e.client()), documentIds.get(e.document() % documentIds.size()), e);
    } else if (step instanceof SimStep.SetPresence p) {
      SimClient c = client(p.client());
      String doc = documentIds.get(p.document() % documentIds.size());
      Optional<Value> value =
          p.value() == 0
              ? Optional.empty()
              : Optional.of(Value.of("c" + c.index + "/" + p.value()));
      c.open(doc).setMyPresence(value);
      expectedPresence.put(doc + "/" + c.index, value);
      c.session.presenceChanged(doc);
    } else if (step instanceof SimStep.Deliver d) {
      List<Runnable> ready = deliverable();
      if (!ready.isEmpty()) {
        ready.get(Math.floorMod(d.pick(), ready.size())).run();
      }
    } else if (step instanceof SimStep.Commit) {
      store.commitOne();
    } else if (step instanceof SimStep.Drop d) {
      drop(client(d.client()), d.serverNotices());
    } else if (step instanceof SimStep.Restart r) {
      restart(r.kind());
    } else if (step instanceof SimStep.RestartClient r) {
      int index = Math.floorMod(r.client(), clients.size());
      restartClient(index, r.serverNotices(), clients.get(index).local);
    } else if (step instanceof SimStep.ServerEdit e) {
      serverEdit(documentIds.get(e.document() % documentIds.size()), Math.floorMod(e.amount(), 6));
    } else if (step instanceof SimStep.Advance a) {
      time.advance(a.millis() * 1_000_000L);
    } else if (step instanceof SimStep.Backup b) {
      int index = Math.floorMod(b.client(), clients.size());
      backups.put(index, clients.get(index).local.copy());
      count("backup");
    } else if (step instanceof SimStep.Restore r) {
      int index = Math.floorMod(r.client(), clients.size());
      SimLocalState backup = backups.get(index);
      restores++;
      count("restored backup");
      restartClient(
          index, true, backup == null ? new SimLocalState(idSources.get(index)) : backup.copy());
    } else if (step instanceof SimStep.ClockJump j) {
      clientSkew[Math.floorMod(j.client(), clients.size())] += j.millis();
      count("clock jump");
    } else if (step instanceof SimStep.ServerClockJump j) {
      serverSkewMillis += j.millis();
      count("server clock jump");
    } else {
      throw new AssertionError(step);
    }
  }

  private SimClient client(int index) {
    return clients.get(Math.floorMod(index, clients.size()));
  }

  private void edit(SimClient c, String doc, SimStep.Edit e) {
    String field = SimStep.FIELDS[Math.floorMod(e.field(), SimStep.FIELDS.length)];
    DocumentState state = c.open(doc);
    String key = doc + "." + field;
    ReplicaId me = state.me();
    switch (typeOf(field)) {
      case G_COUNTER -> {
        long amount = Math.floorMod(e.amount(), 6);
        state.edit(field, d -> d.incrementGCounter(me, field, amount));
        expectedCounters.merge(key, amount, Long::sum);
        attempts.add(new Attempt(key, amount, null, state.flush()));
      }
      case PN_COUNTER -> {
        long amount = e.amount() % 6;
        state.edit(field, d -> d.addPNCounter(me, field, amount));
        expectedCounters.merge(key, amount, Long::sum);
        attempts.add(new Attempt(key, amount, null, state.flush()));
      }
      case LWW_REGISTER -> {
        // Unique across clients and their restarts, so a wrong winner cannot pass for the right
        // one.
        Value value = Value.of(c.index * 1_000_000L + ++registerWrites);
        HlcTimestamp[] stamp = new HlcTimestamp[1];
        state.edit(
            field,
            d -> {
              // As RegisterField stamps it: after the field's current write.
              stamp[0] = d.registerTimestamp(field).map(c.clock::nowAfter).orElseGet(c.clock::now);
              return d.setRegister(me, field, value, stamp[0]);
            });
        Write write = new Write(stamp[0], me, value);
        expectedRegisters.merge(key, write, (old, now) -> now.beats(old) ? now : old);
        attempts.add(new Attempt(key, 0, write, state.flush()));
      }
      case OR_SET, OR_MAP -> {
        Value element = Value.of((long) Math.abs(e.amount()) % 3);
        List<String> keys = typeOf(field) == CrdtType.OR_MAP ? List.of("tags") : List.of();
        // What the replica holds of the element: a remove retracts it, and so does a re-add,
        // whose one new tag replaces the element's tags its writer had seen.
        List<Dot> seen =
            state
                .stateAt(field, keys, SET)
                .map(set -> set.entries().getOrDefault(element, List.of()))
                .orElse(List.of());
        retractedTags.computeIfAbsent(key, k -> new HashSet<>()).addAll(seen);
        if (e.amount() >= 0) {
          DocumentDelta[] delta = new DocumentDelta[1];
          state.edit(
              field,
              d ->
                  delta[0] =
                      d.mutateAt(c.id, field, keys, SET, (set, dot) -> set.add(dot, element)));
          Dot tag = delta[0].context().singleDot().orElseThrow();
          addTags
              .computeIfAbsent(key, k -> new TreeMap<>())
              .computeIfAbsent(element, k -> new HashSet<>())
              .add(tag);
          count("set add");
        } else {
          state.edit(
              field,
              d -> d.mutateAt(c.id, field, keys, SET, (set, dot) -> set.remove(dot, element)));
          count("set remove");
        }
      }
      default -> throw new AssertionError(field);
    }
    count("edit");
    c.session.kick();
  }

  static CrdtType typeOf(String field) {
    return switch (field.charAt(0)) {
      case 'g' -> CrdtType.G_COUNTER;
      case 'p' -> CrdtType.PN_COUNTER;
      case 'o' -> CrdtType.OR_SET;
      case 'm' -> CrdtType.OR_MAP;
      default -> CrdtType.LWW_REGISTER;
    };
  }

  /** What can happen next on the network: each entry opens a connection or delivers one frame. */
  private List<Runnable> deliverable() {
    List<Runnable> ready = new ArrayList<>();
    for (Link link : links) {
      if (link.state == LinkState.CONNECTING) {
        ready.add(link::open);
      } else if (link.state == LinkState.OPEN) {
        if (!link.toServer.isEmpty()) {
          ready.add(link::deliverToServer);
        }
        if (!link.toClient.isEmpty()) {
          ready.add(link::deliverToClient);
        }
      }
    }
    return ready;
  }

  private void drop(SimClient c, boolean serverNotices) {
    Link link = c.link;
    if (link == null || link.state == LinkState.CLOSED) {
      return;
    }
    if (link.state == LinkState.CONNECTING) {
      link.state = LinkState.CLOSED;
      log(link + " refused");
      count("connect refused");
      c.session.onClosed(link.generation, ClientSession.ABNORMAL, "connection refused");
      return;
    }
    int lost = link.toServer.size() + link.toClient.size();
    if (lost > 0) {
      count("frames lost in flight", lost);
    }
    link.sever();
    log(link + " dropped, " + lost + " frames lost");
    if (link.clientOpen) {
      link.clientOpen = false;
      c.session.onClosed(link.generation, ClientSession.ABNORMAL, "connection dropped");
    }
    if (link.serverOpen) {
      if (serverNotices) {
        link.serverOpen = false;
        link.session.onClosed();
      } else {
        count("half-open server session");
      }
    }
  }

  private void restart(SimStep.RestartKind kind) {
    Server old = server;
    if (kind == SimStep.RestartKind.GRACEFUL) {
      store.commitAll();
    } else {
      int lost = store.crash();
      if (lost > 0) {
        count("unacknowledged appends lost in a crash", lost);
      }
    }
    time.cancelOwnedBy(old);
    for (Link link : links) {
      if (link.server != old || !link.serverOpen) {
        continue;
      }
      // Half-open sessions die with their process too.
      link.serverOpen = false;
      link.toServer.clear();
      if (link.severed) {
        continue;
      }
      if (kind == SimStep.RestartKind.GRACEFUL) {
        // Frames already queued still arrive, then the close; nothing from the client gets in.
        link.toClient.add(Frame.close(CloseCodes.GOING_AWAY, "server shutting down"));
      } else {
        link.sever();
        if (kind == SimStep.RestartKind.CRASH && link.clientOpen) {
          link.clientOpen = false;
          clients
              .get(link.client)
              .session
              .onClosed(link.generation, ClientSession.ABNORMAL, "connection reset");
        }
      }
    }
    old.hub.close();
    server = new Server(old.epoch + 1);
    log("server restarted (" + kind + ") as epoch " + server.epoch);
    count("restart " + kind);
  }

  private void restartClient(int index, boolean serverNotices, SimLocalState local) {
    SimClient old = clients.get(index);
    time.cancelOwnedBy(old);
    Link link = old.link;
    if (link != null && link.state == LinkState.CONNECTING) {
      link.state = LinkState.CLOSED;
    } else if (link != null && link.state == LinkState.OPEN) {
      int lost = link.toServer.size() + link.toClient.size();
      if (lost > 0) {
        count("frames lost in flight", lost);
      }
      link.sever();
      if (link.serverOpen) {
        if (serverNotices) {
          link.serverOpen = false;
          link.session.onClosed();
        } else {
          count("half-open server session");
        }
      }
    }
    if (link != null) {
      link.clientOpen = false; // the process that used it is gone
    }
    SimClient fresh = new SimClient(index, local, old.restarts + 1);
    clients.set(index, fresh);
    for (String doc : old.docs.keySet()) {
      fresh.open(doc);
      expectedPresence.remove(doc + "/" + index);
    }
    fresh.session.start();
    log("c" + index + " restarted");
    count("client restart");
  }

  private void serverEdit(String doc, long amount) {
    serverAttempted.merge(doc, amount, Long::sum);
    server
        .hub
        .edit(doc, e -> e.increment(SimStep.SERVER_FIELD, amount))
        .whenComplete(
            (delta, failure) -> {
              if (failure == null) {
                serverAcknowledged.merge(doc, amount, Long::sum);
              } else {
                log("server edit of " + doc + " failed: " + failure);
              }
            });
    count("server edit");
  }

  // ------------------------------------------------------------------ healing

  /**
   * No more faults: commits every append, delivers every frame and runs time until the system is
   * quiescent (every client online with nothing pending, no half-open connection, every replica
   * equal to the store, every presence seen), or a bound on steps and simulated time is hit.
   *
   * @return whether it became quiescent
   */
  boolean heal() {
    log("heal");
    flushes = new ArrayList<>();
    for (SimClient c : clients) {
      for (String doc : documentIds) {
        c.open(doc);
      }
      for (DocumentState state : c.docs.values()) {
        flushes.add(state.flush());
      }
      c.session.kick();
    }
    long deadline = time.nanoTime() + MAX_HEAL_NANOS;
    for (int i = 0; i < MAX_HEAL_STEPS && time.nanoTime() < deadline; i++) {
      store.commitAll();
      List<Runnable> ready = deliverable();
      if (!ready.isEmpty()) {
        // Round robin, so no connection starves the others.
        ready.get(i % ready.size()).run();
        continue;
      }
      if (problems(false).isEmpty()) {
        return true;
      }
      if (!time.runNext()) {
        return false;
      }
    }
    return false;
  }

  /**
   * Everything wrong with the current state, as readable lines; empty when the system has converged
   * to the ground truth.
   *
   * @param all whether to list every problem (for the failure report) or stop at the first
   */
  List<String> problems(boolean all) {
    List<String> out = new ArrayList<>();
    for (SimClient c : clients) {
      if (c.status == null || c.status.state() != ConnectionStatus.State.ONLINE) {
        out.add("c" + c.index + " is " + c.status);
        if (!all) {
          return out;
        }
      }
      for (DocumentState state : c.docs.values()) {
        if (state.pendingChanges() != 0) {
          out.add("c" + c.index + " has " + state.pendingChanges() + " pending in " + state.id);
          if (!all) {
            return out;
          }
        }
      }
    }
    for (Link link : links) {
      boolean working =
          link.state == LinkState.OPEN && link.clientOpen && link.serverOpen && !link.severed;
      if ((link.clientOpen || link.serverOpen) && !working) {
        out.add(link + " is half-open (client end open: " + link.clientOpen + ")");
        if (!all) {
          return out;
        }
      }
    }
    Integer failures = counts.get("server closes " + CloseCodes.name(CloseCodes.INTERNAL_ERROR));
    if (failures != null) {
      // The client recovers by reconnecting, but the server failed (or could not encode a frame).
      out.add("the server closed " + failures + " connections with 1011");
    }
    if (store.pendingAppends() > 0) {
      out.add(store.pendingAppends() + " appends not durable");
    }
    for (String doc : documentIds) {
      Document stored = store.load(doc).orElseGet(() -> Document.create(doc));
      checkAgainstTruth("the store", doc, stored, out);
      for (SimClient c : clients) {
        DocumentState state = c.docs.get(doc);
        Document replica = state == null ? null : state.snapshot();
        if (replica == null || !replica.equals(stored)) {
          out.add(
              "c"
                  + c.index
                  + "'s "
                  + doc
                  + " differs from the store: "
                  + replica
                  + " vs "
                  + stored);
          if (replica != null) {
            checkAgainstTruth("c" + c.index, doc, replica, out);
          }
        }
        if (state != null) {
          Map<ReplicaId, Value> expected = new HashMap<>();
          for (SimClient other : clients) {
            if (other != c) {
              expectedPresence
                  .getOrDefault(doc + "/" + other.index, Optional.empty())
                  .ifPresent(v -> expected.put(other.local.replicaId(), v));
            }
          }
          if (!state.others().equals(expected)) {
            out.add(
                "c"
                    + c.index
                    + " sees presence "
                    + state.others()
                    + " on "
                    + doc
                    + ", expected "
                    + expected);
          }
        }
      }
      if (!all && !out.isEmpty()) {
        return out;
      }
    }
    for (int i = 0; i < flushes.size(); i++) {
      CompletableFuture<Void> f = flushes.get(i);
      // A flush may fail only after a refusal for good, which the client reports (a server whose
      // clock is set back by more than a client may wait out refuses that client's timestamps).
      if (!f.isDone() || (f.isCompletedExceptionally() && refusedForGood == 0)) {
        out.add("flush " + i + " is " + f);
      }
    }
    return out;
  }

  private void checkAgainstTruth(String who, String doc, Document replica, List<String> out) {
    long acknowledged = serverAcknowledged.getOrDefault(doc, 0L);
    long attempted = serverAttempted.getOrDefault(doc, 0L);
    long server = replica.counterValue(SimStep.SERVER_FIELD);
    if (server < acknowledged || server > attempted) {
      out.add(
          who
              + ": "
              + doc
              + "."
              + SimStep.SERVER_FIELD
              + " = "
              + server
              + ", outside [acknowledged "
              + acknowledged
              + ", attempted "
              + attempted
              + "]");
    }
    if (restores > 0 || refusedForGood > 0) {
      checkAgainstHistory(who, doc, replica, out);
      return;
    }
    for (String field : SimStep.FIELDS) {
      String key = doc + "." + field;
      if (typeOf(field) == CrdtType.OR_SET || typeOf(field) == CrdtType.OR_MAP) {
        Set<Value> expected = new TreeSet<>();
        Set<Dot> retracted = retractedTags.getOrDefault(key, Set.of());
        addTags
            .getOrDefault(key, Map.of())
            .forEach(
                (element, tags) -> {
                  if (!retracted.containsAll(tags)) {
                    expected.add(element);
                  }
                });
        Set<Value> actual = setElements(replica, field);
        if (!actual.equals(expected)) {
          out.add(
              who
                  + ": "
                  + key
                  + " = "
                  + actual
                  + ", the adds not removed by what their removers saw are "
                  + expected);
        }
      } else if (typeOf(field) == CrdtType.LWW_REGISTER) {
        Optional<Value> expected =
            Optional.ofNullable(expectedRegisters.get(key)).map(Write::value);
        Optional<Value> actual = replica.registerValue(field);
        if (!actual.equals(expected)) {
          out.add(
              who
                  + ": "
                  + key
                  + " = "
                  + actual
                  + ", the latest write was "
                  + expectedRegisters.get(key));
        }
      } else {
        long expected = expectedCounters.getOrDefault(key, 0L);
        long actual = replica.counterValue(field);
        if (actual != expected) {
          out.add(who + ": " + key + " = " + actual + ", the edits add up to " + expected);
        }
      }
    }
  }

  /** The elements of a set field, or of the set under the map field's "tags" key. */
  private Set<Value> setElements(Document replica, String field) {
    List<String> keys = typeOf(field) == CrdtType.OR_MAP ? List.of("tags") : List.of();
    return replica.stateAt(field, keys, SET).map(ORSet::elements).orElse(new TreeSet<>());
  }

  /**
   * The checkers of a history in which edits may be lost by right (a restored backup forgets the
   * edits made after it that the server had not acknowledged; a refusal for good undoes one): a
   * counter lies between the sum of the acknowledged edits plus every unacknowledged decrement and
   * that sum plus every unacknowledged increment (Jepsen's counter checker); a register holds a
   * value somebody wrote, at least as great in (timestamp, replica) as every acknowledged write.
   */
  private void checkAgainstHistory(String who, String doc, Document replica, List<String> out) {
    for (String field : SimStep.FIELDS) {
      String key = doc + "." + field;
      if (typeOf(field) == CrdtType.OR_SET || typeOf(field) == CrdtType.OR_MAP) {
        // A lost add or remove is allowed here, so only this holds: no element from nowhere.
        Set<Value> added = addTags.getOrDefault(key, Map.of()).keySet();
        Set<Value> actual = setElements(replica, field);
        if (!added.containsAll(actual)) {
          out.add(who + ": " + key + " = " + actual + ", holds elements nobody added: " + added);
        }
      } else if (typeOf(field) == CrdtType.LWW_REGISTER) {
        Optional<Value> actual = replica.registerValue(field);
        Write written = null;
        Write greatestAcked = null;
        for (Attempt a : attempts) {
          if (!a.key().equals(key)) {
            continue;
          }
          if (actual.isPresent() && a.write().value().equals(actual.get())) {
            written = a.write();
          }
          if (a.acknowledged() && (greatestAcked == null || a.write().beats(greatestAcked))) {
            greatestAcked = a.write();
          }
        }
        if (actual.isPresent() && written == null) {
          out.add(who + ": " + key + " = " + actual.get() + ", a value nobody wrote");
        } else if (greatestAcked != null
            && (written == null
                || (!written.value().equals(greatestAcked.value())
                    && greatestAcked.beats(written)))) {
          out.add(
              who
                  + ": "
                  + key
                  + " = "
                  + actual
                  + ", below the acknowledged write "
                  + greatestAcked);
        }
      } else {
        CounterCheck check = new CounterCheck();
        for (Attempt a : attempts) {
          if (a.key().equals(key)) {
            check.attempt(a.amount(), a.acknowledged());
          }
        }
        String violation = check.violation(replica.counterValue(field));
        if (violation != null) {
          out.add(who + ": " + key + " = " + violation);
        }
      }
    }
  }

  /** What happened in this run, by kind (frames lost, resends, restarts, closes by code). */
  Map<String, Integer> counts() {
    return counts;
  }

  /** The setup and the last lines of the trace, for a failure report. */
  String report(int lines) {
    StringBuilder sb = new StringBuilder();
    sb.append(setup).append('\n');
    sb.append("... trace (last ")
        .append(Math.min(lines, trace.size()))
        .append(" of ")
        .append(trace.size())
        .append("):\n");
    for (String line : trace.subList(Math.max(0, trace.size() - lines), trace.size())) {
      sb.append("  ").append(line).append('\n');
    }
    return sb.toString();
  }

  private void log(String line) {
    trace.add(String.format("%9.3fs %s", time.elapsedMillis() / 1000.0, line));
  }

  private void count(String what) {
    count(what, 1);
  }

  private void count(String what, int n) {
    counts.merge(what, n, Integer::sum);
  }

  /** The last frame of a delta sent in parts: the whole context, no fields (see DeltaChunks). */
  private static boolean claimsContextOnly(DocumentDelta delta) {
    return delta.fields().isEmpty() && !delta.context().isEmpty();
  }

  static String describe(Message m) {
    if (m instanceof Update u) {
      return "UPDATE"
          + (u.requestId().isPresent() ? "#" + u.requestId().getAsLong() : " (fan-out)")
          + " "
          + u.documentId()
          + " "
          + u.delta().context();
    } else if (m instanceof Ack a) {
      return "ACK#" + a.requestId() + " " + a.documentId();
    } else if (m instanceof Subscribe s) {
      return "SUBSCRIBE#" + s.requestId() + " " + s.documentId() + " " + s.vector();
    } else if (m instanceof Sync s) {
      return "SYNC#"
          + s.requestId()
          + " "
          + s.documentId()
          + " "
          + s.delta().context()
          + " "
          + s.vector();
    } else if (m instanceof ErrorMessage e) {
      return "ERROR " + e.requestId() + " " + e.code() + " " + e.message();
    } else if (m instanceof Presence p) {
      return "PRESENCE " + p.documentId() + " " + p.replicaId() + " " + p.value();
    }
    return m.messageType().toString();
  }

  // ------------------------------------------------------------------ the server

  /** One server process: a hub and a session factory on its own clock, over the shared store. */
  private final class Server {
    final int epoch;
    final DefaultHub hub;
    final SessionFactory sessions;

    Server(int epoch) {
      this.epoch = epoch;
      ReplicaId id = ReplicaId.of(SERVER_IDS + epoch);
      HybridLogicalClock clock = seededClock();
      Server owner = this;
      hub =
          new DefaultHub(
              HubConfig.builder(store, id)
                  .executor(Runnable::run)
                  .scheduler(
                      new HubScheduler() {
                        @Override
                        public Cancellable schedule(Runnable task, Duration delay) {
                          return time.schedule(owner, delay.toNanos(), task)::cancel;
                        }

                        @Override
                        public long nanoTime() {
                          return time.nanoTime();
                        }
                      })
                  .clock(clock)
                  .build());
      SessionConfig.Builder config =
          SessionConfig.builder()
              .protocolLimits(
                  ProtocolLimits.builder().maxFrameBytes(setup.maxFrameBytes()).build());
      if (setup.tightRate()) {
        config.updatesPerSecond(3).updateBurst(2).rateLimitCloseThreshold(3);
      }
      sessions =
          SessionFactory.builder()
              .hub(hub)
              .clock(clock)
              .serverId(id)
              .config(config.build())
              .advertise(Welcome.LIMIT_MAX_CLOCK_DRIFT_MILLIS, SERVER_MAX_DRIFT.toMillis())
              .nanoTime(time::nanoTime)
              .scheduler((task, delayNanos) -> time.schedule(owner, delayNanos, task)::cancel)
              .build();
    }
  }

  /**
   * The server's clock, seeded by the server's own code ({@link
   * dev.lattice.server.LatticeServer#clockAbove}, issue 11 bug 2) on this server's skewed wall
   * clock; a start behind the store is counted for the coverage guard.
   */
  private HybridLogicalClock seededClock() {
    // Read at every tick: the running server sees its machine's clock jump, as a real one does.
    java.util.function.LongSupplier wall =
        () -> EPOCH_MILLIS + serverSkewMillis + time.elapsedMillis();
    Optional<HlcTimestamp> max = store.maxTimestamp();
    if (max.map(t -> t.physicalMillis() - wall.getAsLong()).orElse(0L)
        > SERVER_MAX_DRIFT.toMillis()) {
      count("server started behind its store");
    }
    return dev.lattice.server.LatticeServer.clockAbove(
        store, wall, time::nanoTime, SERVER_MAX_DRIFT);
  }

  // ------------------------------------------------------------------ the network

  private enum LinkState {
    CONNECTING,
    OPEN,
    CLOSED
  }

  /** A frame, or (with null bytes) a close frame. */
  private record Frame(byte[] bytes, int code, String reason) {
    static Frame data(byte[] bytes) {
      return new Frame(bytes, 0, null);
    }

    static Frame close(int code, String reason) {
      return new Frame(null, code, reason);
    }

    boolean isClose() {
      return bytes == null;
    }
  }

  /**
   * One WebSocket connection: ordered and reliable while it lives, two FIFO queues. {@code
   * clientOpen} and {@code serverOpen} say whether each end still uses it; a severed link delivers
   * nothing and swallows what is sent on it.
   */
  private final class Link implements SessionTransport {
    final int id = links.size();
    final int client;
    final long generation;
    final ArrayDeque<Frame> toServer = new ArrayDeque<>();
    final ArrayDeque<Frame> toClient = new ArrayDeque<>();
    LinkState state = LinkState.CONNECTING;
    boolean clientOpen;
    boolean serverOpen;
    boolean severed;
    Server server;
    ServerSession session;

    /** The replica the client's HELLO named on this connection. */
    ReplicaId replica;

    Link(int client, long generation) {
      this.client = client;
      this.generation = generation;
    }

    void open() {
      state = LinkState.OPEN;
      server = SyncSimulation.this.server;
      clientOpen = true;
      serverOpen = true;
      session = server.sessions.open(this);
      log(this + " open");
      clients.get(client).session.onOpen(generation);
    }

    void sever() {
      severed = true;
      state = LinkState.CLOSED;
      toServer.clear();
      toClient.clear();
    }

    void deliverToServer() {
      Frame frame = toServer.poll();
      if (!serverOpen) {
        return;
      }
      if (frame.isClose()) {
        log(this + " server got close " + frame.code());
        serverOpen = false;
        session.onClosed();
        maybeClosed();
      } else {
        session.onFrame(frame.bytes());
      }
    }

    void deliverToClient() {
      Frame frame = toClient.poll();
      if (!clientOpen) {
        return;
      }
      SimClient c = clients.get(client);
      if (frame.isClose()) {
        log(this + " client got close " + frame.code() + " " + frame.reason());
        count("server closed " + CloseCodes.name(frame.code()));
        clientOpen = false;
        maybeClosed();
        c.session.onClosed(generation, frame.code(), frame.reason());
      } else {
        Message message = CODEC.decode(frame.bytes());
        log(
            this
                + " -> c"
                + client
                + ": "
                + describe(message)
                + " ("
                + frame.bytes().length
                + " B)");
        if (message instanceof Sync sync && claimsContextOnly(sync.delta())) {
          count("SYNC in parts");
        }
        if (message instanceof ErrorMessage error
            && error.errorCode().equals(Optional.of(ErrorCode.RATE_LIMITED))) {
          // Not a problem: the client paces to its own copy of the server's bucket (one token
          // short, to absorb transit-time bunching), which can still run ahead of the server's,
          // and it retries a refusal after a backoff.
          count("refused over the rate");
        }
        if (message instanceof ErrorMessage error
            && error.errorCode().equals(Optional.of(ErrorCode.CLOCK_DRIFT))) {
          count("CLOCK_DRIFT refusal");
        }
        c.session.onMessage(generation, message);
      }
    }

    private void maybeClosed() {
      if (!clientOpen && !serverOpen && toServer.isEmpty() && toClient.isEmpty()) {
        state = LinkState.CLOSED;
      }
    }

    /** From the client. */
    void clientSends(Message message) {
      if (state == LinkState.OPEN && clientOpen && !severed) {
        log("c" + client + " -> " + this + ": " + describe(message));
        if (message instanceof dev.lattice.protocol.Hello hello) {
          replica = hello.replicaId();
          if (!replica.equals(clients.get(client).local.replicaId())) {
            count("connection bound to an earlier id");
          }
        }
        if (message instanceof Update u && claimsContextOnly(u.delta())) {
          count("catch-up in parts");
        }
        if (message instanceof Update u) {
          // Dots sent before on any connection: an outbox entry or catch-up going out again.
          if (!clients.get(client).sent.add(u.delta().context())) {
            count("update resent");
          }
        }
        if (message instanceof OwnUpdate own) {
          count("UPDATE_OWN sent (protocol version 2)");
          if (!clients.get(client).sent.add(own.delta(replica).context())) {
            count("update resent");
          }
        }
        toServer.add(Frame.data(CODEC.encode(message)));
      }
    }

    void clientCloses(int code, String reason) {
      log("c" + client + " closes " + this + " with " + code + " " + reason);
      if (state == LinkState.CONNECTING) {
        state = LinkState.CLOSED;
        return;
      }
      if (code == CloseCodes.GOING_AWAY) {
        count("client gave up on a silent connection");
      }
      clientOpen = false;
      toClient.clear();
      if (!severed && serverOpen) {
        toServer.add(Frame.close(code, reason));
      }
      maybeClosed();
    }

    // SessionTransport: the server's end.

    @Override
    public void sendFrame(byte[] frame) {
      if (serverOpen && !severed) {
        toClient.add(Frame.data(frame));
      }
    }

    @Override
    public void close(int code, String reason) {
      log(this + " server closes with " + code + " " + reason);
      count("server closes " + CloseCodes.name(code));
      if (serverOpen) {
        serverOpen = false;
        toServer.clear();
        if (!severed) {
          toClient.add(Frame.close(code, reason));
        }
        session.onClosed();
      }
      maybeClosed();
    }

    @Override
    public String toString() {
      return "link"
          + id
          + "(c"
          + client
          + "#"
          + generation
          + (session == null
              ? ""
              : " " + session.id() + "@" + (server == null ? "?" : server.epoch))
          + ")";
    }
  }

  // ------------------------------------------------------------------ clients

  /** Client {@code index}'s wall clock: its current skew off the simulation's time. */
  private final class SkewedClock extends Clock {
    private final int index;

    SkewedClock(int index) {
      this.index = index;
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(EPOCH_MILLIS + clientSkew[index] + time.elapsedMillis());
    }
  }

  /** One SDK instance wired as {@link LatticeClient} wires it, minus threads and sockets. */
  private final class SimClient implements ClientTransport, ClientScheduler {
    final int index;
    final ReplicaId id;
    final SimLocalState local;
    final ClockSync clockSync;
    final HybridLogicalClock clock;
    final Callbacks callbacks = new Callbacks(Runnable::run);
    final ClientSession session;
    final Map<String, DocumentState> docs = new TreeMap<>();
    ConnectionStatus status;
    Link link;
    final Set<DotSet> sent = new HashSet<>();

    final int restarts;

    /**
     * Client {@code index} in its {@code restarts}-th process over {@code local}, which outlives
     * processes as a state directory would.
     */
    SimClient(int index, SimLocalState local, int restarts) {
      this.index = index;
      this.local = local;
      this.restarts = restarts;
      // As LatticeClient: every process edits under a fresh id (issue 11).
      local.retireReplicaId();
      this.id = local.replicaId();
      long seed = setup.seed() + index + 1_000L * restarts;
      // As LatticeClient: start from the saved clock offset, save new estimates.
      this.clockSync =
          new ClockSync(
              new SkewedClock(index),
              local.clockOffsetMillis().orElse(0),
              local::saveClockOffsetMillis);
      this.clock = new HybridLogicalClock(clockSync::correctedMillis, MAX_DRIFT);
      this.session =
          new ClientSession(
              new ClientSession.Config(
                  () -> null,
                  "sim",
                  new Backoff(Duration.ofMillis(250), Duration.ofSeconds(30), new Random(seed)),
                  8,
                  256,
                  15_000,
                  30_000,
                  // Each client process offers version 1 or up to 2, by its seed: the server
                  // serves both at once, and a restarted client may come back with the other.
                  1 + (int) Math.floorMod(seed, 2L)),
              id,
              local::retireReplicaId,
              this,
              this,
              time::nanoTime,
              clockSync,
              clock,
              s -> {
                log("c" + index + " " + s);
                status = s;
              });
    }

    DocumentState open(String doc) {
      DocumentState state = docs.get(doc);
      if (state == null) {
        state = new DocumentState(doc, local.replicaId(), local, clock, callbacks);
        state.rejectedListeners.add(
            failure -> {
              refusedForGood++;
              count("refused for good");
              log("c" + index + " refused for good: " + failure.getMessage());
            });
        docs.put(doc, state);
        session.open(state);
      }
      return state;
    }

    @Override
    public void connect(long generation) {
      link = new Link(index, generation);
      links.add(link);
      log("c" + index + " connects: " + link);
      count("connect");
    }

    @Override
    public void send(long generation, Message message) {
      if (link != null && link.generation == generation) {
        link.clientSends(message);
      }
    }

    @Override
    public void close(long generation, int code, String reason) {
      if (link != null && link.generation == generation) {
        link.clientCloses(code, reason);
      }
    }

    @Override
    public Cancellable schedule(Runnable task, long delayMillis) {
      return time.schedule(this, delayMillis * 1_000_000L, task)::cancel;
    }
  }
}

package dev.lattice.properties.multi;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.properties.sim.SimTime;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.Update;
import dev.lattice.server.hub.Connection;
import dev.lattice.server.hub.DefaultHub;
import dev.lattice.server.hub.DocumentCache;
import dev.lattice.server.hub.Hub;
import dev.lattice.server.hub.HubConfig;
import dev.lattice.server.hub.HubException;
import dev.lattice.server.hub.HubScheduler;
import dev.lattice.server.spi.StoredDocument;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

/**
 * Several servers, each a real {@link DefaultHub} with the real replication logic, sharing one
 * Redis ({@link RedisModel}, reached through a {@link StoreClient} pipeline per server) and joined
 * by a {@link LossyBus}, with clients that edit counters and registers, move between servers and
 * resend what was not acknowledged, as the SDK does. Everything runs on one thread in virtual time:
 * each server's executor is a queue the schedule runs one task of at a time, each server's timers
 * are on the one {@link SimTime}, and every choice comes from one {@code Random(seed)}, so a {@link
 * Setup} replays exactly.
 *
 * <p>Faults: announcements dropped, duplicated, delayed and reordered; subscriptions that fail or
 * answer late; the replicator's connection dropping (what was in flight is lost, every followed
 * document reported as possibly missed); appends that fail before Redis runs them or run and lose
 * their reply; failed reads; compaction at any time; a server crashing (its commands already on the
 * wire still run, nothing else of it does; it restarts as a new process with a new replica id);
 * and, in runs with {@link Setup#flushes}, Redis restarting empty (at most once in 3 s).
 *
 * <p>After the faulty schedule the faults stop and the world heals: every command runs, every
 * announcement is delivered, clients resubscribe and resend, time runs through several head checks.
 * Then: nothing is pending anywhere and every future a live hub handed out is complete; the store
 * holds every acknowledged delta and nothing of the clients' that was not acknowledged, and the
 * server's counter is between the sum of its acknowledged and of its attempted edits; every
 * document live on a hub equals the store's; every client equals the store; and, where Redis lost
 * nothing, no hub ever wrote a document back.
 *
 * <p>Not thread-safe: one run, one thread.
 */
final class MultiServerSimulation {

  /**
   * What is fixed for a run.
   *
   * @param flushes whether Redis may restart empty; such runs keep every document live on every
   *     server (a watcher subscribes to each) and crash no server, since what no server holds and
   *     no client sends back is lost with Redis by design
   * @param caches whether each server keeps idle documents in a cache
   */
  record Setup(
      long seed,
      int servers,
      int clients,
      int documents,
      int steps,
      boolean flushes,
      boolean caches) {
    @Override
    public String toString() {
      return "new MultiServerSimulation.Setup("
          + seed
          + "L, "
          + servers
          + ", "
          + clients
          + ", "
          + documents
          + ", "
          + steps
          + ", "
          + flushes
          + ", "
          + caches
          + ")";
    }
  }

  static final String[] FIELDS = {"g1", "g2", "p1", "r1", "r2"};
  static final String SERVER_FIELD = "srv";
  static final Duration REPAIR_DELAY = Duration.ofMillis(100);
  static final long HEAD_CHECK_NANOS = Duration.ofSeconds(1).toNanos();
  private static final long SERVER_IDS = 0x5e5e_0000L;
  private static final int MAX_DRAIN = 200_000;

  /**
   * The least time between two Redis restarts. A restart takes seconds, and the servers notice one
   * within about a head check; two within a moment of each other can hide the loss of an append
   * that landed between them from its server, which heard of nothing after it (about 2 runs in
   * 10,000 with restarts at any time; see DefaultHub's class comment).
   */
  private static final long MIN_FLUSH_GAP_NANOS = Duration.ofSeconds(3).toNanos();

  /**
   * Whether Redis answers a read from a cursor older than the document's current history (it was
   * lost and re-created since) with the origin, as the hub needs to notice that loss in every case
   * (see {@link RedisModel}). On unless {@code -Dlattice.sim.staleCursors=false}: without it about
   * 2% of the runs with Redis restarts end with a server holding acknowledged updates the store
   * lost.
   */
  static final boolean STALE_CURSORS =
      Boolean.parseBoolean(System.getProperty("lattice.sim.staleCursors", "true"));

  private static final int HEAL_ROUNDS = 40;

  private final Setup setup;
  private final Random random;
  private final SimTime time = new SimTime();
  private final RedisModel redis;
  private final LossyBus bus;
  private final List<Server> servers = new ArrayList<>();
  private final List<Server> dead = new ArrayList<>();
  private final List<Client> clients = new ArrayList<>();
  private final List<String> documentIds = new ArrayList<>();
  private final List<Runnable> lateDisconnects = new ArrayList<>();
  private final List<String> trace = new ArrayList<>();
  private final Map<String, Integer> counts = new TreeMap<>();

  // Fault rates of the faulty phase, drawn from the seed; zero while healing.
  private double commandFailureRate;
  private double replyLostRate;
  private boolean healing;
  private long lastFlushNanos = -1;

  // Ground truth.
  private final Map<String, Document> acknowledged = new TreeMap<>();
  private final Map<String, Long> serverAcknowledged = new TreeMap<>();
  private final Map<String, Long> serverAttempted = new TreeMap<>();
  private long registerWrites;

  MultiServerSimulation(Setup setup) {
    this.setup = setup;
    this.random = new Random(setup.seed());
    this.redis = new RedisModel(time, STALE_CURSORS);
    this.bus = new LossyBus(random);
    for (int d = 0; d < setup.documents(); d++) {
      String id = "doc" + d;
      documentIds.add(id);
      acknowledged.put(id, Document.create(id));
      serverAcknowledged.put(id, 0L);
      serverAttempted.put(id, 0L);
    }
    bus.dropRate = pick(0.0, 0.02, 0.1, 0.3);
    bus.duplicateRate = pick(0.0, 0.05, 0.2);
    bus.followFailureRate = pick(0.0, 0.0, 0.1);
    commandFailureRate = pick(0.0, 0.0, 0.03, 0.1);
    replyLostRate = pick(0.0, 0.0, 0.03, 0.1);
    log(
        "%s: drop %.2f, duplicate %.2f, follow failure %.2f, command failure %.2f, reply lost %.2f",
        setup,
        bus.dropRate,
        bus.duplicateRate,
        bus.followFailureRate,
        commandFailureRate,
        replyLostRate);
    for (int s = 0; s < setup.servers(); s++) {
      servers.add(new Server(s, 0));
    }
    for (int c = 0; c < setup.clients(); c++) {
      Client client = new Client(c);
      clients.add(client);
      // Each client works on one or every document.
      int first = random.nextInt(documentIds.size());
      for (int d = 0; d < documentIds.size(); d++) {
        if (d == first || random.nextBoolean()) {
          client.docs.put(documentIds.get(d), new ClientDoc(documentIds.get(d)));
        }
      }
    }
    if (setup.flushes()) {
      for (Server s : servers) {
        for (String doc : documentIds) {
          s.pin(doc);
        }
      }
      drain();
    }
    for (Client c : clients) {
      connect(c, servers.get(random.nextInt(servers.size())));
    }
  }

  private double pick(double... options) {
    return options[random.nextInt(options.length)];
  }

  // ================================================================ the run

  /** Runs the schedule, heals and checks; throws an AssertionError with the trace on failure. */
  void run() {
    List<String> problems;
    try {
      // In some runs every publish fails for the last stretch (Redis took the appends but not the
      // PUBLISHes): only the head check can tell the others of those appends.
      int blackout = random.nextInt(3) == 0 ? setup.steps() - setup.steps() / 6 : setup.steps();
      for (int step = 0; step < setup.steps(); step++) {
        if (step == blackout) {
          bus.dropRate = 1;
          log("every publish fails from now on");
          count("publish blackout");
        }
        randomStep();
      }
      heal();
      problems = problems();
      countHubStats();
    } catch (RuntimeException | AssertionError e) {
      throw new AssertionError("the simulation threw: " + e + "\n" + report(120), e);
    }
    if (!problems.isEmpty()) {
      throw new AssertionError(
          "problems:\n  " + String.join("\n  ", problems) + "\n" + report(150));
    }
  }

  Map<String, Integer> counts() {
    return counts;
  }

  List<String> trace() {
    return trace;
  }

  private interface Action {
    void run();
  }

  private record Choice(int weight, Action action) {}

  private void randomStep() {
    List<Choice> choices = new ArrayList<>();
    List<Server> busy = servers.stream().filter(s -> !s.tasks.isEmpty()).toList();
    if (!busy.isEmpty()) {
      choices.add(new Choice(30, () -> runTask(busy.get(random.nextInt(busy.size())))));
    }
    List<StoreClient> commands = pipelines(true);
    if (!commands.isEmpty()) {
      choices.add(new Choice(12, () -> runCommand(commands.get(random.nextInt(commands.size())))));
    }
    List<StoreClient> replies = pipelines(false);
    if (!replies.isEmpty()) {
      choices.add(new Choice(12, () -> reply(replies.get(random.nextInt(replies.size())))));
    }
    if (bus.hasCopies()) {
      choices.add(new Choice(12, () -> log(bus.deliverOne())));
    }
    if (bus.hasFollows()) {
      choices.add(new Choice(5, () -> log(bus.answerOneFollow())));
    }
    if (!lateDisconnects.isEmpty()) {
      choices.add(new Choice(2, () -> lateDisconnects.remove(0).run()));
    }
    choices.add(new Choice(6, () -> advance(1 + random.nextInt(60))));
    choices.add(new Choice(2, () -> advance(100 + random.nextInt(1500))));
    choices.add(new Choice(12, this::clientEdit));
    choices.add(new Choice(2, () -> move(clients.get(random.nextInt(clients.size())))));
    choices.add(new Choice(4, () -> maintain(clients.get(random.nextInt(clients.size())))));
    choices.add(new Choice(3, this::serverEdit));
    choices.add(new Choice(2, this::compact));
    choices.add(new Choice(1, this::reconnect));
    if (setup.flushes()) {
      choices.add(new Choice(1, this::flush));
    } else {
      choices.add(new Choice(1, this::crash));
    }
    int total = choices.stream().mapToInt(Choice::weight).sum();
    int roll = random.nextInt(total);
    for (Choice c : choices) {
      roll -= c.weight;
      if (roll < 0) {
        c.action.run();
        return;
      }
    }
  }

  private List<StoreClient> pipelines(boolean commands) {
    List<StoreClient> out = new ArrayList<>();
    for (Server s : servers) {
      if (commands ? s.store.hasCommand() : s.store.hasReply()) {
        out.add(s.store);
      }
    }
    for (Server s : dead) {
      if (commands && s.store.hasCommand()) {
        out.add(s.store);
      }
    }
    return out;
  }

  private void runTask(Server s) {
    s.tasks.poll().run();
  }

  private void runCommand(StoreClient store) {
    StoreClient.Outcome outcome = StoreClient.Outcome.OK;
    if (!healing) {
      double roll = random.nextDouble();
      if (roll < commandFailureRate) {
        outcome = StoreClient.Outcome.FAILED;
      } else if (store.nextWrites() && roll < commandFailureRate + replyLostRate) {
        outcome = StoreClient.Outcome.RAN_REPLY_LOST;
      }
    }
    if (outcome != StoreClient.Outcome.OK) {
      count("command " + outcome);
    }
    log(store.runNext(outcome));
  }

  private void reply(StoreClient store) {
    log(store.replyNext());
  }

  private void advance(long millis) {
    time.advance(millis * 1_000_000L);
  }

  // ================================================================ servers

  /** One server process: a hub, its executor, its timers, its pipeline and its replicator. */
  final class Server {
    final int slot;
    final int epoch;
    final String name;
    final ReplicaId replica;
    final ArrayDeque<Runnable> tasks = new ArrayDeque<>();
    final StoreClient store;
    final LossyBus.Node node;
    final DefaultHub hub;
    final List<CompletableFuture<?>> promised = new ArrayList<>();
    final Map<String, StoredDocument> cached = new TreeMap<>();
    boolean alive = true;

    Server(int slot, int epoch) {
      this.slot = slot;
      this.epoch = epoch;
      this.name = "s" + slot + (epoch == 0 ? "" : "." + epoch);
      this.replica = ReplicaId.of(SERVER_IDS + slot * 1_000L + epoch);
      this.store = new StoreClient(redis, name);
      this.node = bus.node(name);
      HubScheduler scheduler =
          new HubScheduler() {
            @Override
            public Cancellable schedule(Runnable task, Duration delay) {
              if (!alive) {
                return () -> {};
              }
              SimTime.Timer t = time.schedule(Server.this, delay.toNanos(), task);
              return t::cancel;
            }

            @Override
            public long nanoTime() {
              return time.nanoTime();
            }
          };
      HubConfig.Builder config =
          HubConfig.builder(store, replica)
              .executor(
                  task -> {
                    if (alive) {
                      tasks.add(task);
                    }
                  })
              .scheduler(scheduler)
              .clock(new HybridLogicalClock(time::wallMillis, Duration.ofSeconds(60)))
              .replicator(node)
              .repairDelay(REPAIR_DELAY);
      if (setup.caches()) {
        config.cache(new MapCache());
      }
      this.hub = new DefaultHub(config.build());
      // The replicator's head check, at a phase of its own.
      time.schedule(this, random.nextLong(HEAD_CHECK_NANOS), this::checkHeads);
    }

    private void checkHeads() {
      if (alive) {
        node.checkHeads(redis);
        time.schedule(this, HEAD_CHECK_NANOS, this::checkHeads);
      }
    }

    <T> CompletableFuture<T> promise(CompletableFuture<T> f) {
      promised.add(f);
      return f;
    }

    /** Keeps {@code doc} live here for the whole run: a watcher subscribes and never leaves. */
    void pin(String doc) {
      Watcher w = new Watcher(name + "-watch-" + doc);
      promise(hub.subscribe(w, doc, VersionVector.empty()))
          .whenComplete(
              (sync, failure) -> {
                if (failure != null && alive) {
                  log("%s's watcher of %s could not subscribe; again", name, doc);
                  pin(doc);
                }
              });
    }

    @Override
    public String toString() {
      return name;
    }

    /** A cache that keeps what it is given until the process dies. */
    final class MapCache implements DocumentCache {
      @Override
      public Optional<StoredDocument> take(String documentId) {
        return Optional.ofNullable(cached.remove(documentId));
      }

      @Override
      public void put(StoredDocument document) {
        if (random.nextInt(4) != 0) {
          cached.put(document.document().id(), document);
        }
      }
    }
  }

  /** A subscriber that only keeps a document live. */
  private record Watcher(String id) implements Connection {
    @Override
    public ReplicaId replicaId() {
      return ReplicaId.of(0xFFFF_FFFFL);
    }

    @Override
    public void send(Message message) {}
  }

  private void crash() {
    Server old = servers.get(random.nextInt(servers.size()));
    old.alive = false;
    old.tasks.clear();
    time.cancelOwnedBy(old);
    int onTheWire = random.nextInt(old.store.pending() + 1);
    old.store.crash(onTheWire);
    old.node.close();
    dead.add(old);
    for (Client c : clients) {
      if (c.at == old) {
        c.dropConnection();
      }
    }
    Server fresh = new Server(old.slot, old.epoch + 1);
    servers.set(old.slot, fresh);
    count("server crash");
    log("%s crashed (%d commands still on the wire); %s starts", old, onTheWire, fresh);
  }

  private void flush() {
    if (lastFlushNanos >= 0 && time.nanoTime() - lastFlushNanos < MIN_FLUSH_GAP_NANOS) {
      return;
    }
    lastFlushNanos = time.nanoTime();
    redis.flush();
    count("redis flushed");
    log("Redis restarted empty");
    if (random.nextBoolean()) {
      for (Server s : servers) {
        int lost = s.node.reconnect();
        log("%s's subscription reconnects (%d copies lost)", s, lost);
      }
    }
  }

  private void reconnect() {
    Server s = servers.get(random.nextInt(servers.size()));
    int lost = s.node.reconnect();
    count("replicator reconnect");
    log("%s's subscription reconnects (%d copies lost)", s, lost);
  }

  private void compact() {
    String doc = documentIds.get(random.nextInt(documentIds.size()));
    if (redis.compact(doc, random)) {
      count("compaction");
      log("Redis compacts %s", doc);
    }
  }

  private void serverEdit() {
    Server s = servers.get(random.nextInt(servers.size()));
    String doc = documentIds.get(random.nextInt(documentIds.size()));
    long amount = 1 + random.nextInt(5);
    serverAttempted.merge(doc, amount, Long::sum);
    count("server edit");
    log("%s edits %s: %s += %d", s, doc, SERVER_FIELD, amount);
    s.promise(s.hub.edit(doc, e -> e.increment(SERVER_FIELD, amount)))
        .whenComplete(
            (delta, failure) -> {
              if (failure == null) {
                serverAcknowledged.merge(doc, amount, Long::sum);
                acknowledged.get(doc).merge(delta);
                log("%s's edit of %s (+%d) is durable", s, doc, amount);
              } else {
                count("server edit failed");
                log("%s's edit of %s (+%d) failed: %s", s, doc, amount, failure);
              }
            });
  }

  // ================================================================ clients

  enum SubState {
    NONE,
    SUBSCRIBING,
    SUBSCRIBED
  }

  /** A client's replica of one document, its outbox and its subscription, as the SDK keeps them. */
  final class ClientDoc {
    final String id;

    /** What the server acknowledged or sent: what the client may tell a server it lacks. */
    final Document base;

    /** The base and the outbox: what the user sees. */
    final Document replica;

    final TreeMap<Long, DocumentDelta> outbox = new TreeMap<>();
    final Set<Long> sent = new HashSet<>();
    long nextEntry;
    SubState state = SubState.NONE;
    boolean resync;

    ClientDoc(String id) {
      this.id = id;
      this.base = Document.create(id);
      this.replica = Document.create(id);
    }

    void received(DocumentDelta delta) {
      base.merge(delta);
      replica.merge(delta);
    }
  }

  /** A client: one connection at a time, to one server, subscribed to its documents. */
  final class Client {
    final int index;
    final ReplicaId id;
    final HybridLogicalClock clock;
    final Map<String, ClientDoc> docs = new LinkedHashMap<>();
    Server at;
    ClientConnection connection;
    int generation;

    Client(int index) {
      this.index = index;
      this.id = ReplicaId.of(index + 1);
      this.clock = new HybridLogicalClock(time::wallMillis, Duration.ofSeconds(60));
    }

    /** The connection is gone (the server crashed, or the client moves). */
    void dropConnection() {
      if (connection != null) {
        connection.open = false;
      }
      connection = null;
      at = null;
      for (ClientDoc d : docs.values()) {
        d.state = SubState.NONE;
        d.sent.clear();
        d.resync = false;
      }
    }

    @Override
    public String toString() {
      return "c" + index;
    }
  }

  /** A client's connection to one server, as the hub sees it. */
  final class ClientConnection implements Connection {
    final Client client;
    final Server server;
    final String id;
    boolean open = true;

    ClientConnection(Client client, Server server, int generation) {
      this.client = client;
      this.server = server;
      this.id = client + "@" + server + "#" + generation;
    }

    boolean current() {
      return open && client.connection == this;
    }

    @Override
    public String id() {
      return id;
    }

    @Override
    public ReplicaId replicaId() {
      return client.id;
    }

    @Override
    public void send(Message message) {
      if (!current() || !(message instanceof Update u)) {
        return;
      }
      ClientDoc d = client.docs.get(u.documentId());
      // As the SDK: fan-outs that arrive before the SYNC are merged too (the server follows the
      // document for the connection from the moment it takes the subscription).
      if (d == null || d.state == SubState.NONE) {
        return;
      }
      d.received(u.delta());
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof ClientConnection other && other.id.equals(id);
    }

    @Override
    public int hashCode() {
      return id.hashCode();
    }

    @Override
    public String toString() {
      return id;
    }
  }

  private void connect(Client c, Server s) {
    c.at = s;
    c.connection = new ClientConnection(c, s, c.generation++);
    log("%s connects to %s", c, s);
    for (ClientDoc d : c.docs.values()) {
      subscribe(c, d);
    }
  }

  private void subscribe(Client c, ClientDoc d) {
    ClientConnection conn = c.connection;
    d.state = SubState.SUBSCRIBING;
    d.resync = false;
    VersionVector vector = d.replica.versionVector();
    conn.server
        .promise(conn.server.hub.subscribe(conn, d.id, vector))
        .whenComplete((sync, failure) -> subscribed(conn, d, sync, failure));
  }

  private void subscribed(
      ClientConnection conn, ClientDoc d, Hub.SyncResult sync, Throwable failure) {
    if (!conn.current()) {
      return;
    }
    Client c = conn.client;
    if (failure != null) {
      d.state = SubState.NONE;
      count("subscribe failed");
      log("%s's subscribe to %s on %s failed: %s", c, d.id, conn.server, failure);
      return;
    }
    d.received(sync.missing());
    d.state = SubState.SUBSCRIBED;
    // What the server lacks of the client's own acknowledged edits (a server takes a
    // connection's own replica's dots only), then the outbox.
    DocumentDelta lacking = ownPart(d.base.deltaSince(sync.serverVector()), c.id);
    log(
        "%s subscribed to %s on %s%s",
        c, d.id, conn.server, lacking.isEmpty() ? "" : ", sends back");
    if (!lacking.isEmpty()) {
      count("catch-up sent back");
      conn.server
          .promise(conn.server.hub.update(conn, d.id, lacking))
          .whenComplete(
              (ok, f) -> {
                if (!conn.current()) {
                  return;
                }
                if (f == null) {
                  acknowledged.get(d.id).merge(lacking);
                } else {
                  d.resync = true;
                  log("%s's catch-up of %s failed: %s", c, d.id, f);
                }
              });
    }
    for (long entry : List.copyOf(d.outbox.keySet())) {
      send(c, d, entry);
    }
  }

  private static Throwable unwrapped(Throwable failure) {
    Throwable t = failure;
    while (t instanceof java.util.concurrent.CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  /** The dots, touched entries and contributions of {@code replica} in {@code delta}. */
  private static DocumentDelta ownPart(DocumentDelta delta, ReplicaId replica) {
    List<dev.lattice.crdt.DotRange> mine = new ArrayList<>();
    for (dev.lattice.crdt.DotRange range : delta.context().ranges()) {
      if (range.replica().equals(replica)) {
        mine.add(range);
      }
    }
    Map<String, dev.lattice.crdt.FieldState> fields = new TreeMap<>();
    delta
        .fields()
        .forEach(
            (name, field) -> {
              long seq = field.touched().get(replica);
              if (seq > 0) {
                fields.put(
                    name,
                    new dev.lattice.crdt.FieldState(
                        field.state().contributionsOf(replica::equals),
                        VersionVector.empty().with(replica, seq)));
              }
            });
    return DocumentDelta.of(dev.lattice.crdt.DotSet.of(mine), fields);
  }

  private void send(Client c, ClientDoc d, long entry) {
    ClientConnection conn = c.connection;
    DocumentDelta delta = d.outbox.get(entry);
    d.sent.add(entry);
    conn.server
        .promise(conn.server.hub.update(conn, d.id, delta))
        .whenComplete(
            (ok, failure) -> {
              if (!conn.current()) {
                return; // the ack is lost with the connection; the entry is resent
              }
              d.sent.remove(entry);
              if (failure != null) {
                // A gap (an earlier entry not merged yet): subscribe again and resend, as the SDK.
                if (unwrapped(failure) instanceof HubException h
                    && h.code() == dev.lattice.protocol.ErrorCode.STALE_REPLICA) {
                  d.resync = true;
                }
                count("update failed");
                log("%s's update %s/%d failed: %s", c, d.id, entry, failure);
                return;
              }
              DocumentDelta acked = d.outbox.remove(entry);
              if (acked != null) {
                d.base.merge(acked);
                acknowledged.get(d.id).merge(acked);
                log("%s's update %s/%d acknowledged by %s", c, d.id, entry, conn.server);
              }
            });
  }

  private void clientEdit() {
    Client c = clients.get(random.nextInt(clients.size()));
    List<ClientDoc> docs = List.copyOf(c.docs.values());
    ClientDoc d = docs.get(random.nextInt(docs.size()));
    String field = FIELDS[random.nextInt(FIELDS.length)];
    DocumentDelta delta;
    String what;
    switch (field.charAt(0)) {
      case 'g' -> {
        long amount = 1 + random.nextInt(5);
        delta = d.replica.incrementGCounter(c.id, field, amount);
        what = field + " += " + amount;
      }
      case 'p' -> {
        long amount = random.nextInt(11) - 5;
        delta = d.replica.addPNCounter(c.id, field, amount);
        what = field + " += " + amount;
      }
      default -> {
        Value value = Value.of(c.index * 1_000_000L + ++registerWrites);
        delta = d.replica.setRegister(c.id, field, value, c.clock.now());
        what = field + " := " + value;
      }
    }
    long entry = d.nextEntry++;
    d.outbox.put(entry, delta);
    count("client edit");
    log("%s edits %s/%d: %s", c, d.id, entry, what);
    if (d.state == SubState.SUBSCRIBED) {
      send(c, d, entry);
    }
  }

  /** The client leaves its server (now, or as the server notices later) for another one. */
  private void move(Client c) {
    ClientConnection old = c.connection;
    c.dropConnection();
    if (old != null && old.server.alive) {
      if (random.nextInt(4) == 0) {
        count("late disconnect");
        lateDisconnects.add(() -> disconnect(old));
      } else {
        disconnect(old);
      }
    }
    count("client move");
    connect(c, servers.get(random.nextInt(servers.size())));
  }

  private void disconnect(ClientConnection conn) {
    if (conn.server.alive) {
      log("%s disconnects from %s", conn.client, conn.server);
      conn.server.hub.disconnect(conn);
    }
  }

  /** What the SDK does on its own: reconnect, subscribe again after a failure, resend. */
  private void maintain(Client c) {
    if (c.connection == null) {
      connect(c, servers.get(random.nextInt(servers.size())));
      return;
    }
    for (ClientDoc d : c.docs.values()) {
      if (d.state == SubState.NONE || (d.state == SubState.SUBSCRIBED && d.resync)) {
        subscribe(c, d);
      } else if (d.state == SubState.SUBSCRIBED) {
        for (long entry : List.copyOf(d.outbox.keySet())) {
          if (!d.sent.contains(entry)) {
            count("update resent");
            send(c, d, entry);
          }
        }
      }
    }
  }

  // ================================================================ healing

  /**
   * No more faults: every command runs, every copy and reply arrives, clients reconnect and resend,
   * and time runs through several head checks, until the clients are settled.
   */
  private void heal() {
    healing = true;
    // Publishes that fail to the end stay failing until the clients settle: nothing is announced
    // after the last appends, so only the replicators' head checks can show them.
    boolean publishesFail = bus.dropRate == 1;
    bus.dropRate = publishesFail ? 1 : 0;
    bus.duplicateRate = 0;
    bus.followFailureRate = 0;
    log("heal");
    int settledRounds = 0;
    for (int round = 0; round < HEAL_ROUNDS && settledRounds < 6; round++) {
      drain();
      for (Client c : clients) {
        maintain(c);
      }
      drain();
      time.advance(HEAD_CHECK_NANOS / 2);
      drain();
      settledRounds = settled() ? settledRounds + 1 : 0;
      if (publishesFail && settledRounds > 0) {
        publishesFail = false;
        bus.dropRate = 0;
        log("publishes work again");
      }
    }
  }

  /** Runs every task, command, reply and delivery there is, in a seeded order, until none is. */
  private void drain() {
    for (int i = 0; i < MAX_DRAIN; i++) {
      List<Action> ready = new ArrayList<>();
      for (Server s : servers) {
        if (!s.tasks.isEmpty()) {
          ready.add(() -> runTask(s));
        }
      }
      for (StoreClient store : pipelines(true)) {
        ready.add(() -> runCommand(store));
      }
      for (StoreClient store : pipelines(false)) {
        ready.add(() -> reply(store));
      }
      if (bus.hasCopies()) {
        ready.add(() -> log(bus.deliverOne()));
      }
      if (bus.hasFollows()) {
        ready.add(() -> log(bus.answerOneFollow()));
      }
      if (!lateDisconnects.isEmpty()) {
        ready.add(() -> lateDisconnects.remove(0).run());
      }
      if (ready.isEmpty()) {
        return;
      }
      ready.get(random.nextInt(ready.size())).run();
    }
    throw new AssertionError("the servers never went quiet: a livelock");
  }

  private boolean settled() {
    for (Client c : clients) {
      if (c.connection == null) {
        return false;
      }
      for (ClientDoc d : c.docs.values()) {
        if (d.state != SubState.SUBSCRIBED || d.resync || !d.outbox.isEmpty()) {
          return false;
        }
      }
    }
    return true;
  }

  // ================================================================ checks

  /** Everything wrong once healed, as readable lines; empty when all is well. */
  List<String> problems() {
    List<String> out = new ArrayList<>();
    int pending = bus.inFlight() + lateDisconnects.size();
    for (Server s : servers) {
      pending += s.tasks.size() + s.store.pending();
    }
    if (pending > 0) {
      out.add(pending + " tasks, commands or copies still pending after healing");
    }
    if (!setup.flushes()) {
      List<Server> all = new ArrayList<>(dead);
      all.addAll(servers);
      for (Server s : all) {
        long reseeds = s.hub.stats().reseeds();
        if (reseeds > 0) {
          out.add(s + " made " + reseeds + " write-backs, though Redis lost nothing");
        }
      }
    }
    for (Server s : servers) {
      long open = s.promised.stream().filter(f -> !f.isDone()).count();
      if (open > 0) {
        out.add(s + " never completed " + open + " of the futures it handed out");
      }
    }
    for (Client c : clients) {
      if (c.connection == null) {
        out.add(c + " is not connected");
        continue;
      }
      for (ClientDoc d : c.docs.values()) {
        if (d.state != SubState.SUBSCRIBED) {
          out.add(c + " is " + d.state + " to " + d.id + " on " + c.at);
        }
        if (!d.outbox.isEmpty()) {
          out.add(c + " has " + d.outbox.size() + " unacknowledged updates of " + d.id);
        }
      }
    }
    for (String doc : documentIds) {
      Document stored = redis.document(doc);
      checkStore(doc, stored, out);
      for (Client c : clients) {
        ClientDoc d = c.docs.get(doc);
        if (d != null && !d.replica.equals(stored)) {
          out.add(c + "'s " + doc + " differs from the store's: " + diff(d.replica, stored));
        }
      }
      for (Server s : servers) {
        if (!s.node.followed.contains(doc)) {
          continue;
        }
        Watcher probe = new Watcher("probe-" + s + "-" + doc);
        CompletableFuture<Hub.SyncResult> f = s.hub.subscribe(probe, doc, VersionVector.empty());
        drain();
        if (!f.isDone() || f.isCompletedExceptionally()) {
          out.add("a probe's subscribe to " + doc + " on " + s + " is " + f);
          continue;
        }
        Document live = Document.create(doc);
        live.merge(f.join().missing());
        if (!live.equals(stored)) {
          out.add(s + "'s live " + doc + " differs from the store's: " + diff(live, stored));
        }
      }
    }
    return out;
  }

  private void checkStore(String doc, Document stored, List<String> out) {
    Document truth = acknowledged.get(doc);
    Document merged = stored.copy();
    merged.merge(truth.deltaSince(VersionVector.empty()));
    if (!merged.equals(stored)) {
      out.add(
          "the store's "
              + doc
              + " lacks acknowledged updates: "
              + stored
              + ", acknowledged "
              + truth);
    }
    for (String field : FIELDS) {
      Optional<FieldState> s = stored.field(field);
      Optional<FieldState> t = truth.field(field);
      if (!s.equals(t)) {
        out.add(
            "the store's "
                + doc
                + "."
                + field
                + " is "
                + s.map(Object::toString).orElse("absent")
                + ", the acknowledged updates make "
                + t.map(Object::toString).orElse("absent"));
      }
    }
    long server = stored.counterValue(SERVER_FIELD);
    long acked = serverAcknowledged.get(doc);
    long attempted = serverAttempted.get(doc);
    if (server < acked || server > attempted) {
      out.add(
          "the store's "
              + doc
              + "."
              + SERVER_FIELD
              + " = "
              + server
              + ", outside [acknowledged "
              + acked
              + ", attempted "
              + attempted
              + "]");
    }
  }

  private void countHubStats() {
    List<Server> all = new ArrayList<>(dead);
    all.addAll(servers);
    for (Server s : all) {
      var stats = s.hub.stats();
      counts.merge("hub remote deltas", (int) stats.remoteDeltas(), Integer::sum);
      counts.merge("hub repairs", (int) stats.repairs(), Integer::sum);
      counts.merge("hub reseeds", (int) stats.reseeds(), Integer::sum);
      counts.merge("hub cache hits", (int) stats.cacheHits(), Integer::sum);
      counts.merge("hub append failures", (int) stats.appendFailures(), Integer::sum);
    }
    counts.merge("bus announcements", bus.announced, Integer::sum);
    counts.merge("bus copies", bus.copies, Integer::sum);
    counts.merge("bus copies dropped", bus.dropped, Integer::sum);
    counts.merge("bus copies duplicated", bus.duplicated, Integer::sum);
    counts.values().removeIf(v -> v == 0);
  }

  // ================================================================ reporting

  /** How {@code a} differs from {@code b}: fields and held dots, each side's. */
  static String diff(Document a, Document b) {
    List<String> out = new ArrayList<>();
    Set<String> names = new java.util.TreeSet<>(a.fields().keySet());
    names.addAll(b.fields().keySet());
    for (String f : names) {
      Optional<FieldState> x = a.field(f);
      Optional<FieldState> y = b.field(f);
      if (!x.equals(y)) {
        out.add(
            f
                + ": "
                + x.map(Object::toString).orElse("absent")
                + " vs "
                + y.map(Object::toString).orElse("absent"));
      }
    }
    if (!a.context().equals(b.context())) {
      out.add("dots " + a.context() + " vs " + b.context());
    }
    return String.join("; ", out);
  }

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

  private void log(String format, Object... args) {
    String line = args.length == 0 ? format : String.format(format, args);
    trace.add(String.format("%9.3fs %s", time.elapsedMillis() / 1000.0, line));
  }

  /** Adds a line to the trace from outside (a log handler, when debugging). */
  void note(String line) {
    log("%s", line);
  }

  private void count(String what) {
    counts.merge(what, 1, Integer::sum);
  }
}

package dev.lattice.client.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.client.internal.LocalState.OutboxEntry;
import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.DotRange;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.LWWRegister;
import dev.lattice.crdt.ORMap;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.CloseCodes;
import dev.lattice.protocol.ErrorCode;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Hello;
import dev.lattice.protocol.Subscribe;
import dev.lattice.protocol.Sync;
import dev.lattice.protocol.Update;
import dev.lattice.protocol.Welcome;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 11 bug 1 in the session: how the client learns that its replica id names a history it does
 * not have (the SYNC's vector, or a STALE_REPLICA refusal of a resend), retires the id and makes
 * its unacknowledged edits again under a fresh one; and how it answers a gap (resync, no
 * retirement).
 */
class ReplicaRetirementTest {

  private static final ReplicaId ME = ReplicaId.of(1);
  private static final ReplicaId SERVER = ReplicaId.of(99);

  private final ManualScheduler scheduler = new ManualScheduler();
  private final RecordingTransport transport = new RecordingTransport();
  private final ClockSync clockSync =
      new ClockSync(Clock.fixed(Instant.ofEpochMilli(1_700_000_000_000L), ZoneOffset.UTC));
  private final HybridLogicalClock clock =
      new HybridLogicalClock(clockSync::correctedMillis, Duration.ofSeconds(60));
  private final Callbacks callbacks = new Callbacks(Runnable::run);

  @TempDir Path dir;

  private ClientSession session(LocalState local) {
    return new ClientSession(
        new ClientSession.Config(
            () -> null,
            "test",
            new Backoff(Duration.ofMillis(100), Duration.ofMillis(1000), new Random(7)),
            8,
            256,
            15_000,
            30_000,
            1),
        local.replicaId(),
        local::retireReplicaId,
        transport,
        scheduler,
        scheduler::nanoTime,
        clockSync,
        clock,
        status -> {});
  }

  private long gen() {
    return transport.lastGeneration();
  }

  private static Map<String, Long> limits() {
    return Map.of(
        Welcome.LIMIT_UPDATES_PER_SECOND, 1000L,
        Welcome.LIMIT_UPDATE_BURST, 1000L,
        Welcome.LIMIT_MAX_FRAME_BYTES, 1_048_576L);
  }

  /** HELLO (returned), WELCOME, SUBSCRIBE answered by a SYNC with {@code vector}. */
  /** The server's answer to a resend of a dot it holds with other content. */
  private void refuseAsStale(ClientSession session, Update resend) {
    session.onMessage(
        gen(),
        new ErrorMessage(
            OptionalLong.of(resend.requestId().getAsLong()),
            ErrorCode.STALE_REPLICA.code(),
            "held with other content"));
  }

  /**
   * Opens {@code doc}, connects to a server holding {@code held}, and refuses the first UPDATE the
   * session resends as stale: the replica id must then be retired.
   */
  private void openAndRefuseTheFirstResend(
      ClientSession session, DocumentState doc, VersionVector held) {
    session.open(doc);
    session.start();
    handshake(session, held);
    refuseAsStale(session, transport.drain(Update.class).get(0));
  }

  /**
   * The server's side for document "d": every UPDATE sent so far must pass its identity check as
   * {@code writer}'s, is merged into {@code server} and acknowledged.
   */
  private void acceptUpdates(ClientSession session, Document server, ReplicaId writer) {
    for (Update update : transport.drain(Update.class)) {
      assertThat(server.checkOwnDelta(writer, update.delta()).verdict().accepted()).isTrue();
      server.merge(update.delta());
      session.onMessage(gen(), new dev.lattice.protocol.Ack(update.requestId().getAsLong(), "d"));
    }
  }

  private Hello handshake(ClientSession session, VersionVector vector) {
    session.onOpen(gen());
    Hello hello = transport.drain(Hello.class).get(0);
    session.onMessage(gen(), Welcome.of(1, SERVER, HlcTimestamp.of(1, 0), limits(), "s"));
    Subscribe subscribe = transport.drain(Subscribe.class).get(0);
    session.onMessage(gen(), new Sync(subscribe.requestId(), "d", DocumentDelta.empty(), vector));
    return hello;
  }

  @Test
  void aSyncHoldingMoreOfOurSequencesThanWeUsedRetiresTheIdAndRedoesTheOutbox() throws Exception {
    FileLocalState local = FileLocalState.open(dir);
    ReplicaId retiredFor;
    try {
      ReplicaId old = local.replicaId();
      DocumentState doc = new DocumentState("d", old, local, clock, callbacks);
      for (int i = 0; i < 3; i++) {
        doc.edit("n", d -> d.incrementGCounter(old, "n", 2));
      }
      doc.edit("t", d -> d.setRegister(old, "t", Value.of("typed"), clock.now()));
      var flushed = doc.flush();
      ClientSession session = session(local);
      session.open(doc);
      session.start();

      // The server holds 10 sequences of this id; this client only ever used 4. Its outbox goes
      // first as a resend, which the server refuses: it holds those sequences with other content.
      Hello first = handshake(session, VersionVector.of(Map.of(old, 10L)));
      assertThat(first.replicaId()).isEqualTo(old);
      List<Update> resend = transport.drain(Update.class);
      assertThat(resend).hasSize(1);
      assertThat(transport.closes).isEmpty();
      refuseAsStale(session, resend.get(0));
      assertThat(transport.closes).containsExactly(CloseCodes.GOING_AWAY);

      ReplicaId fresh = local.replicaId();
      retiredFor = fresh;
      assertThat(fresh).isNotEqualTo(old);
      assertThat(doc.me()).isEqualTo(fresh);
      assertThat(doc.counterValue("n")).isEqualTo(6);
      assertThat(doc.registerValue("t")).contains(Value.of("typed"));
      assertThat(flushed).isNotDone();
      // The stored outbox already holds the re-issued edits, in place, by the fresh id only.
      List<OutboxEntry> stored = local.load("d").orElseThrow().outbox();
      assertThat(stored).hasSize(4);
      for (OutboxEntry entry : stored) {
        assertThat(entry.delta().context().ranges())
            .allSatisfy(r -> assertThat(r.replica()).isEqualTo(fresh));
      }

      scheduler.advanceMillis(2_000); // the reconnect
      Hello second = handshake(session, VersionVector.empty());
      assertThat(second.replicaId()).isEqualTo(fresh);
      Document server = Document.create("d");
      acceptUpdates(session, server, fresh);
      assertThat(server.counterValue("n")).isEqualTo(6);
      assertThat(server.registerValue("t")).contains(Value.of("typed"));
      assertThat(server.versionVector()).isEqualTo(VersionVector.of(Map.of(fresh, 4L)));
      assertThat(flushed).isCompleted();
    } finally {
      local.close();
    }
    // The fresh id is the stored one now.
    try (FileLocalState reopened = FileLocalState.open(dir)) {
      assertThat(reopened.replicaId()).isEqualTo(retiredFor);
      assertThat(reopened.load("d").orElseThrow().outbox()).isEmpty();
    }
  }

  /**
   * A HELLO naming a replica id that another subject owns (a state directory copied from another
   * user's) is refused with close 4008: the client retires the id, re-issues its edits under a
   * fresh one and reconnects, so nothing is lost.
   */
  @Test
  void aReplicaOwnedByAnotherSubjectIsRetiredAndTheEditsGoUpUnderAFreshId() {
    MemoryLocalState local = new MemoryLocalState(ME);
    DocumentState doc = new DocumentState("d", ME, local, clock, callbacks);
    doc.edit("n", d -> d.incrementGCounter(ME, "n", 2));
    doc.edit("n", d -> d.incrementGCounter(ME, "n", 3));
    var flushed = doc.flush();
    ClientSession session = session(local);
    session.open(doc);
    session.start();

    session.onOpen(gen());
    assertThat(transport.drain(Hello.class).get(0).replicaId()).isEqualTo(ME);
    session.onMessage(
        gen(), new ErrorMessage(OptionalLong.empty(), ErrorCode.REPLICA_OWNED.code(), "owned"));
    session.onClosed(gen(), CloseCodes.REPLICA_OWNED, "REPLICA_OWNED: owned");

    ReplicaId fresh = local.replicaId();
    assertThat(fresh).isNotEqualTo(ME);
    assertThat(doc.me()).isEqualTo(fresh);
    assertThat(doc.counterValue("n")).isEqualTo(5);

    scheduler.advanceMillis(2_000); // the reconnect
    Hello second = handshake(session, VersionVector.empty());
    assertThat(second.replicaId()).isEqualTo(fresh);
    Document server = Document.create("d");
    acceptUpdates(session, server, fresh);
    assertThat(server.counterValue("n")).isEqualTo(5);
    assertThat(server.versionVector().get(ME)).isZero();
    assertThat(flushed).isCompleted();
  }

  /**
   * Set adds and removes and MV-Register writes are re-issued under the fresh id too (they were
   * dropped before: the retired id's causal edits never reached the server).
   */
  @Test
  void retirementRedoesSetAndMultiValueRegisterEdits() throws Exception {
    try (FileLocalState local = FileLocalState.open(dir)) {
      ReplicaId old = local.replicaId();
      DocumentState doc = new DocumentState("d", old, local, clock, callbacks);
      doc.edit("tags", d -> d.addToSet(old, "tags", Value.of("a")));
      doc.edit("tags", d -> d.addToSet(old, "tags", Value.of("b")));
      doc.edit("tags", d -> d.removeFromSet(old, "tags", Value.of("a")));
      doc.edit("status", d -> d.writeMVRegister(old, "status", Value.of("open")));
      ClientSession session = session(local);
      openAndRefuseTheFirstResend(session, doc, VersionVector.of(Map.of(old, 10L)));
      ReplicaId fresh = local.replicaId();
      assertThat(fresh).isNotEqualTo(old);

      scheduler.advanceMillis(2_000);
      handshake(session, VersionVector.empty());
      Document server = Document.create("d");
      acceptUpdates(session, server, fresh);
      assertThat(((dev.lattice.crdt.ORSet) server.field("tags").orElseThrow().state()).elements())
          .containsExactly(Value.of("b"));
      assertThat(
              ((dev.lattice.crdt.MVRegister) server.field("status").orElseThrow().state()).values())
          .containsExactly(Value.of("open"));
    }
  }

  /**
   * OR-Map edits are re-issued under the fresh id too, nested values of every kind and removals of
   * keys included (they were dropped before: the map lost the retired id's edits).
   */
  @Test
  void retirementRedoesMapEdits() throws Exception {
    CrdtKind<GCounter> counter = CrdtKind.of(GCounter.class);
    CrdtKind<ORSet> set = CrdtKind.of(ORSet.class);
    CrdtKind<LWWRegister> register = CrdtKind.of(LWWRegister.class);
    try (FileLocalState local = FileLocalState.open(dir)) {
      ReplicaId old = local.replicaId();
      DocumentState doc = new DocumentState("d", old, local, clock, callbacks);
      doc.edit(
          "m", d -> d.mutateAt(old, "m", List.of("n"), counter, (g, dot) -> g.increment(old, 2)));
      doc.edit(
          "m", d -> d.mutateAt(old, "m", List.of("n"), counter, (g, dot) -> g.increment(old, 3)));
      doc.edit(
          "m",
          d -> d.mutateAt(old, "m", List.of("tags"), set, (s, dot) -> s.add(dot, Value.of("a"))));
      doc.edit(
          "m",
          d -> d.mutateAt(old, "m", List.of("tags"), set, (s, dot) -> s.add(dot, Value.of("b"))));
      doc.edit(
          "m",
          d ->
              d.mutateAt(old, "m", List.of("tags"), set, (s, dot) -> s.remove(dot, Value.of("a"))));
      doc.edit(
          "m",
          d -> d.mutateAt(old, "m", List.of("gone"), counter, (g, dot) -> g.increment(old, 1)));
      doc.edit("m", d -> d.removeFromMap(old, "m", "gone"));
      HlcTimestamp at = clock.now();
      doc.edit(
          "m",
          d ->
              d.mutateAt(
                  old,
                  "m",
                  List.of("inner", "title"),
                  register,
                  (r, dot) -> r.set(Value.of("hello"), at, old)));
      ClientSession session = session(local);
      openAndRefuseTheFirstResend(session, doc, VersionVector.of(Map.of(old, 20L)));
      ReplicaId fresh = local.replicaId();
      assertThat(fresh).isNotEqualTo(old);
      assertThat(doc.pendingChanges()).isPositive();

      scheduler.advanceMillis(2_000);
      handshake(session, VersionVector.empty());
      Document server = Document.create("d");
      acceptUpdates(session, server, fresh);
      assertThat(server.stateAt("m", List.of("n"), counter).map(GCounter::value)).contains(5L);
      assertThat(server.stateAt("m", List.of("tags"), set).map(ORSet::elements).orElseThrow())
          .containsExactly(Value.of("b"));
      assertThat(
              server
                  .stateAt("m", List.of(), CrdtKind.of(ORMap.class))
                  .orElseThrow()
                  .values()
                  .keySet())
          .containsExactly("inner", "n", "tags");
      assertThat(
              server.stateAt("m", List.of("inner", "title"), register).flatMap(LWWRegister::value))
          .contains(Value.of("hello"));
      assertThat(server.versionVector().get(old)).isZero();
    }
  }

  /**
   * A retired id's removal of a map key that another replica wrote (known from the checkpoint, not
   * from the outbox) is made again under the fresh id, and so is its change of that replica's
   * nested set.
   */
  @Test
  void retirementRedoesRemovalsOfWhatOthersWroteInAMap() {
    ReplicaId other = ReplicaId.of(5);
    CrdtKind<GCounter> counter = CrdtKind.of(GCounter.class);
    CrdtKind<ORSet> set = CrdtKind.of(ORSet.class);
    Document seeded = Document.create("d");
    seeded.mutateAt(other, "m", List.of("theirs"), counter, (g, dot) -> g.increment(other, 4));
    seeded.mutateAt(other, "m", List.of("tags"), set, (t, dot) -> t.add(dot, Value.of("x")));
    MemoryLocalState local = new MemoryLocalState(ME);
    local.checkpoint("d", seeded, java.util.Set.of());
    DocumentState doc = new DocumentState("d", ME, local, clock, callbacks);
    doc.edit("m", d -> d.removeFromMap(ME, "m", "theirs"));
    doc.edit(
        "m",
        d -> d.mutateAt(ME, "m", List.of("tags"), set, (t, dot) -> t.remove(dot, Value.of("x"))));
    ClientSession session = session(local);
    openAndRefuseTheFirstResend(session, doc, VersionVector.of(Map.of(ME, 10L, other, 2L)));
    ReplicaId fresh = local.replicaId();
    assertThat(fresh).isNotEqualTo(ME);

    scheduler.advanceMillis(2_000);
    handshake(session, VersionVector.of(Map.of(other, 2L)));
    Document server = seeded.copy();
    acceptUpdates(session, server, fresh);
    ORMap map = server.stateAt("m", List.of(), CrdtKind.of(ORMap.class)).orElseThrow();
    assertThat(map.containsKey("theirs")).isFalse();
    // With single-leaf entries, removing a nested set's last element retracts the key's last
    // entry: the key goes.
    assertThat(server.stateAt("m", List.of("tags"), set).map(ORSet::isEmpty).orElse(true)).isTrue();
  }

  /**
   * A restored copy whose outbox held edits that the lost history delivered after all: the server
   * acknowledges them as the duplicates they are, and only then is the id retired, so nothing is
   * made twice.
   */
  @Test
  void editsTheServerAlreadyHoldsAreVerifiedNotMadeTwice() {
    MemoryLocalState local = new MemoryLocalState(ME);
    DocumentState doc = new DocumentState("d", ME, local, clock, callbacks);
    doc.edit("n", d -> d.incrementGCounter(ME, "n", 1));
    doc.edit("n", d -> d.incrementGCounter(ME, "n", 1));
    var flushed = doc.flush();
    ClientSession session = session(local);
    session.open(doc);
    session.start();
    handshake(session, VersionVector.of(Map.of(ME, 5L)));
    Update resend = transport.drain(Update.class).get(0);
    assertThat(resend.delta().context().ranges()).containsExactly(new DotRange(ME, 1, 2));
    session.onMessage(gen(), new dev.lattice.protocol.Ack(resend.requestId().getAsLong(), "d"));

    assertThat(flushed).isCompleted();
    assertThat(local.replicaId()).as("retired once verified").isNotEqualTo(ME);
    assertThat(transport.closes).containsExactly(CloseCodes.GOING_AWAY);
    assertThat(doc.pendingChanges()).isZero();
    scheduler.advanceMillis(2_000);
    handshake(session, VersionVector.of(Map.of(ME, 5L)));
    assertThat(transport.drain(Update.class)).as("nothing re-issued").isEmpty();
  }

  @Test
  void aStaleReplicaRefusalOfAResendRetiresTheId() {
    MemoryLocalState local = new MemoryLocalState(ME);
    DocumentState doc = new DocumentState("d", ME, local, clock, callbacks);
    doc.edit("n", d -> d.incrementGCounter(ME, "n", 1));
    doc.edit("n", d -> d.incrementGCounter(ME, "n", 1));
    ClientSession session = session(local);
    // The server holds both sequences (a lost ACK, or another history): this is a resend.
    openAndRefuseTheFirstResend(session, doc, VersionVector.of(Map.of(ME, 2L)));
    assertThat(local.replicaId()).isNotEqualTo(ME);
    assertThat(doc.me()).isEqualTo(local.replicaId());
    assertThat(transport.closes).containsExactly(CloseCodes.GOING_AWAY);
    assertThat(doc.counterValue("n")).isEqualTo(2);
    assertThat(doc.pendingChanges()).isEqualTo(2);
  }

  /**
   * Edits of an earlier process (an id already replaced for new edits) go on a connection bound to
   * that id, apart from the new edits; a refused resend of several goes again entry by entry, and
   * each entry refused alone is re-issued under the current id without retiring it; then the
   * connection is bound to the current id.
   */
  @Test
  void earlierEditsGoOnAConnectionOfTheirOwnIdAndNewEditsUnderTheCurrentOne() {
    ReplicaId earlier = ReplicaId.of(7);
    MemoryLocalState local = new MemoryLocalState(ME);
    DocumentState doc = new DocumentState("d", earlier, local, clock, callbacks);
    doc.edit("n", d -> d.incrementGCounter(earlier, "n", 1));
    doc.edit("n", d -> d.incrementGCounter(earlier, "n", 1));
    doc.adopt(ME);
    doc.edit("n", d -> d.incrementGCounter(ME, "n", 5));
    assertThat(doc.earlierWriters()).containsExactly(earlier);
    var flushed = doc.flush();
    ClientSession session = session(local);
    session.open(doc);
    session.start();

    Hello first = handshake(session, VersionVector.of(Map.of(earlier, 2L)));
    assertThat(first.replicaId()).isEqualTo(earlier);
    List<Update> resend = transport.drain(Update.class);
    assertThat(resend).hasSize(1);
    assertThat(resend.get(0).delta().context().ranges())
        .containsExactly(new DotRange(earlier, 1, 2));
    refuseAsStale(session, resend.get(0));
    // Some of them might be held as they are: each goes again alone, and only those refused alone
    // are made again.
    List<Update> alone = transport.drain(Update.class);
    assertThat(alone).hasSize(2);
    assertThat(transport.closes).isEmpty();
    for (Update update : alone) {
      assertThat(update.delta().context().ranges()).hasSize(1);
      refuseAsStale(session, update);
    }
    assertThat(local.replicaId()).as("the current id is not retired").isEqualTo(ME);
    assertThat(doc.earlierWriters()).isEmpty();
    assertThat(doc.counterValue("n")).isEqualTo(7);
    assertThat(transport.closes).containsExactly(CloseCodes.GOING_AWAY);

    scheduler.advanceMillis(2_000);
    Hello second = handshake(session, VersionVector.of(Map.of(earlier, 2L)));
    assertThat(second.replicaId()).isEqualTo(ME);
    Document server = Document.create("d");
    acceptUpdates(session, server, ME);
    assertThat(server.counterValue("n")).isEqualTo(7);
    assertThat(flushed).isCompleted();
  }

  @Test
  void aGapIsAnsweredByAResyncNotByRetiringTheId() {
    MemoryLocalState local = new MemoryLocalState(ME);
    DocumentState doc = new DocumentState("d", ME, local, clock, callbacks);
    doc.edit("n", d -> d.incrementGCounter(ME, "n", 1));
    ClientSession session = session(local);
    session.open(doc);
    session.start();
    handshake(session, VersionVector.empty());
    Update sent = transport.drain(Update.class).get(0);
    session.onMessage(
        gen(),
        new ErrorMessage(
            OptionalLong.of(sent.requestId().getAsLong()),
            ErrorCode.STALE_REPLICA.code(),
            "sequences must continue without a gap"));
    assertThat(local.replicaId()).isEqualTo(ME);
    assertThat(transport.closes).isEmpty();
    scheduler.advanceMillis(2_000);
    Subscribe again = transport.drain(Subscribe.class).get(0);
    session.onMessage(
        gen(), new Sync(again.requestId(), "d", DocumentDelta.empty(), VersionVector.empty()));
    Update resent = transport.drain(Update.class).get(0);
    assertThat(resent.delta()).isEqualTo(sent.delta());
    assertThat(resent.delta().context().ranges()).containsExactly(new DotRange(ME, 1, 1));
  }

  /**
   * Issue 11 bug 5 with a state directory: offline edits go up coalesced, and a crash after the
   * joined UPDATE left (its ACK lost) loses nothing and counts nothing twice.
   */
  @Test
  void coalescedOfflineEditsSurviveACrashMidUploadWithExactTotals() throws Exception {
    int edits = 2_000;
    Document server = Document.create("d");
    ReplicaId me;
    try (FileLocalState local = FileLocalState.open(dir)) {
      me = local.replicaId();
      DocumentState doc = new DocumentState("d", me, local, clock, callbacks);
      for (int i = 0; i < edits; i++) {
        doc.edit("a", d -> d.incrementGCounter(me, "a", 1));
        doc.edit("b", d -> d.addPNCounter(me, "b", -1));
      }
      ClientSession session = session(local);
      session.open(doc);
      session.start();
      handshake(session, VersionVector.empty());
      List<Update> sent = transport.drain(Update.class);
      assertThat(sent).as("one UPDATE for %d edits of two fields", 2 * edits).hasSize(1);
      server.merge(sent.get(0).delta());
      // The process dies here: no ACK, no checkpoint.
    }
    transport.sent.clear();
    try (FileLocalState local = FileLocalState.open(dir)) {
      assertThat(local.replicaId()).isEqualTo(me);
      DocumentState doc = new DocumentState("d", me, local, clock, callbacks);
      assertThat(doc.pendingChanges()).isEqualTo(2 * edits);
      var flushed = doc.flush();
      ClientSession session = session(local);
      session.open(doc);
      session.start();
      scheduler.advanceMillis(1);
      handshake(session, server.versionVector());
      List<Update> resent = transport.drain(Update.class);
      assertThat(resent).hasSize(1);
      assertThat(server.checkOwnDelta(me, resent.get(0).delta()).verdict())
          .isEqualTo(dev.lattice.crdt.OwnDeltaCheck.Verdict.DUPLICATE);
      server.merge(resent.get(0).delta());
      session.onMessage(
          gen(), new dev.lattice.protocol.Ack(resent.get(0).requestId().getAsLong(), "d"));
      assertThat(flushed).isCompleted();
      assertThat(server.counterValue("a")).isEqualTo(edits);
      assertThat(server.counterValue("b")).isEqualTo(-edits);
      assertThat(doc.counterValue("a")).isEqualTo(edits);
    }
  }

  /**
   * A re-issued edit retracts what the retired id had observed, no more: a set's removal, an
   * MV-Register's write, a removal inside a map's nested set and a removal of a map key leave alone
   * what a third replica added concurrently, which the client received only before the re-issue
   * (found by the simulation: the re-issue made the removal again against the client's current
   * state, and so removed an add it had never seen).
   */
  @Test
  void aReissuedEditRetractsOnlyWhatTheRetiredIdHadObserved() {
    ReplicaId other = ReplicaId.of(5);
    ReplicaId third = ReplicaId.of(6);
    CrdtKind<GCounter> counter = CrdtKind.of(GCounter.class);
    CrdtKind<ORSet> set = CrdtKind.of(ORSet.class);
    Value x = Value.of("x");
    Document seeded = Document.create("d");
    seeded.addToSet(other, "tags", x);
    seeded.writeMVRegister(other, "status", Value.of("open"));
    seeded.mutateAt(other, "m", List.of("tags"), set, (t, dot) -> t.add(dot, x));
    seeded.mutateAt(other, "m", List.of("k"), counter, (g, dot) -> g.increment(other, 1));
    MemoryLocalState local = new MemoryLocalState(ME);
    local.checkpoint("d", seeded, java.util.Set.of());
    DocumentState doc = new DocumentState("d", ME, local, clock, callbacks);
    doc.edit("tags", d -> d.removeFromSet(ME, "tags", x));
    doc.edit("status", d -> d.writeMVRegister(ME, "status", Value.of("closed")));
    doc.edit("m", d -> d.mutateAt(ME, "m", List.of("tags"), set, (t, dot) -> t.remove(dot, x)));
    doc.edit("m", d -> d.removeFromMap(ME, "m", "k"));
    // What a third replica did meanwhile, unseen by those edits.
    Document thirds = seeded.copy();
    DocumentDelta concurrent =
        thirds
            .addToSet(third, "tags", x)
            .join(thirds.writeMVRegister(third, "status", Value.of("review")))
            .join(thirds.mutateAt(third, "m", List.of("tags"), set, (t, dot) -> t.add(dot, x)))
            .join(
                thirds.mutateAt(
                    third, "m", List.of("k"), counter, (g, dot) -> g.increment(third, 1)));
    VersionVector held = thirds.versionVector();

    ClientSession session = session(local);
    session.open(doc);
    session.start();
    session.onOpen(gen());
    transport.drain(Hello.class);
    session.onMessage(gen(), Welcome.of(1, SERVER, HlcTimestamp.of(1, 0), limits(), "s"));
    Subscribe subscribe = transport.drain(Subscribe.class).get(0);
    session.onMessage(gen(), new Sync(subscribe.requestId(), "d", concurrent, held));
    // The server will not take the UPDATE as this replica's (as when its context names an earlier
    // id's dots not delivered yet): the id is retired and the edits made again.
    Update first = transport.drain(Update.class).get(0);
    session.onMessage(
        gen(),
        new ErrorMessage(
            OptionalLong.of(first.requestId().getAsLong()),
            ErrorCode.REPLICA_MISMATCH.code(),
            "not yours"));
    ReplicaId fresh = local.replicaId();
    assertThat(fresh).isNotEqualTo(ME);

    scheduler.advanceMillis(2_000);
    handshake(session, held);
    Document server = thirds.copy();
    acceptUpdates(session, server, fresh);
    assertThat(((ORSet) server.field("tags").orElseThrow().state()).elements()).containsExactly(x);
    assertThat(
            ((dev.lattice.crdt.MVRegister) server.field("status").orElseThrow().state()).values())
        .containsExactly(Value.of("closed"), Value.of("review"));
    assertThat(server.stateAt("m", List.of("tags"), set).map(ORSet::elements).orElseThrow())
        .containsExactly(x);
    assertThat(server.stateAt("m", List.of("k"), counter).map(GCounter::value)).contains(1L);
    assertThat(doc.pendingChanges()).isZero();
  }

  /**
   * Two earlier processes' edits wait, the older's in the second document only: the newer's edit
   * there observed the older's, so the newer id's connection must wait until the older's edits are
   * delivered, even though the first document names the newer id first. Otherwise the server
   * refuses that edit with REPLICA_MISMATCH and it is made again under the current id for nothing.
   */
  @Test
  void anEarlierIdWhoseEditsAnotherEarlierIdObservedIsBoundFirst() {
    ReplicaId older = ReplicaId.of(5);
    ReplicaId newer = ReplicaId.of(6);
    Value x = Value.of("x");
    MemoryLocalState local = new MemoryLocalState(ME);
    DocumentState first = new DocumentState("a", newer, local, clock, callbacks);
    first.edit("n", d -> d.incrementGCounter(newer, "n", 1));
    DocumentState second = new DocumentState("b", older, local, clock, callbacks);
    second.edit("tags", d -> d.addToSet(older, "tags", x));
    second.adopt(newer);
    second.edit("tags", d -> d.removeFromSet(newer, "tags", x));
    ClientSession session = session(local);
    session.open(first);
    session.open(second);
    session.start();

    Map<String, Document> server = Map.of("a", Document.create("a"), "b", Document.create("b"));
    List<ReplicaId> bindings = new java.util.ArrayList<>();
    List<String> refusals = new java.util.ArrayList<>();
    for (int connection = 0;
        connection < 6 && first.pendingChanges() + second.pendingChanges() > 0;
        connection++) {
      if (connection > 0) {
        scheduler.advanceMillis(2_000);
      }
      long gen = gen();
      session.onOpen(gen);
      ReplicaId bound = null;
      boolean progress = true;
      while (progress) {
        List<dev.lattice.protocol.Message> sent = new java.util.ArrayList<>(transport.sent);
        transport.sent.clear();
        progress = !sent.isEmpty();
        for (dev.lattice.protocol.Message message : sent) {
          if (message instanceof Hello hello) {
            bound = hello.replicaId();
            bindings.add(bound);
            session.onMessage(gen, Welcome.of(1, SERVER, HlcTimestamp.of(1, 0), limits(), "s"));
          } else if (message instanceof Subscribe subscribe) {
            Document doc = server.get(subscribe.documentId());
            session.onMessage(
                gen,
                new Sync(
                    subscribe.requestId(),
                    subscribe.documentId(),
                    DocumentDelta.empty(),
                    doc.versionVector()));
          } else if (message instanceof Update update) {
            Document doc = server.get(update.documentId());
            var check = doc.checkOwnDelta(bound, update.delta());
            long requestId = update.requestId().getAsLong();
            if (check.verdict().accepted()) {
              doc.merge(update.delta());
              session.onMessage(gen, new dev.lattice.protocol.Ack(requestId, update.documentId()));
            } else {
              refusals.add(check.reason());
              session.onMessage(
                  gen,
                  new ErrorMessage(
                      OptionalLong.of(requestId),
                      ErrorCode.REPLICA_MISMATCH.code(),
                      check.reason()));
            }
          }
        }
      }
    }

    assertThat(refusals).isEmpty();
    assertThat(bindings).containsExactly(older, newer);
    assertThat(local.replicaId()).isEqualTo(ME);
    assertThat(first.pendingChanges() + second.pendingChanges()).isZero();
    assertThat(server.get("b").versionVector())
        .isEqualTo(VersionVector.of(Map.of(older, 1L, newer, 1L)));
    assertThat(((ORSet) server.get("b").field("tags").orElseThrow().state()).elements()).isEmpty();
    assertThat(server.get("a").counterValue("n")).isEqualTo(1);
  }

  /**
   * A document opened on a connection bound to an earlier id, holding an older id's edits before
   * that id's: the connection ends, and the next is bound to the older id.
   */
  @Test
  void aDocumentOpenedWithAnOlderIdsEditsBeforeTheBoundIdsRebinds() {
    ReplicaId older = ReplicaId.of(5);
    ReplicaId newer = ReplicaId.of(6);
    Value x = Value.of("x");
    MemoryLocalState local = new MemoryLocalState(ME);
    DocumentState first = new DocumentState("a", newer, local, clock, callbacks);
    first.edit("n", d -> d.incrementGCounter(newer, "n", 1));
    DocumentState second = new DocumentState("b", older, local, clock, callbacks);
    second.edit("tags", d -> d.addToSet(older, "tags", x));
    second.adopt(newer);
    second.edit("tags", d -> d.removeFromSet(newer, "tags", x));
    ClientSession session = session(local);
    session.open(first);
    session.start();
    session.onOpen(gen());
    assertThat(transport.drain(Hello.class).get(0).replicaId()).isEqualTo(newer);
    session.onMessage(gen(), Welcome.of(1, SERVER, HlcTimestamp.of(1, 0), limits(), "s"));
    transport.drain(Subscribe.class);

    session.open(second);
    assertThat(transport.closes).containsExactly(CloseCodes.GOING_AWAY);
    assertThat(transport.drain(Update.class)).isEmpty();
    scheduler.advanceMillis(2_000);
    session.onOpen(gen());
    assertThat(transport.drain(Hello.class).get(0).replicaId()).isEqualTo(older);
  }
}

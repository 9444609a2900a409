package dev.lattice.properties.document;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.DotRange;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.FieldTypeMismatchException;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.hlc.HlcTimestamp;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.properties.gen.DocumentHistories;
import dev.lattice.properties.gen.ValueArbitraries;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.state.Action;
import net.jqwik.api.state.ActionChain;
import net.jqwik.api.state.Transformer;

/**
 * A stateful test of one {@link Document} (replica {@code L}) against a simple model, as a jqwik
 * action chain. Two remote replicas write too; their deltas queue up and reach {@code L} in any
 * order, any number of times, or not at all, and {@code L} also catches up by anti-entropy.
 *
 * <p>The model knows every mutation ever made (its dot, its field, the writer's running totals, or
 * the register write) and which dots {@code L} has received. From that alone it predicts every
 * counter and register of {@code L} and its exact context; the prediction is checked after every
 * step. Step labels read like a story, so a shrunk failure tells what happened.
 */
class DocumentModelProperties {

  private static final List<String> FIELDS = new ArrayList<>(DocumentHistories.FIELDS.keySet());

  @Property
  void documentMatchesTheModelAfterEveryStep(@ForAll("chains") ActionChain<World> chain) {
    chain.withInvariant("document matches model", World::checkAgainstModel).run();
  }

  @Provide
  Arbitrary<ActionChain<World>> chains() {
    return ActionChain.startWith(World::new)
        .withAction(3, new LocalWrite())
        .withAction(3, new RemoteWrite())
        .withAction(3, new Deliver())
        .withAction(
            1,
            Action.just(Transformer.mutate("L catches up from r1 and r2", World::pullFromRemotes)))
        .withAction(
            1, Action.just(Transformer.mutate("r1 and r2 catch up from L", World::pushToRemotes)))
        .withAction(1, new WrongTypeWrite())
        .withAction(1, new ClockStep())
        .withMaxTransformations(40);
  }

  // ---------------------------------------------------------------- actions

  static Arbitrary<Long> amounts() {
    return Arbitraries.longs().between(-5, 5).filter(a -> a != 0);
  }

  /** A write by L; for a register, L's register shows the new value at once. */
  static final class LocalWrite implements Action.Independent<World> {
    @Override
    public Arbitrary<Transformer<World>> transformer() {
      return Combinators.combine(Arbitraries.of(FIELDS), amounts(), ValueArbitraries.smallValues())
          .as(
              (field, amount, value) ->
                  Transformer.mutate(
                      "L " + describe(field, amount, value),
                      w -> w.write(0, field, amount, value)));
    }
  }

  /** A write by r1 or r2; its delta joins the queue. */
  static final class RemoteWrite implements Action.Independent<World> {
    @Override
    public Arbitrary<Transformer<World>> transformer() {
      return Combinators.combine(
              Arbitraries.integers().between(1, 2),
              Arbitraries.of(FIELDS),
              amounts(),
              ValueArbitraries.smallValues())
          .as(
              (replica, field, amount, value) ->
                  Transformer.mutate(
                      "r" + replica + " " + describe(field, amount, value),
                      w -> w.write(replica, field, amount, value)));
    }
  }

  /** One queued remote delta reaches L; it stays queued, so it may arrive again. */
  static final class Deliver implements Action.Dependent<World> {
    @Override
    public boolean precondition(World w) {
      return !w.queue.isEmpty();
    }

    @Override
    public Arbitrary<Transformer<World>> transformer(World w) {
      return Arbitraries.integers()
          .between(0, w.queue.size() - 1)
          .map(
              i ->
                  Transformer.mutate(
                      "deliver " + w.queue.get(i).dot() + " to L", world -> world.deliver(i)));
    }
  }

  /** L writes a field with the wrong type: refused, and L is unchanged. */
  static final class WrongTypeWrite implements Action.Independent<World> {
    @Override
    public Arbitrary<Transformer<World>> transformer() {
      return Combinators.combine(Arbitraries.of(FIELDS), Arbitraries.of(CrdtType.class))
          .filter((field, type) -> DocumentHistories.FIELDS.get(field) != type)
          .as(
              (field, type) ->
                  Transformer.mutate(
                      "L writes " + field + " as a " + type + " (refused)",
                      w -> w.wrongTypeWrite(field, type)));
    }
  }

  /** L's physical clock jumps forward or backward. */
  static final class ClockStep implements Action.Independent<World> {
    @Override
    public Arbitrary<Transformer<World>> transformer() {
      return Arbitraries.longs()
          .between(-50, 50)
          .map(ms -> Transformer.mutate("L's clock moves " + ms + " ms", w -> w.clockStep(ms)));
    }
  }

  static String describe(String field, long amount, Value value) {
    return switch (DocumentHistories.FIELDS.get(field)) {
      case G_COUNTER -> field + " += " + Math.abs(amount);
      case PN_COUNTER -> field + " += " + amount;
      case LWW_REGISTER -> field + " := " + value;
      default -> throw new IllegalStateException("FIELDS has no " + field);
    };
  }

  // ---------------------------------------------------------------- system and model

  /** What one mutation did, as the model records it from the operation alone. */
  record Effect(
      Dot dot,
      String field,
      long gTotal,
      long pnIncrements,
      long pnDecrements,
      HlcTimestamp ts,
      ReplicaId writer,
      Value value) {}

  /** The replicas under test and the model. */
  static final class World {
    final List<Document> docs = new ArrayList<>();
    final List<HybridLogicalClock> clocks = new ArrayList<>();
    final List<AtomicLong> physical = new ArrayList<>();

    /** Queued deltas of r1 and r2, with the effect of each. */
    final List<Effect> queue = new ArrayList<>();

    final Map<Effect, DocumentDelta> deltas = new HashMap<>();

    // The model.
    final Map<Dot, Effect> effects = new HashMap<>();
    final List<Set<Dot>> held = List.of(new HashSet<>(), new HashSet<>(), new HashSet<>());
    final Map<String, Long> gTotals = new HashMap<>();
    final Map<String, Long> incTotals = new HashMap<>();
    final Map<String, Long> decTotals = new HashMap<>();

    World() {
      for (int i = 0; i < 3; i++) {
        docs.add(Document.create(DocumentHistories.DOC_ID));
        AtomicLong pt = new AtomicLong(1_700_000_000_000L + 7 * i);
        physical.add(pt);
        clocks.add(new HybridLogicalClock(pt::get, Duration.ofSeconds(10)));
      }
    }

    static ReplicaId id(int replica) {
      return DocumentHistories.replica(replica);
    }

    void write(int replica, String field, long amount, Value value) {
      Document doc = docs.get(replica);
      ReplicaId writer = id(replica);
      String key = replica + "/" + field;
      Dot dot = new Dot(writer, doc.nextSequence(writer));
      Effect effect;
      DocumentDelta delta;
      switch (DocumentHistories.FIELDS.get(field)) {
        case G_COUNTER -> {
          long total = gTotals.merge(key, Math.abs(amount), Long::sum);
          delta = doc.incrementGCounter(writer, field, Math.abs(amount));
          effect = new Effect(dot, field, total, 0, 0, null, writer, null);
        }
        case PN_COUNTER -> {
          long inc = amount > 0 ? incTotals.merge(key, amount, Long::sum) : 0;
          long dec = amount < 0 ? decTotals.merge(key, -amount, Long::sum) : 0;
          delta = doc.addPNCounter(writer, field, amount);
          effect = new Effect(dot, field, 0, inc, dec, null, writer, null);
        }
        default -> {
          HlcTimestamp ts = clocks.get(replica).now();
          delta = doc.setRegister(writer, field, value, ts);
          effect = new Effect(dot, field, 0, 0, 0, ts, writer, value);
          // A local write wins over everything the replica has seen: it shows at once.
          assertThat(doc.registerValue(field)).as("own write to %s shows", field).contains(value);
        }
      }
      assertThat(delta.context().singleDot()).contains(dot);
      effects.put(dot, effect);
      held.get(replica).add(dot);
      deltas.put(effect, delta);
      if (replica != 0) {
        queue.add(effect);
      }
    }

    void deliver(int index) {
      Effect effect = queue.get(index);
      merge(0, deltas.get(effect));
      held.get(0).add(effect.dot());
    }

    void pullFromRemotes() {
      for (int r = 1; r <= 2; r++) {
        merge(0, docs.get(r).deltaSince(docs.get(0).versionVector()));
        held.get(0).addAll(held.get(r));
      }
    }

    void pushToRemotes() {
      for (int r = 1; r <= 2; r++) {
        merge(r, docs.get(0).deltaSince(docs.get(r).versionVector()));
        held.get(r).addAll(held.get(0));
      }
    }

    private void merge(int replica, DocumentDelta delta) {
      docs.get(replica).merge(delta);
      delta.maxTimestamp().ifPresent(ts -> clocks.get(replica).update(ts));
    }

    void wrongTypeWrite(String field, CrdtType type) {
      Document doc = docs.get(0);
      Document before = doc.copy();
      boolean exists = doc.typeOf(field).isPresent();
      Runnable attempt =
          () -> {
            switch (type) {
              case G_COUNTER -> doc.incrementGCounter(id(0), field, 1);
              case PN_COUNTER -> doc.addPNCounter(id(0), field, 1);
              case LWW_REGISTER ->
                  doc.setRegister(id(0), field, Value.of("wrong"), clocks.get(0).now());
              case OR_SET -> doc.addToSet(id(0), field, Value.of("wrong"));
              case MV_REGISTER -> doc.writeMVRegister(id(0), field, Value.of("wrong"));
              case OR_MAP -> doc.removeFromMap(id(0), field, "wrong");
            }
          };
      if (exists) {
        assertThatThrownBy(attempt::run).isInstanceOf(FieldTypeMismatchException.class);
        assertThat(doc).isEqualTo(before);
      }
      // On a field that does not exist yet the write would succeed and fix the wrong type; the
      // model never does that, so it only tries existing fields.
    }

    void clockStep(long ms) {
      physical.get(0).addAndGet(ms);
    }

    /** Checks L against the model: context, every counter, every register, types. */
    void checkAgainstModel() {
      Document doc = docs.get(0);
      Set<Dot> got = held.get(0);
      List<DotRange> ranges = new ArrayList<>();
      got.forEach(d -> ranges.add(new DotRange(d.replica(), d.sequence(), d.sequence())));
      assertThat(doc.context()).as("context of L").isEqualTo(DotSet.of(ranges));
      assertThat(doc.versionVector()).isEqualTo(DotSet.of(ranges).versionVector());
      for (String field : FIELDS) {
        List<Effect> seen =
            got.stream().map(effects::get).filter(e -> e.field().equals(field)).toList();
        CrdtType type = DocumentHistories.FIELDS.get(field);
        if (seen.isEmpty()) {
          assertThat(doc.typeOf(field)).as("type of untouched %s", field).isEmpty();
          continue;
        }
        assertThat(doc.typeOf(field)).contains(type);
        switch (type) {
          case G_COUNTER ->
              assertThat(doc.counterValue(field))
                  .as("G-Counter %s", field)
                  .isEqualTo(sumOfMaxima(seen, Effect::gTotal));
          case PN_COUNTER ->
              assertThat(doc.counterValue(field))
                  .as("PN-Counter %s", field)
                  .isEqualTo(
                      sumOfMaxima(seen, Effect::pnIncrements)
                          - sumOfMaxima(seen, Effect::pnDecrements));
          case LWW_REGISTER -> {
            Optional<Effect> winner =
                seen.stream()
                    .max(
                        Comparator.comparing(Effect::ts)
                            .thenComparing(Effect::writer)
                            .thenComparing(Effect::value));
            assertThat(doc.registerValue(field))
                .as("register %s", field)
                .isEqualTo(winner.map(Effect::value));
          }
        }
      }
    }

    /** Per writer the largest running total among the effects seen, summed over writers. */
    private static long sumOfMaxima(
        List<Effect> seen, java.util.function.ToLongFunction<Effect> total) {
      Map<ReplicaId, Long> max = new HashMap<>();
      for (Effect e : seen) {
        max.merge(e.writer(), total.applyAsLong(e), Math::max);
      }
      return max.values().stream().mapToLong(Long::longValue).sum();
    }

    @Override
    public String toString() {
      return "L = " + docs.get(0);
    }
  }
}

package dev.lattice.properties.gen;

import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HlcTimestamp;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Tuple;

/**
 * Histories of a few replicas of one document: local writes to fields of a fixed type, and syncs
 * between replicas (catch-up deltas for a version vector, full states, or single mutation deltas
 * delivered out of order). Replaying a history gives the replicas' documents and every delta that
 * was produced, so document and delta properties run on states that real mutations reach.
 *
 * <p>Field names have fixed types ({@link #FIELDS}), so no generated delta conflicts with another.
 * Each replica stamps its writes with a timestamp above every timestamp it has seen, like a hybrid
 * logical clock would, but from a tiny domain so that concurrent writes often carry equal ones.
 */
public final class DocumentHistories {

  /** The document id every replica shares. */
  public static final String DOC_ID = "doc";

  /** The fields and their fixed types. */
  public static final Map<String, CrdtType> FIELDS = fields();

  private DocumentHistories() {}

  private static Map<String, CrdtType> fields() {
    Map<String, CrdtType> map = new LinkedHashMap<>();
    map.put("clicks", CrdtType.G_COUNTER);
    map.put("likes", CrdtType.G_COUNTER);
    map.put("balance", CrdtType.PN_COUNTER);
    map.put("stock", CrdtType.PN_COUNTER);
    map.put("title", CrdtType.LWW_REGISTER);
    map.put("owner", CrdtType.LWW_REGISTER);
    return Collections.unmodifiableMap(map);
  }

  /** The replica id of replica number {@code index}. */
  public static ReplicaId replica(int index) {
    return CrdtArbitraries.REPLICAS.get(index);
  }

  /** One step of a history. */
  public sealed interface Step permits Write, Sync {}

  /**
   * A local write by replica {@code replica}. What it does depends on the field's type: add {@code
   * amount} (its absolute value for a G-Counter), or set {@code value} at a timestamp whose
   * physical part is at least {@code physical}.
   */
  public record Write(int replica, String field, long amount, Value value, int physical)
      implements Step {
    @Override
    public String toString() {
      return switch (FIELDS.get(field)) {
        case G_COUNTER -> "r" + replica + " " + field + " += " + Math.abs(amount);
        case PN_COUNTER -> "r" + replica + " " + field + " += " + amount;
        case LWW_REGISTER -> "r" + replica + " " + field + " := " + value + " @>=" + physical;
        default -> throw new IllegalStateException("FIELDS has no " + FIELDS.get(field));
      };
    }
  }

  /** How a sync step moves state. */
  public enum SyncMode {
    /** {@code to} sends its version vector, {@code from} answers with what it lacks. */
    DELTA_SINCE_VECTOR,
    /** {@code from} sends everything it holds. */
    FULL_STATE,
    /** One mutation delta made earlier by anyone (number {@code pick}) reaches {@code to}. */
    ONE_DELTA
  }

  /** A sync step. */
  public record Sync(int from, int to, SyncMode mode, int pick) implements Step {
    @Override
    public String toString() {
      return switch (mode) {
        case DELTA_SINCE_VECTOR -> "r" + to + " <- r" + from + ".deltaSince(r" + to + ".vv)";
        case FULL_STATE -> "r" + to + " <- r" + from + ".deltaSince(empty)";
        case ONE_DELTA -> "r" + to + " <- mutation delta #" + pick;
      };
    }
  }

  /** A history: the number of replicas and the steps, replica numbers taken modulo the count. */
  public record History(int replicaCount, List<Step> steps) {
    /** Runs the history from empty documents. */
    public Replay replay() {
      return new Replay(this);
    }

    @Override
    public String toString() {
      return replicaCount + " replicas " + steps;
    }
  }

  /** The outcome of a history. */
  public static final class Replay {
    /** Each replica's document at the end. */
    public final List<Document> docs = new ArrayList<>();

    /** Every delta a local write produced, in order. */
    public final List<DocumentDelta> mutationDeltas = new ArrayList<>();

    /** Every delta produced: mutation deltas and sync deltas. */
    public final List<DocumentDelta> allDeltas = new ArrayList<>();

    private final List<HlcTimestamp> clocks = new ArrayList<>();

    Replay(History history) {
      for (int i = 0; i < history.replicaCount(); i++) {
        docs.add(Document.create(DOC_ID));
        clocks.add(HlcTimestamp.ZERO);
      }
      for (Step step : history.steps()) {
        if (step instanceof Write w) {
          write(w.replica() % docs.size(), w);
        } else if (step instanceof Sync s) {
          sync(s.from() % docs.size(), s.to() % docs.size(), s);
        }
      }
    }

    private void write(int r, Write w) {
      Document doc = docs.get(r);
      ReplicaId id = replica(r);
      DocumentDelta delta =
          switch (FIELDS.get(w.field())) {
            case G_COUNTER -> doc.incrementGCounter(id, w.field(), Math.abs(w.amount()));
            case PN_COUNTER -> doc.addPNCounter(id, w.field(), w.amount());
            case LWW_REGISTER -> doc.setRegister(id, w.field(), w.value(), tick(r, w.physical()));
            default -> throw new IllegalStateException("FIELDS has no " + FIELDS.get(w.field()));
          };
      mutationDeltas.add(delta);
      allDeltas.add(delta);
    }

    private HlcTimestamp tick(int r, int physical) {
      HlcTimestamp candidate = HlcTimestamp.of(physical, 0);
      HlcTimestamp last = clocks.get(r);
      HlcTimestamp next = candidate.isAfter(last) ? candidate : last.successor();
      clocks.set(r, next);
      return next;
    }

    private void sync(int from, int to, Sync s) {
      DocumentDelta delta =
          switch (s.mode()) {
            case DELTA_SINCE_VECTOR -> docs.get(from).deltaSince(docs.get(to).versionVector());
            case FULL_STATE -> docs.get(from).deltaSince(VersionVector.empty());
            case ONE_DELTA ->
                mutationDeltas.isEmpty()
                    ? DocumentDelta.empty()
                    : mutationDeltas.get(s.pick() % mutationDeltas.size());
          };
      if (s.mode() != SyncMode.ONE_DELTA) {
        allDeltas.add(delta);
      }
      docs.get(to).merge(delta);
      delta
          .maxTimestamp()
          .ifPresent(
              ts -> {
                if (ts.isAfter(clocks.get(to))) {
                  clocks.set(to, ts);
                }
              });
    }
  }

  /** Field names. */
  public static Arbitrary<String> fieldNames() {
    return Arbitraries.of(new ArrayList<>(FIELDS.keySet()));
  }

  /** Steps of a history; counter amounts are never zero unless {@code zeroAmounts}. */
  public static Arbitrary<Step> steps(boolean zeroAmounts) {
    Arbitrary<Integer> replica = Arbitraries.integers().between(0, 3);
    Arbitrary<Long> amounts = Arbitraries.longs().between(-5, 5);
    Arbitrary<Step> write =
        Combinators.combine(
                replica,
                fieldNames(),
                zeroAmounts ? amounts : amounts.filter(a -> a != 0),
                ValueArbitraries.smallValues(),
                Arbitraries.integers().between(0, 4))
            .as(Write::new);
    Arbitrary<Step> sync =
        Combinators.combine(
                replica,
                replica,
                Arbitraries.of(SyncMode.class),
                Arbitraries.integers().between(0, 30))
            .as(Sync::new);
    return Arbitraries.frequencyOf(Tuple.of(3, write), Tuple.of(2, sync));
  }

  /**
   * Histories of two to four replicas and up to {@code maxSteps} steps; counter amounts are never
   * zero unless {@code zeroAmounts}.
   */
  public static Arbitrary<History> histories(int maxSteps, boolean zeroAmounts) {
    return Combinators.combine(
            Arbitraries.integers().between(2, 4), steps(zeroAmounts).list().ofMaxSize(maxSteps))
        .as(History::new);
  }

  /** Histories of two to four replicas and up to 24 steps, without zero counter amounts. */
  public static Arbitrary<History> histories() {
    return histories(24, false);
  }
}

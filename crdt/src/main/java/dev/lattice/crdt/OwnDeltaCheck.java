package dev.lattice.crdt;

import java.util.Map;
import java.util.Objects;

/**
 * What a document makes of a delta that one replica sends as its own: whether every dot and every
 * contribution in it belongs to that replica, and whether its dots continue what the document holds
 * of that replica. A server asks this before it merges a client's update, so that no connection can
 * write in another replica's name and no replica id can silently name two histories.
 *
 * <p>The rules, against the dots {@code H} the document holds of replica {@code r}:
 *
 * <ul>
 *   <li>Every dot of the delta's context, every entry of every field's {@code touched} vector and
 *       every contribution of every field state is {@code r}'s, and every field was touched by
 *       {@code r}: else {@link Verdict#FOREIGN}.
 *   <li>Either all of the delta's dots are in {@code H} (a resend) or none is (new edits): a mix is
 *       {@link Verdict#OUT_OF_ORDER}.
 *   <li>New dots form one range that starts at most one above the greatest dot of {@code H}: else
 *       {@link Verdict#OUT_OF_ORDER} (a gap).
 *   <li>A resend must carry what the document holds for those dots. Where a field's latest dot by
 *       {@code r} in the delta is also the document's, {@code r}'s contribution must be equal;
 *       where the document holds a later one, or another writer's register value hides {@code r}'s,
 *       the resend must change nothing. A held dot that touched another field, or any difference,
 *       is {@link Verdict#REUSED}: the replica id was used for two different histories.
 * </ul>
 *
 * <p>A resend of a dot that is no longer its field's latest can only be checked for not changing
 * the field: the document keeps each replica's latest contribution per field, not every past one.
 *
 * <p>Immutable and thread-safe (the check reads the document, which the caller must confine).
 *
 * @param verdict what the delta is
 * @param reason for a refusal, a sentence for the sender; empty otherwise
 */
public record OwnDeltaCheck(Verdict verdict, String reason) {

  /** The outcome of {@link Document#checkOwnDelta}. */
  public enum Verdict {
    /** Only new dots of the replica, continuing those held: merge it. */
    NEW,
    /** Only dots already held, with the content held: an idempotent resend. */
    DUPLICATE,
    /** Dots or contributions of another replica. */
    FOREIGN,
    /** A dot held with different content: the replica id names two histories. */
    REUSED,
    /** New dots after a gap, or held and new dots mixed. */
    OUT_OF_ORDER;

    /** Whether the delta may be merged (new or an identical resend). */
    public boolean accepted() {
      return this == NEW || this == DUPLICATE;
    }
  }

  public OwnDeltaCheck {
    Objects.requireNonNull(verdict, "verdict");
    Objects.requireNonNull(reason, "reason");
  }

  static OwnDeltaCheck check(
      Map<ReplicaId, SeqRanges> held,
      Map<String, FieldState> docFields,
      ReplicaId replica,
      DocumentDelta delta) {
    Map<ReplicaId, SeqRanges> dots = delta.context().byReplica();
    for (ReplicaId other : dots.keySet()) {
      if (!other.equals(replica)) {
        return new OwnDeltaCheck(
            Verdict.FOREIGN, "the update carries dots of replica " + other + ", not " + replica);
      }
    }
    for (Map.Entry<String, FieldState> e : delta.fields().entrySet()) {
      FieldState field = e.getValue();
      if (field.touched().size() != 1 || field.touched().get(replica) == 0) {
        return new OwnDeltaCheck(
            Verdict.FOREIGN,
            "field '"
                + e.getKey()
                + "' is not touched by "
                + replica
                + " alone: "
                + field.touched());
      }
      if (field.state() instanceof CausalCrdt<?> causal) {
        // A remove carries the dots it observed, other replicas' included: allowed, but only dots
        // the server holds (a client learns other replicas' dots from the server alone), so no
        // delta can retract another replica's future entries.
        if (!causal.liveOnlyFrom(replica)) {
          return new OwnDeltaCheck(
              Verdict.FOREIGN,
              "field '" + e.getKey() + "' holds entries of replicas other than " + replica);
        }
        DotRange unheld = unheldObserved(causal, replica, held);
        if (unheld != null) {
          return new OwnDeltaCheck(
              Verdict.FOREIGN,
              "field '"
                  + e.getKey()
                  + "' claims to have observed dots of "
                  + unheld.replica()
                  + " the server does not hold: "
                  + unheld);
        }
      } else if (!field.state().contributionsOf(r -> !r.equals(replica)).isEmpty()) {
        return new OwnDeltaCheck(
            Verdict.FOREIGN,
            "field '" + e.getKey() + "' carries contributions of replicas other than " + replica);
      }
    }
    SeqRanges mine = dots.getOrDefault(replica, SeqRanges.EMPTY);
    SeqRanges heldSeqs = held.getOrDefault(replica, SeqRanges.EMPTY);
    if (mine.isEmpty() && delta.fields().isEmpty()) {
      return new OwnDeltaCheck(Verdict.DUPLICATE, "");
    }
    if (heldSeqs.containsAll(mine)) {
      return resend(docFields, replica, delta);
    }
    for (int i = 0; i < mine.rangeCount(); i++) {
      for (int k = 0; k < heldSeqs.rangeCount(); k++) {
        if (mine.first(i) <= heldSeqs.last(k) && heldSeqs.first(k) <= mine.last(i)) {
          return new OwnDeltaCheck(
              Verdict.OUT_OF_ORDER,
              "the update mixes sequences the server holds of "
                  + replica
                  + " with new ones; send the held and the new apart");
        }
      }
    }
    long next = heldSeqs.max() + 1;
    if (mine.rangeCount() != 1 || mine.first(0) > next) {
      return new OwnDeltaCheck(
          Verdict.OUT_OF_ORDER,
          "sequences of "
              + replica
              + " must continue from "
              + next
              + " without a gap; the update carries "
              + DotSet.ofRanges(Map.of(replica, mine)));
    }
    return new OwnDeltaCheck(Verdict.NEW, "");
  }

  private static OwnDeltaCheck resend(
      Map<String, FieldState> docFields, ReplicaId replica, DocumentDelta delta) {
    for (Map.Entry<String, FieldState> e : delta.fields().entrySet()) {
      String name = e.getKey();
      FieldState theirs = e.getValue();
      long seq = theirs.touched().get(replica);
      FieldState held = docFields.get(name);
      if (held == null || held.touched().get(replica) < seq) {
        return reused(replica, seq, "did not change field '" + name + "'");
      }
      if (held.type() != theirs.type()) {
        return reused(replica, seq, "changed field '" + name + "' as another type");
      }
      if (held.touched().get(replica) == seq
          && !sameLatest(held.state(), theirs.state(), replica)) {
        return reused(replica, seq, "gave field '" + name + "' other content");
      }
      if (!CrdtType.mergeStates(held.state(), theirs.state()).equals(held.state())) {
        return reused(replica, seq, "gave field '" + name + "' other content");
      }
    }
    return new OwnDeltaCheck(Verdict.DUPLICATE, "");
  }

  /**
   * Whether a resend of {@code replica}'s latest change of a field carries what the document holds
   * of {@code replica} there: every count it carries equals the held one (a PN-Counter delta
   * carries only the side the mutation changed), and a register write equals the held one unless
   * another writer's later write hides it.
   */
  private static boolean sameLatest(Crdt<?> held, Crdt<?> theirs, ReplicaId replica) {
    if (held instanceof GCounter h && theirs instanceof GCounter t) {
      return t.countOf(replica) == h.countOf(replica);
    }
    if (held instanceof PNCounter h && theirs instanceof PNCounter t) {
      long up = t.increments().countOf(replica);
      long down = t.decrements().countOf(replica);
      return (up == 0 || up == h.increments().countOf(replica))
          && (down == 0 || down == h.decrements().countOf(replica));
    }
    if (held instanceof CausalCrdt<?> && theirs instanceof CausalCrdt<?>) {
      // A causal resend changes nothing: each of its entries is held or was removed since, and
      // its context is seen. (Its context names other replicas' dots, so comparing this
      // replica's part, as below, would call every resend of a remove a reuse.)
      return mergeAny(held, theirs).equals(held);
    }
    Crdt<?> heldPart = held.contributionsOf(replica::equals);
    return heldPart.isEmpty() || theirs.isEmpty() || heldPart.equals(theirs);
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static Object mergeAny(Crdt held, Crdt theirs) {
    return held.merge(theirs);
  }

  private static OwnDeltaCheck reused(ReplicaId replica, long seq, String what) {
    return new OwnDeltaCheck(
        Verdict.REUSED,
        "the server holds "
            + replica
            + ":"
            + seq
            + ", which "
            + what
            + ": this replica id was used for another history (a restored state?); retire it");
  }

  /**
   * A range of another replica's dots that {@code state}'s context, or a nested state's context in
   * a map entry, names and the server does not hold; null if none. Nested contexts count because a
   * map entry's nested removal retracts nested entries of other writers just as a top-level one
   * does.
   */
  private static DotRange unheldObserved(
      CausalCrdt<?> state, ReplicaId replica, Map<ReplicaId, SeqRanges> held) {
    for (DotRange range : state.context().ranges()) {
      if (!range.replica().equals(replica)
          && !held.getOrDefault(range.replica(), SeqRanges.EMPTY)
              .containsAll(SeqRanges.of(range.first(), range.last()))) {
        return range;
      }
    }
    if (state instanceof ORMap map) {
      for (Map.Entry<String, Crdt<?>> entry : map.entries().values()) {
        if (entry.getValue() instanceof CausalCrdt<?> nested) {
          DotRange unheld = unheldObserved(nested, replica, held);
          if (unheld != null) {
            return unheld;
          }
        }
      }
    }
    return null;
  }
}

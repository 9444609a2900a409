package dev.lattice.crdt;

/**
 * A causal CRDT (Almeida, Shoker, Baquero, "Delta State Replicated Data Types", §6-7): its state is
 * a dot store, each live entry tagged with the dot of the mutation that made it, plus a causal
 * context, the exact set of dots whose effects the state has seen. A delta carries the context it
 * observed, so a remove retracts exactly the entries its writer had seen: a dot in a context
 * without an entry was removed and never comes back, and an entry whose dot a remove had not seen
 * survives it (add-wins).
 *
 * <p><b>Delivery.</b> The paper needs causal delivery of deltas where contexts are compressed to
 * version vectors. Lattice keeps contexts as exact dot sets, gaps allowed, so every causal type's
 * join stays a true lattice join: deltas may be merged in any order, any number of times, and give
 * the state of their join, which is what the property suite checks. No type here needs causal
 * delivery; a receiver may buffer nothing and merge as deltas arrive.
 *
 * <p>Mutators take the mutation's dot, which must be fresh (never used by its replica before; a
 * {@link Document} hands out its next dot); convenience overloads taking a replica use the next
 * sequence after the state's own context.
 *
 * <p>Implementations are immutable values and therefore thread-safe.
 *
 * @param <T> the implementing type
 */
public interface CausalCrdt<T extends CausalCrdt<T>> extends Crdt<T> {

  /** The dots whose effects this state has seen, live or removed. */
  DotSet context();

  /**
   * Whether every live entry was made by {@code replica} (nested states included, for a map): what
   * a delta of one replica's own mutations holds. Its {@link #context()} may still name other
   * replicas' dots, those a remove observed.
   */
  boolean liveOnlyFrom(ReplicaId replica);

  /** The next dot of {@code replica} after every dot of it in {@link #context()}. */
  default Dot nextDot(ReplicaId replica) {
    return new Dot(replica, context().maxSequence(replica) + 1);
  }
}

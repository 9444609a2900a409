package dev.lattice.crdt;

import java.util.function.Predicate;

/**
 * A state-based CRDT whose states form a join-semilattice, with delta-mutators (Almeida, Shoker,
 * Baquero, "Delta State Replicated Data Types").
 *
 * <p>Every implementation is an immutable value, equal by state, and keeps these laws, which the
 * property suite checks for each type:
 *
 * <ul>
 *   <li>{@link #merge} is commutative: {@code a.merge(b).equals(b.merge(a))};
 *   <li>associative: {@code a.merge(b).merge(c).equals(a.merge(b.merge(c)))};
 *   <li>idempotent: {@code a.merge(a).equals(a)};
 *   <li>the empty state is the identity: {@code a.merge(empty).equals(a)};
 *   <li>every delta-mutator returns a {@link Mutation} whose delta, merged into the old state,
 *       gives the new state, and the new state is an inflation of the old: {@code
 *       old.merge(state).equals(state)};
 *   <li>{@link #contributionsOf} of all replicas is the state itself, of none is empty.
 * </ul>
 *
 * <p>Because of these laws, deltas may be merged in any order, any number of times. Types never
 * touch bytes: codecs live in {@code dev.lattice.crdt.codec}.
 *
 * <p>Implementations are immutable values and therefore thread-safe.
 *
 * @param <T> the implementing type
 */
public interface Crdt<T extends Crdt<T>> {

  /** The least upper bound of this state and {@code other}. */
  T merge(T other);

  /** Whether this is the empty (bottom) state of its type. */
  boolean isEmpty();

  /**
   * The part of this state that the given replicas' mutations produced. Joining the parts for a set
   * of replicas that covers every writer gives back this state. Used to send a peer exactly what it
   * lacks.
   */
  T contributionsOf(Predicate<ReplicaId> replicas);

  /** The declared type of this state. */
  CrdtType type();
}

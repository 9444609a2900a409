package dev.lattice.protocol;

import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.LWWRegister;
import dev.lattice.crdt.PNCounter;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HlcTimestamp;
import java.util.Map;
import java.util.Optional;

/**
 * UPDATE_OWN, client to server, protocol version 2 on: the compact form of the commonest UPDATE, a
 * single mutation (one counter increment, one register write) of one field by the connection's own
 * replica. On the wire {@code [12, requestId, alias, seq, field, fieldType, state]}: the tag-8
 * compact delta of docs/ENCODING.md §5 without its header and without its replica, in a message
 * that names the document by its subscription alias ({@link Subscribe#alias()}) instead of its id.
 *
 * <p>It cannot become a full {@link Update} without the connection's context: the server resolves
 * the alias to the document and rebuilds the delta with the replica of the connection's HELLO
 * ({@link #delta(ReplicaId)}), then handles it exactly like an UPDATE of that delta, answered by
 * {@link Ack} (with the document id) or {@link ErrorMessage}.
 *
 * <p>Immutable and thread-safe.
 *
 * @param requestId positive, unique among this connection's outstanding requests
 * @param alias the document alias of a current subscription, at least 0
 * @param seq the sequence number of the mutation (the delta's single dot is {@code replica:seq})
 * @param field the field name
 * @param state the field's compact state: the replica's contribution
 */
public record OwnUpdate(long requestId, int alias, long seq, String field, State state)
    implements Message {

  /**
   * @throws IllegalArgumentException if {@code requestId} or {@code seq} is below 1 or {@code
   *     alias} is negative
   * @throws NullPointerException if a component is null
   */
  public OwnUpdate {
    Checks.requestId("UPDATE_OWN", requestId);
    Checks.nonNegative("UPDATE_OWN", "alias", alias);
    if (seq < 1) {
      throw new IllegalArgumentException("UPDATE_OWN.seq must be positive, was " + seq);
    }
    Checks.notNull("UPDATE_OWN", "field", field);
    Checks.notNull("UPDATE_OWN", "state", state);
  }

  /**
   * The UPDATE_OWN carrying {@code delta}, if the delta has the compact form (docs/ENCODING.md §5)
   * by {@code replica}: one dot {@code replica:seq}, one field touched only by that dot, with
   * contributions of {@code replica} only. Empty for any other delta (which goes as UPDATE).
   */
  public static Optional<OwnUpdate> of(
      long requestId, int alias, ReplicaId replica, DocumentDelta delta) {
    if (delta.fields().size() != 1) {
      return Optional.empty();
    }
    Optional<Dot> dot = delta.context().singleDot();
    if (dot.isEmpty() || !dot.get().replica().equals(replica)) {
      return Optional.empty();
    }
    String field = delta.fields().firstKey();
    Crdt<?> state = delta.fields().get(field).state();
    State compact;
    if (state instanceof GCounter g) {
      compact = new GCount(g.countOf(replica));
    } else if (state instanceof PNCounter pn) {
      compact = new PNCount(pn.increments().countOf(replica), pn.decrements().countOf(replica));
    } else if (state instanceof LWWRegister register) {
      compact =
          register.isEmpty()
              ? new EmptyRegister()
              : new RegisterWrite(
                  register.value().orElseThrow(), register.timestamp().orElseThrow());
    } else {
      return Optional.empty();
    }
    OwnUpdate update = new OwnUpdate(requestId, alias, dot.get().sequence(), field, compact);
    // The compact parts rebuild exactly this delta, or it carries something they cannot say
    // (another replica's contribution, a touched vector beyond the dot).
    return update.delta(replica).equals(delta) ? Optional.of(update) : Optional.empty();
  }

  /**
   * The delta this message carries when {@code replica} is the connection's replica: dots {@code
   * {replica:seq}}, the one field with the state rebuilt for {@code replica} and {@code touched =
   * {replica: seq}}, exactly what the tag-8 form {@code [8, 1, replica, seq, field, fieldType,
   * state]} decodes to.
   */
  public DocumentDelta delta(ReplicaId replica) {
    FieldState fieldState =
        new FieldState(state.stateOf(replica), VersionVector.empty().with(replica, seq));
    return DocumentDelta.of(DotSet.of(new Dot(replica, seq)), Map.of(field, fieldState));
  }

  @Override
  public MessageType messageType() {
    return MessageType.UPDATE_OWN;
  }

  /**
   * A field's compact state, the {@code compactState} of docs/ENCODING.md §5: what the one replica
   * contributed.
   */
  public sealed interface State permits GCount, PNCount, RegisterWrite, EmptyRegister {

    /** The field type tag on the wire: 2 (G-Counter), 3 (PN-Counter) or 4 (LWW-Register). */
    int fieldType();

    /** The field's state with this contribution made by {@code replica}. */
    Crdt<?> stateOf(ReplicaId replica);
  }

  /**
   * A G-Counter (field type 2): the replica's count, its running total, not the amount added.
   *
   * @param count at least 0 (0 is the empty counter)
   */
  public record GCount(long count) implements State {

    public GCount {
      Checks.nonNegative("UPDATE_OWN", "state", count);
    }

    @Override
    public int fieldType() {
      return 2;
    }

    @Override
    public GCounter stateOf(ReplicaId replica) {
      return count == 0 ? GCounter.empty() : GCounter.of(Map.of(replica, count));
    }
  }

  /**
   * A PN-Counter (field type 3): the replica's increments and decrements, running totals.
   *
   * @param increments at least 0
   * @param decrements at least 0
   */
  public record PNCount(long increments, long decrements) implements State {

    public PNCount {
      Checks.nonNegative("UPDATE_OWN", "state.increments", increments);
      Checks.nonNegative("UPDATE_OWN", "state.decrements", decrements);
    }

    @Override
    public int fieldType() {
      return 3;
    }

    @Override
    public PNCounter stateOf(ReplicaId replica) {
      return PNCounter.of(
          new GCount(increments).stateOf(replica), new GCount(decrements).stateOf(replica));
    }
  }

  /**
   * An LWW-Register write (field type 4) by the replica.
   *
   * @param value the value written
   * @param timestamp the write's HLC time
   */
  public record RegisterWrite(Value value, HlcTimestamp timestamp) implements State {

    public RegisterWrite {
      Checks.notNull("UPDATE_OWN", "state.value", value);
      Checks.notNull("UPDATE_OWN", "state.timestamp", timestamp);
    }

    @Override
    public int fieldType() {
      return 4;
    }

    @Override
    public LWWRegister stateOf(ReplicaId replica) {
      return LWWRegister.of(value, timestamp, replica);
    }
  }

  /** An empty LWW-Register (field type 4, compact state {@code []}): legal, never written. */
  public record EmptyRegister() implements State {

    @Override
    public int fieldType() {
      return 4;
    }

    @Override
    public LWWRegister stateOf(ReplicaId replica) {
      return LWWRegister.empty();
    }
  }
}

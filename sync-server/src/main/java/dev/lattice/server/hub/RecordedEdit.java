package dev.lattice.server.hub;

import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.LWWRegister;
import dev.lattice.crdt.MVRegister;
import dev.lattice.crdt.Mutation;
import dev.lattice.crdt.ORMap;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.PNCounter;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.codec.CrdtCodecs;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.server.spi.DocumentEdit;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * The hub's {@link DocumentEdit}: records each operation with the leaf that will apply it, for
 * {@link DefaultHub} to turn into mutations of the server's replica. Not thread-safe.
 */
final class RecordedEdit implements DocumentEdit {

  /**
   * One change: of {@code field}'s type, to the nested value at {@code path} (OR-Map keys; empty
   * for the field itself), made by {@code leaf}.
   */
  record Op(String field, CrdtType type, List<String> path, Leaf<?> leaf) {}

  /** What one operation does to the state of {@code kind} it reaches. */
  record Leaf<T extends Crdt<T>>(CrdtKind<T> kind, Body<T> body) {
    Mutation<T> apply(Crdt<?> state, Dot dot, ReplicaId server, HybridLogicalClock clock) {
      return body.apply(kind.cast(state), dot, server, clock);
    }
  }

  /** A mutation of one state by the server's replica, with the operation's fresh dot. */
  @FunctionalInterface
  interface Body<T> {
    Mutation<T> apply(T state, Dot dot, ReplicaId server, HybridLogicalClock clock);
  }

  private final List<Op> ops = new ArrayList<>();
  private final Map<String, CrdtType> types = new HashMap<>();

  private final int maxFieldBytes;

  /** An edit whose field name and value, encoded, may take at most {@code maxFieldBytes}. */
  RecordedEdit(int maxFieldBytes) {
    this.maxFieldBytes = maxFieldBytes;
  }

  /**
   * Adds {@code amount} to the G-Counter {@code field}, creating it if absent.
   *
   * @throws IllegalArgumentException if {@code amount} is negative, or this edit already gives
   *     {@code field} another type
   */
  @Override
  public DocumentEdit increment(String field, long amount) {
    if (amount < 0) {
      throw new IllegalArgumentException(
          "a G-Counter only grows; increment of '" + field + "' by " + amount);
    }
    return add(field, leaf(GCounter.class, (g, dot, server, clock) -> g.increment(server, amount)));
  }

  /**
   * Adds {@code amount}, which may be negative, to the PN-Counter {@code field}, creating it if
   * absent.
   *
   * @throws IllegalArgumentException if this edit already gives {@code field} another type
   */
  @Override
  public DocumentEdit add(String field, long amount) {
    return add(field, leaf(PNCounter.class, (c, dot, server, clock) -> c.add(server, amount)));
  }

  /**
   * Writes {@code value} to the register {@code field}, stamped with the server's clock.
   *
   * @throws IllegalArgumentException if this edit already gives {@code field} another type, or the
   *     field name and value are too large to reach clients in one frame
   */
  @Override
  public DocumentEdit set(String field, Value value) {
    checkSize(field, value);
    // After the field's write even when another server's clock put it too far ahead for ours to
    // accept: an edit made after that write must not lose to it.
    return add(
        field,
        leaf(
            LWWRegister.class,
            (r, dot, server, clock) ->
                r.set(value, r.timestamp().map(clock::nowAfter).orElseGet(clock::now), server)));
  }

  /**
   * Adds {@code element} to the OR-Set {@code field}, creating it if absent.
   *
   * @throws IllegalArgumentException if this edit already gives {@code field} another type, or the
   *     field name and element are too large to reach clients in one frame
   */
  @Override
  public DocumentEdit addToSet(String field, Value element) {
    checkSize(field, element);
    return add(field, leaf(ORSet.class, (s, dot, server, clock) -> s.add(dot, element)));
  }

  /**
   * Removes {@code element} from the OR-Set {@code field} as the server holds it: adds the server
   * has not seen yet survive.
   *
   * @throws IllegalArgumentException if this edit already gives {@code field} another type
   */
  @Override
  public DocumentEdit removeFromSet(String field, Value element) {
    Objects.requireNonNull(element, "element");
    return add(field, leaf(ORSet.class, (s, dot, server, clock) -> s.remove(dot, element)));
  }

  /**
   * Writes {@code value} to the MV-Register {@code field}, replacing the values the server holds.
   *
   * @throws IllegalArgumentException if this edit already gives {@code field} another type, or the
   *     field name and value are too large to reach clients in one frame
   */
  @Override
  public DocumentEdit writeMVRegister(String field, Value value) {
    checkSize(field, value);
    return add(field, leaf(MVRegister.class, (m, dot, server, clock) -> m.write(dot, value)));
  }

  /**
   * Edits the OR-Map {@code field}, creating it if absent: {@code keys} gets an edit whose field
   * names are the map's keys.
   *
   * @throws IllegalArgumentException if this edit already gives {@code field} another type, or
   *     {@code keys} does
   */
  @Override
  public DocumentEdit inMap(String field, Consumer<DocumentEdit> keys) {
    Objects.requireNonNull(field, "field");
    RecordedEdit nested = new RecordedEdit(maxFieldBytes);
    keys.accept(nested);
    for (Op op : nested.ops) {
      List<String> path = new ArrayList<>(op.path().size() + 1);
      path.add(op.field());
      path.addAll(op.path());
      add(new Op(field, CrdtType.OR_MAP, List.copyOf(path), op.leaf()));
    }
    return this;
  }

  /**
   * Removes {@code key} from the OR-Map {@code field} as the server holds it: concurrent updates of
   * the key the server has not seen keep it.
   *
   * @throws IllegalArgumentException if this edit already gives {@code field} another type
   */
  @Override
  public DocumentEdit removeFromMap(String field, String key) {
    Objects.requireNonNull(key, "key");
    return add(field, leaf(ORMap.class, (m, dot, server, clock) -> m.remove(dot, key)));
  }

  private static <T extends Crdt<T>> Leaf<T> leaf(Class<T> stateClass, Body<T> body) {
    return new Leaf<>(CrdtKind.of(stateClass), body);
  }

  private void checkSize(String field, Value value) {
    Objects.requireNonNull(value, "value");
    Objects.requireNonNull(field, "field");
    long bytes =
        (long) field.getBytes(StandardCharsets.UTF_8).length
            + CrdtCodecs.defaults().value().encode(value).length;
    if (bytes > maxFieldBytes) {
      // Every subscriber would be sent it; a field no frame can carry would break them all.
      throw new IllegalArgumentException(
          "field '"
              + field
              + "' with this value takes "
              + bytes
              + " bytes; a field must fit one frame, at most "
              + maxFieldBytes
              + " bytes");
    }
  }

  private RecordedEdit add(String field, Leaf<?> leaf) {
    return add(new Op(field, leaf.kind().type(), List.of(), leaf));
  }

  private RecordedEdit add(Op op) {
    Objects.requireNonNull(op.field(), "field");
    CrdtType previous = types.putIfAbsent(op.field(), op.type());
    if (previous != null && previous != op.type()) {
      throw new IllegalArgumentException(
          "field '" + op.field() + "' is a " + previous + " in this edit, not a " + op.type());
    }
    ops.add(op);
    return this;
  }

  List<Op> ops() {
    return List.copyOf(ops);
  }

  Map<String, CrdtType> types() {
    return Map.copyOf(types);
  }

  /**
   * {@code op} as a mutation of {@code state}, the state of its field, with the fresh {@code dot}:
   * the leaf's own mutation for the field itself, or an update of the OR-Map keys on its path.
   */
  static Mutation<? extends Crdt<?>> mutation(
      Op op, Crdt<?> state, Dot dot, ReplicaId server, HybridLogicalClock clock) {
    return at(op.path(), 0, op.leaf(), state, dot, server, clock);
  }

  private static Mutation<? extends Crdt<?>> at(
      List<String> path,
      int depth,
      Leaf<?> leaf,
      Crdt<?> state,
      Dot dot,
      ReplicaId server,
      HybridLogicalClock clock) {
    if (depth == path.size()) {
      return leaf.apply(state, dot, server, clock);
    }
    ORMap map = (ORMap) state;
    String key = path.get(depth);
    return depth + 1 == path.size()
        ? updateKey(map, key, leaf.kind(), path, depth, leaf, dot, server, clock)
        : updateKey(map, key, CrdtKind.of(ORMap.class), path, depth, leaf, dot, server, clock);
  }

  private static <T extends Crdt<T>> Mutation<ORMap> updateKey(
      ORMap map,
      String key,
      CrdtKind<T> kind,
      List<String> path,
      int depth,
      Leaf<?> leaf,
      Dot dot,
      ReplicaId server,
      HybridLogicalClock clock) {
    return map.update(
        dot,
        key,
        kind,
        nested -> castMutation(kind, at(path, depth + 1, leaf, nested, dot, server, clock)));
  }

  private static <T extends Crdt<T>> Mutation<T> castMutation(
      CrdtKind<T> kind, Mutation<? extends Crdt<?>> mutation) {
    return new Mutation<>(kind.cast(mutation.state()), kind.cast(mutation.delta()));
  }
}

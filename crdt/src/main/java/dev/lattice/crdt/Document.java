package dev.lattice.crdt;

import dev.lattice.hlc.HlcTimestamp;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * A replica of one document: named fields, each a CRDT of a declared type, and the set of mutations
 * (dots) whose effects the replica holds.
 *
 * <p>A local mutation applies at once and returns a {@link DocumentDelta} stamped with the writing
 * replica's next dot, to be sent to the other replicas. {@link #merge} applies a delta from
 * anywhere; merging the same deltas in any order, any number of times, gives equal documents.
 * {@link #deltaSince} returns exactly what a replica with a given version vector lacks.
 *
 * <p>Costs: a mutation or a merge costs time in proportion to the delta (hash lookups of its
 * fields), never to the number of fields in the document; {@link #deltaSince}, {@link #fields()}
 * and {@link #equals} walk the whole document.
 *
 * <p>A document is mutable and <b>not thread-safe</b>: confine each to one thread or serial
 * executor (the server runs one writer per document). Values it hands out are immutable.
 */
public final class Document {

  private final String id;
  private final HashMap<String, FieldState> fields;
  private final HashMap<ReplicaId, SeqRanges> context;

  private Document(
      String id, HashMap<String, FieldState> fields, HashMap<ReplicaId, SeqRanges> context) {
    this.id = id;
    this.fields = fields;
    this.context = context;
  }

  /** A new, empty replica of the document {@code id}. */
  public static Document create(String id) {
    return new Document(Objects.requireNonNull(id, "id"), new HashMap<>(), new HashMap<>());
  }

  /**
   * A replica holding a stored state, as a codec reads it back.
   *
   * @throws IllegalArgumentException if a field's touched vector names a dot outside {@code
   *     context}
   */
  public static Document restore(String id, DotSet context, Map<String, FieldState> fields) {
    DocumentDelta checked = DocumentDelta.of(context, fields);
    Document doc = create(id);
    doc.fields.putAll(checked.fields());
    doc.context.putAll(context.byReplica());
    return doc;
  }

  /** The document's id. */
  public String id() {
    return id;
  }

  /** The version vector: per replica, the gap-free prefix of its mutations this replica holds. */
  public VersionVector versionVector() {
    return DotSet.prefixes(context);
  }

  /** Every dot this replica holds, including those that arrived ahead of a gap. */
  public DotSet context() {
    return DotSet.ofRanges(context);
  }

  /**
   * Whether this replica holds the effects of every dot of {@code dots}: a delta whose context
   * passes this adds nothing. Costs the size of {@code dots}, not of the document.
   */
  public boolean containsAll(DotSet dots) {
    return DotSet.containsAll(context, dots);
  }

  /** Whether this replica holds the effects of {@code dot}. */
  public boolean contains(Dot dot) {
    SeqRanges seqs = context.get(dot.replica());
    return seqs != null && seqs.contains(dot.sequence());
  }

  /**
   * What this replica makes of {@code delta} sent by {@code replica} as its own: new, an identical
   * resend, or refused because it is another replica's, reuses a held dot with other content, or
   * leaves a gap (see {@link OwnDeltaCheck} for the rules). Changes nothing. Costs the size of the
   * delta.
   */
  public OwnDeltaCheck checkOwnDelta(ReplicaId replica, DocumentDelta delta) {
    Objects.requireNonNull(replica, "replica");
    Objects.requireNonNull(delta, "delta");
    return OwnDeltaCheck.check(context, fields, replica, delta);
  }

  /** The number of fields. */
  public int fieldCount() {
    return fields.size();
  }

  /** One field's state, if the field exists. */
  public Optional<FieldState> field(String name) {
    return Optional.ofNullable(fields.get(name));
  }

  /** One field's type, if the field exists. */
  public Optional<CrdtType> typeOf(String name) {
    FieldState field = fields.get(name);
    return field == null ? Optional.empty() : Optional.of(field.type());
  }

  /** A sorted snapshot of all fields. Walks the whole document. */
  public SortedMap<String, FieldState> fields() {
    return Collections.unmodifiableSortedMap(new TreeMap<>(fields));
  }

  /**
   * The value of a counter field (G-Counter or PN-Counter); 0 if the field does not exist.
   * Saturates at the bounds of a {@code long} rather than fail (see {@link GCounter#value()}).
   *
   * @throws FieldTypeMismatchException if the field is not a counter
   */
  public long counterValue(String name) {
    FieldState field = fields.get(name);
    if (field == null) {
      return 0;
    }
    // A counter's view is its value as a Long, or a BigInteger past the range of a long; no
    // other kind's view is a number.
    Object view = field.type().kind().viewAny(field.state());
    if (view instanceof Long value) {
      return value;
    }
    if (view instanceof java.math.BigInteger big) {
      return big.signum() > 0 ? Long.MAX_VALUE : Long.MIN_VALUE;
    }
    throw new FieldTypeMismatchException(name, field.type(), CrdtType.PN_COUNTER);
  }

  /**
   * The value of a register field; empty if the field does not exist or was never written.
   *
   * @throws FieldTypeMismatchException if the field is not a register
   */
  public Optional<Value> registerValue(String name) {
    FieldState field = fields.get(name);
    if (field == null) {
      return Optional.empty();
    }
    if (field.type() == CrdtType.LWW_REGISTER) {
      return LWWRegisterKind.INSTANCE.cast(field.state()).value();
    }
    throw new FieldTypeMismatchException(name, field.type(), CrdtType.LWW_REGISTER);
  }

  /**
   * The timestamp of a register field's winning write: the greatest timestamp merged into the
   * field, which a new write must order after to win (see {@link
   * dev.lattice.hlc.HybridLogicalClock#nowAfter}); empty if the field does not exist or was never
   * written.
   *
   * @throws FieldTypeMismatchException if the field is not a register
   */
  public Optional<HlcTimestamp> registerTimestamp(String name) {
    FieldState field = fields.get(name);
    if (field == null) {
      return Optional.empty();
    }
    if (field.state() instanceof LWWRegister register) {
      return register.timestamp();
    }
    throw new FieldTypeMismatchException(name, field.type(), CrdtType.LWW_REGISTER);
  }

  /** The sequence number {@code writer}'s next local mutation will take. */
  public long nextSequence(ReplicaId writer) {
    SeqRanges seqs = context.get(writer);
    return seqs == null ? 1 : seqs.max() + 1;
  }

  /**
   * Adds {@code amount} to the G-Counter {@code field}, creating it if absent.
   *
   * @throws IllegalArgumentException if {@code amount} is negative
   * @throws ArithmeticException if the counter would overflow
   * @throws FieldTypeMismatchException if the field exists with another type
   */
  public DocumentDelta incrementGCounter(ReplicaId writer, String field, long amount) {
    GCounter current = stateFor(field, GCounterKind.INSTANCE);
    return apply(writer, field, current.increment(writer, amount));
  }

  /**
   * Adds {@code amount}, which may be negative, to the PN-Counter {@code field}, creating it if
   * absent.
   *
   * @throws ArithmeticException if the counter's increments or decrements would overflow
   * @throws FieldTypeMismatchException if the field exists with another type
   */
  public DocumentDelta addPNCounter(ReplicaId writer, String field, long amount) {
    PNCounter current = stateFor(field, PNCounterKind.INSTANCE);
    return apply(writer, field, current.add(writer, amount));
  }

  /**
   * Writes {@code value} to the register {@code field}, creating it if absent. {@code timestamp}
   * comes from the writer's clock, and must order after {@link #registerTimestamp} for the write to
   * win: a write at or below it is merged like any concurrent one and loses, so it changes nothing.
   * Take it from {@link dev.lattice.hlc.HybridLogicalClock#nowAfter} with the field's timestamp,
   * which holds even when that timestamp is too far ahead for the clock to accept.
   *
   * @throws FieldTypeMismatchException if the field exists with another type
   */
  public DocumentDelta setRegister(
      ReplicaId writer, String field, Value value, HlcTimestamp timestamp) {
    LWWRegister current = stateFor(field, LWWRegisterKind.INSTANCE);
    return apply(writer, field, current.set(value, timestamp, writer));
  }

  /**
   * Adds {@code element} to the OR-Set {@code field}, creating it if absent; the add is tagged with
   * this mutation's dot.
   *
   * @throws FieldTypeMismatchException if the field exists with another type
   */
  public DocumentDelta addToSet(ReplicaId writer, String field, Value element) {
    ORSet current = stateFor(field, ORSetKind.INSTANCE);
    return apply(writer, field, dot -> current.add(dot, element));
  }

  /**
   * Removes {@code element} from the OR-Set {@code field} as this replica sees it: adds it has not
   * seen survive the remove. Creates the field if absent.
   *
   * @throws FieldTypeMismatchException if the field exists with another type
   */
  public DocumentDelta removeFromSet(ReplicaId writer, String field, Value element) {
    ORSet current = stateFor(field, ORSetKind.INSTANCE);
    return apply(writer, field, dot -> current.remove(dot, element));
  }

  /**
   * Writes {@code value} to the MV-Register {@code field}, replacing the writes this replica holds,
   * creating the field if absent.
   *
   * @throws FieldTypeMismatchException if the field exists with another type
   */
  public DocumentDelta writeMVRegister(ReplicaId writer, String field, Value value) {
    MVRegister current = stateFor(field, MVRegisterKind.INSTANCE);
    return apply(writer, field, dot -> current.write(dot, value));
  }

  /**
   * Changes the value of {@code key}, of {@code kind}, in the OR-Map {@code field}, creating the
   * field if absent: {@code change} gets the key's state and this mutation's dot (which a nested
   * causal mutation must use) and returns the nested mutation (see {@link ORMap#update}).
   *
   * @throws FieldTypeMismatchException if the field or the key exists with another type
   */
  public <T extends Crdt<T>> DocumentDelta updateMap(
      ReplicaId writer,
      String field,
      String key,
      CrdtKind<T> kind,
      BiFunction<T, Dot, Mutation<T>> change) {
    ORMap current = stateFor(field, ORMapKind.INSTANCE);
    return apply(writer, field, dot -> current.update(dot, key, kind, s -> change.apply(s, dot)));
  }

  /**
   * Removes {@code key} from the OR-Map {@code field} as this replica sees it: concurrent updates
   * of the key survive. Creates the field if absent.
   *
   * @throws FieldTypeMismatchException if the field exists with another type
   */
  public DocumentDelta removeFromMap(ReplicaId writer, String field, String key) {
    ORMap current = stateFor(field, ORMapKind.INSTANCE);
    return apply(writer, field, dot -> current.remove(dot, key));
  }

  /**
   * Applies one mutation of any type to {@code field}, creating it if absent: {@code mutator} gets
   * the field's state (the kind's empty state if absent) and this mutation's fresh dot, for a
   * causal mutation, and returns the new state with its delta. The typed methods above are this
   * with one mutator each; code that handles fields of any kind (a server's edits, an SDK's
   * handles) calls this.
   *
   * @throws FieldTypeMismatchException if the field exists with another type
   */
  public <T extends Crdt<T>> DocumentDelta mutate(
      ReplicaId writer, String field, CrdtKind<T> kind, BiFunction<T, Dot, Mutation<T>> mutator) {
    T current = stateFor(field, kind);
    return apply(writer, field, dot -> mutator.apply(current, dot));
  }

  /**
   * {@link #mutate} of the value at {@code keys} inside the OR-Map {@code field} (nested maps for
   * every key but the last), creating the maps and the value if absent; with no keys, the field
   * itself. The mutation's dot serves every level.
   *
   * @throws FieldTypeMismatchException if the field, a map on the way or the value exists with
   *     another type
   */
  public <T extends Crdt<T>> DocumentDelta mutateAt(
      ReplicaId writer,
      String field,
      List<String> keys,
      CrdtKind<T> kind,
      BiFunction<T, Dot, Mutation<T>> mutator) {
    if (keys.isEmpty()) {
      return mutate(writer, field, kind, mutator);
    }
    return mutate(
        writer,
        field,
        ORMapKind.INSTANCE,
        (map, dot) -> updateAt(map, keys, 0, kind, mutator, dot));
  }

  private static <T extends Crdt<T>> Mutation<ORMap> updateAt(
      ORMap map,
      List<String> keys,
      int depth,
      CrdtKind<T> kind,
      BiFunction<T, Dot, Mutation<T>> mutator,
      Dot dot) {
    String key = keys.get(depth);
    if (depth + 1 == keys.size()) {
      return map.update(dot, key, kind, value -> mutator.apply(value, dot));
    }
    return map.update(
        dot,
        key,
        ORMapKind.INSTANCE,
        nested -> updateAt(nested, keys, depth + 1, kind, mutator, dot));
  }

  /**
   * The value at {@code keys} inside the OR-Map {@code field} (the field itself with no keys);
   * empty if it or a map on the way is absent.
   *
   * @throws FieldTypeMismatchException if the field, a map on the way or the value has another type
   */
  public <T extends Crdt<T>> Optional<T> stateAt(
      String field, List<String> keys, CrdtKind<T> kind) {
    FieldState held = fields.get(field);
    if (held == null) {
      return Optional.empty();
    }
    Crdt<?> state = held.state();
    StringBuilder path = new StringBuilder(field);
    for (String key : keys) {
      if (!(state instanceof ORMap map)) {
        throw new FieldTypeMismatchException(path.toString(), state.type(), CrdtType.OR_MAP);
      }
      Optional<Crdt<?>> next = map.get(key);
      if (next.isEmpty()) {
        return Optional.empty();
      }
      state = next.get();
      path.append('.').append(key);
    }
    if (state.type() != kind.type()) {
      throw new FieldTypeMismatchException(path.toString(), state.type(), kind.type());
    }
    return Optional.of(kind.cast(state));
  }

  /**
   * The first key of an OR-Map field of {@code delta} that this document holds with another type
   * (see {@link ORMap#keyTypeConflict}); empty if none. Fields given another type are {@link
   * #typeOf}'s to find.
   */
  public Optional<FieldTypeMismatchException> keyTypeConflict(DocumentDelta delta) {
    for (Map.Entry<String, FieldState> e : delta.fields().entrySet()) {
      FieldState held = fields.get(e.getKey());
      if (held != null
          && held.state() instanceof ORMap heldMap
          && e.getValue().state() instanceof ORMap incoming) {
        Optional<FieldTypeMismatchException> conflict =
            heldMap.keyTypeConflict(e.getKey(), incoming);
        if (conflict.isPresent()) {
          return conflict;
        }
      }
    }
    return Optional.empty();
  }

  private <T extends Crdt<T>> T stateFor(String name, CrdtKind<T> kind) {
    Objects.requireNonNull(name, "field name");
    FieldState existing = fields.get(name);
    if (existing == null) {
      return kind.empty();
    }
    if (existing.type() != kind.type()) {
      throw new FieldTypeMismatchException(name, existing.type(), kind.type());
    }
    return kind.cast(existing.state());
  }

  private DocumentDelta apply(ReplicaId writer, String name, Mutation<? extends Crdt<?>> mutation) {
    return apply(writer, name, dot -> mutation);
  }

  private DocumentDelta apply(
      ReplicaId writer, String name, Function<Dot, Mutation<? extends Crdt<?>>> mutator) {
    Dot dot = new Dot(writer, nextSequence(writer));
    Mutation<? extends Crdt<?>> mutation = mutator.apply(dot);
    VersionVector touched = VersionVector.empty().with(writer, dot.sequence());
    FieldState existing = fields.get(name);
    fields.put(
        name,
        new FieldState(
            mutation.state(),
            existing == null ? touched : existing.touched().with(writer, dot.sequence())));
    addDot(writer, dot.sequence(), dot.sequence());
    TreeMap<String, FieldState> deltaFields = new TreeMap<>();
    deltaFields.put(name, new FieldState(mutation.delta(), touched));
    return DocumentDelta.ofTrusted(DotSet.of(dot), deltaFields);
  }

  private void addDot(ReplicaId replica, long first, long last) {
    SeqRanges seqs = context.get(replica);
    context.put(replica, seqs == null ? SeqRanges.of(first, last) : seqs.add(first, last));
  }

  /**
   * {@code delta} without the fields to which this document gives another type, so that {@link
   * #merge} takes it; the same delta when there are none. Its context is kept whole (see {@link
   * DocumentDelta#withoutTypeConflicts}): the rule by which every reader of one ordered history (a
   * store's log that two servers appended to at once) ends with the same document, the type written
   * first winning.
   */
  public DocumentDelta withoutTypeConflicts(DocumentDelta delta) {
    return DocumentDelta.withoutFieldsTypedOtherwise(fields, delta);
  }

  /**
   * Joins a delta from any replica into this one. Nothing changes if the delta gives an existing
   * field another type.
   *
   * @return the names of the fields whose state changed; empty for a delta already held
   * @throws FieldTypeMismatchException if the delta gives an existing field another type
   */
  public Set<String> merge(DocumentDelta delta) {
    // Check every field first so that a refused delta leaves no partial trace.
    for (Map.Entry<String, FieldState> e : delta.fields().entrySet()) {
      FieldState mine = fields.get(e.getKey());
      if (mine != null && mine.type() != e.getValue().type()) {
        throw new FieldTypeMismatchException(e.getKey(), mine.type(), e.getValue().type());
      }
    }
    // Most deltas change one field: avoid a hash set until a second one changes.
    String firstChanged = null;
    Set<String> changed = null;
    for (Map.Entry<String, FieldState> e : delta.fields().entrySet()) {
      String name = e.getKey();
      FieldState mine = fields.get(name);
      FieldState merged = mine == null ? e.getValue() : mine.merge(name, e.getValue());
      if (merged != mine) {
        fields.put(name, merged);
        // Joins return the receiver itself exactly when nothing grew.
        if (mine == null || merged.state() != mine.state()) {
          if (firstChanged == null) {
            firstChanged = name;
          } else {
            if (changed == null) {
              changed = new HashSet<>();
              changed.add(firstChanged);
            }
            changed.add(name);
          }
        }
      }
    }
    for (Map.Entry<ReplicaId, SeqRanges> e : delta.context().byReplica().entrySet()) {
      SeqRanges mine = context.get(e.getKey());
      context.put(e.getKey(), mine == null ? e.getValue() : mine.union(e.getValue()));
    }
    if (changed != null) {
      return Collections.unmodifiableSet(changed);
    }
    return firstChanged == null ? Set.of() : Set.of(firstChanged);
  }

  /**
   * The first counter field (in name order) that merging {@code delta} would push out of the range
   * every accepted change keeps: a G-Counter's sum, or either half of a PN-Counter, past {@code
   * Long.MAX_VALUE}. Empty if the delta keeps every counter in range. A field already out of range
   * (merged from elsewhere) is named only if the delta grows it further. Changes nothing; fields of
   * another type than this document's are left to {@link #merge}.
   */
  public Optional<String> counterOverflow(DocumentDelta delta) {
    for (Map.Entry<String, FieldState> e : delta.fields().entrySet()) {
      Crdt<?> theirs = e.getValue().state();
      if (theirs.type() != CrdtType.G_COUNTER && theirs.type() != CrdtType.PN_COUNTER) {
        continue;
      }
      FieldState mine = fields.get(e.getKey());
      if (mine != null && mine.type() != theirs.type()) {
        continue;
      }
      Crdt<?> merged = mine == null ? theirs : CrdtType.mergeStates(mine.state(), theirs);
      if (mine != null && merged == mine.state()) {
        continue;
      }
      boolean fits =
          merged instanceof GCounter g ? g.fitsInLong() : ((PNCounter) merged).fitsInLong();
      if (!fits) {
        return Optional.of(e.getKey());
      }
    }
    return Optional.empty();
  }

  /**
   * What a replica whose version vector is {@code vector} lacks: the dots of this replica that
   * {@code vector} has not seen, and for each field the contributions of exactly the replicas whose
   * latest change to it the vector has not seen. Everything, for an empty vector. Walks the whole
   * document.
   */
  public DocumentDelta deltaSince(VersionVector vector) {
    TreeMap<String, FieldState> out = new TreeMap<>();
    fields.forEach(
        (name, field) -> {
          VersionVector touched = field.touched();
          VersionVector unseen = touched.above(vector);
          if (unseen.isEmpty()) {
            return;
          }
          Crdt<?> part =
              unseen == touched
                  ? field.state()
                  : field.state().contributionsOf(r -> unseen.get(r) > 0);
          // Ship the touched entries even when the part is empty (an overwritten register, a
          // bare declaration): touched metadata then depends only on the dots held, so replicas
          // holding the same dots are equal, and encode equally.
          out.put(name, new FieldState(part, unseen));
        });
    return DocumentDelta.ofTrusted(DotSet.notIn(context, vector), out);
  }

  /** An independent copy of this replica. */
  public Document copy() {
    return new Document(id, new HashMap<>(fields), new HashMap<>(context));
  }

  /** Equal when id, fields and held dots are equal. Walks the whole document. */
  @Override
  public boolean equals(Object o) {
    return o instanceof Document other
        && other.id.equals(id)
        && other.fields.equals(fields)
        && other.context.equals(context);
  }

  @Override
  public int hashCode() {
    return id.hashCode();
  }

  @Override
  public String toString() {
    return "Document[" + id + ", " + context() + ", " + fields() + "]";
  }
}

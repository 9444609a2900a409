package dev.lattice.crdt;

import dev.lattice.hlc.HlcTimestamp;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A delta of a document: the states of some fields and the set of mutations (dots) whose effects
 * they carry. A local mutation yields a delta of one dot and one field; {@link Document#deltaSince}
 * yields a delta-interval covering many. Deltas join like the states they carry, so they may be
 * merged, batched and resent in any order, any number of times.
 *
 * <p>Well-formed by construction: every replica and sequence in a field's {@code touched} vector is
 * a dot of the context. Fields are sorted by name, so equal deltas encode to equal bytes. Immutable
 * and thread-safe.
 */
public final class DocumentDelta {

  private static final DocumentDelta EMPTY =
      new DocumentDelta(DotSet.empty(), Collections.emptySortedMap());

  private final DotSet context;
  private final SortedMap<String, FieldState> fields;

  private DocumentDelta(DotSet context, SortedMap<String, FieldState> fields) {
    this.context = context;
    this.fields = fields;
  }

  /** The delta that carries nothing. */
  public static DocumentDelta empty() {
    return EMPTY;
  }

  /**
   * The delta with this context and these fields.
   *
   * @throws IllegalArgumentException if a field's touched vector names a dot outside the context
   */
  public static DocumentDelta of(DotSet context, Map<String, FieldState> fields) {
    Objects.requireNonNull(context, "context");
    TreeMap<String, FieldState> copy = new TreeMap<>();
    fields.forEach(
        (name, field) -> {
          Objects.requireNonNull(name, "field name");
          Objects.requireNonNull(field, "field state");
          field
              .touched()
              .entries()
              .forEach(
                  (replica, seq) -> {
                    if (!context.contains(new Dot(replica, seq))) {
                      throw new IllegalArgumentException(
                          "field '"
                              + name
                              + "' was touched by "
                              + replica
                              + ":"
                              + seq
                              + ", which is not in the delta's context "
                              + context);
                    }
                  });
          copy.put(name, field);
        });
    if (context.isEmpty() && copy.isEmpty()) {
      return EMPTY;
    }
    return new DocumentDelta(context, Collections.unmodifiableSortedMap(copy));
  }

  /** Trusted path for {@link Document}, which keeps the invariant itself. */
  static DocumentDelta ofTrusted(DotSet context, SortedMap<String, FieldState> fields) {
    return new DocumentDelta(context, Collections.unmodifiableSortedMap(fields));
  }

  /** The mutations whose effects this delta carries. */
  public DotSet context() {
    return context;
  }

  /** The field states, sorted by name; unmodifiable. */
  public SortedMap<String, FieldState> fields() {
    return fields;
  }

  /** Whether this delta carries nothing. */
  public boolean isEmpty() {
    return context.isEmpty() && fields.isEmpty();
  }

  /**
   * The delta carrying what either carries.
   *
   * @throws FieldTypeMismatchException if the two give one field different types
   */
  public DocumentDelta join(DocumentDelta other) {
    if (other.isEmpty()) {
      return this;
    }
    if (isEmpty()) {
      return other;
    }
    TreeMap<String, FieldState> merged = new TreeMap<>(fields);
    other.fields.forEach(
        (name, field) -> {
          FieldState mine = merged.get(name);
          merged.put(name, mine == null ? field : mine.merge(name, field));
        });
    return new DocumentDelta(
        context.union(other.context), Collections.unmodifiableSortedMap(merged));
  }

  /**
   * {@code other} without the fields to which this delta gives another type, so that it can be
   * joined into this one; the same {@code other} when there are none. Its context is kept whole:
   * the dots of a dropped field stay seen, so a replica that takes them in this order does not ask
   * for them again. The rule of a log read in order (a store's history): the type first written
   * wins.
   */
  public DocumentDelta withoutTypeConflicts(DocumentDelta other) {
    return withoutFieldsTypedOtherwise(fields, other);
  }

  /** {@code other} without the fields that {@code held} holds with another type. */
  static DocumentDelta withoutFieldsTypedOtherwise(
      Map<String, FieldState> held, DocumentDelta other) {
    TreeMap<String, FieldState> kept = null;
    for (Map.Entry<String, FieldState> e : other.fields.entrySet()) {
      FieldState mine = held.get(e.getKey());
      if (mine != null && mine.type() != e.getValue().type()) {
        if (kept == null) {
          kept = new TreeMap<>(other.fields);
        }
        kept.remove(e.getKey());
      }
    }
    return kept == null
        ? other
        : new DocumentDelta(other.context, Collections.unmodifiableSortedMap(kept));
  }

  /**
   * The join of all of {@code deltas}, equal to joining them one by one in any order. Joined
   * pairwise in a balanced tree: each join copies both operands' fields, so folding n deltas of n
   * replicas one at a time copies O(n²) entries (a server round of 100 increments spent 56 µs so
   * against 6 µs to encode them), while the tree copies O(n log n).
   *
   * @throws FieldTypeMismatchException if two of them give one field different types
   */
  public static DocumentDelta joinAll(List<DocumentDelta> deltas) {
    int n = deltas.size();
    if (n == 0) {
      return EMPTY;
    }
    DocumentDelta[] level = deltas.toArray(new DocumentDelta[0]);
    while (n > 1) {
      int half = 0;
      for (int i = 0; i < n; i += 2) {
        level[half++] = i + 1 < n ? level[i].join(level[i + 1]) : level[i];
      }
      n = half;
    }
    return level[0];
  }

  /**
   * The greatest register timestamp in this delta. A replica feeds it to its clock on receipt, so
   * that its next write orders after everything it has seen.
   */
  public Optional<HlcTimestamp> maxTimestamp() {
    HlcTimestamp max = null;
    for (FieldState field : fields.values()) {
      Optional<HlcTimestamp> own = field.type().kind().maxTimestampAny(field.state());
      if (own.isPresent()) {
        HlcTimestamp ts = own.get();
        if (max == null || ts.isAfter(max)) {
          max = ts;
        }
      }
    }
    return Optional.ofNullable(max);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof DocumentDelta other
        && other.context.equals(context)
        && other.fields.equals(fields);
  }

  @Override
  public int hashCode() {
    return 31 * context.hashCode() + fields.hashCode();
  }

  @Override
  public String toString() {
    return "DocumentDelta[" + context + ", " + fields + "]";
  }
}

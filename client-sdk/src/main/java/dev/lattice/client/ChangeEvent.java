package dev.lattice.client;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Some fields of a document changed, either by an edit of this client ({@link Origin#LOCAL}) or by
 * a change that arrived from the server ({@link Origin#REMOTE}: another replica's edit, a catch-up
 * after reconnect, or the server refusing one of this client's edits, which undoes it locally).
 * {@link #changes()} says what changed in each field: the elements of a set, the values of a
 * multi-value register, the keys of a map.
 *
 * <p>Immutable and thread-safe.
 *
 * @param documentId the document
 * @param fields the names of the fields whose value changed, never empty
 * @param origin where the change came from
 * @param changes per field of {@code fields}, what changed in it
 */
public record ChangeEvent(
    String documentId, Set<String> fields, Origin origin, Map<String, FieldChange> changes) {

  /** Where a change came from. */
  public enum Origin {
    /** An edit made through this client. */
    LOCAL,
    /** A change that arrived from the server. */
    REMOTE
  }

  /**
   * @throws NullPointerException if a component is null
   * @throws IllegalArgumentException if {@code changes} names a field not in {@code fields}
   */
  public ChangeEvent {
    Objects.requireNonNull(documentId, "documentId");
    fields = Set.copyOf(fields);
    Objects.requireNonNull(origin, "origin");
    Map<String, FieldChange> all = new HashMap<>();
    for (String field : fields) {
      all.put(field, FieldChange.of(field));
    }
    for (Map.Entry<String, FieldChange> e : changes.entrySet()) {
      if (!fields.contains(e.getKey())) {
        throw new IllegalArgumentException(
            "a change of field '" + e.getKey() + "', which is not among " + fields);
      }
      all.put(e.getKey(), e.getValue());
    }
    changes = Map.copyOf(all);
  }

  /** An event with no detail beyond the field names. */
  public ChangeEvent(String documentId, Set<String> fields, Origin origin) {
    this(documentId, fields, origin, Map.of());
  }

  /** What changed in {@code field}; empty if it is not among {@link #fields()}. */
  public Optional<FieldChange> change(String field) {
    return Optional.ofNullable(changes.get(field));
  }
}

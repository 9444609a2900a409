package dev.lattice.server.spi;

import dev.lattice.crdt.CrdtType;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A store refused an appended delta because it gives fields another type than the document already
 * holds durably for them: the first type made durable wins (see {@link DocumentStore}, "Types").
 * Nothing of the refused delta was stored. Not a failure of the store: retrying the same delta is
 * refused again, while the delta without {@link #heldTypes()}' fields is taken.
 *
 * <p>Only a store that several writers share can see it: each writer checks a new field's type
 * against its own copy of the document, and two of them can create one field with different types
 * at once. The one whose append comes second gets this exception. Immutable.
 */
public class FieldTypeConflictException extends StoreException {

  private static final long serialVersionUID = 1L;

  private final String documentId;
  private final SortedMap<String, CrdtType> heldTypes;

  /**
   * A refusal of an append to {@code documentId}.
   *
   * @param heldTypes each conflicting field with the type the store holds for it; not empty
   */
  public FieldTypeConflictException(String documentId, Map<String, CrdtType> heldTypes) {
    super(message(documentId, heldTypes));
    this.documentId = Objects.requireNonNull(documentId, "documentId");
    if (heldTypes.isEmpty()) {
      throw new IllegalArgumentException("a type conflict names at least one field");
    }
    this.heldTypes = Collections.unmodifiableSortedMap(new TreeMap<>(heldTypes));
  }

  private static String message(String documentId, Map<String, CrdtType> heldTypes) {
    return "document '"
        + documentId
        + "' holds "
        + heldTypes
        + " durably with these types (made durable first); the append gives them others";
  }

  /** The document the refused append was for. */
  public String documentId() {
    return documentId;
  }

  /** The conflicting fields, each with the type the store holds for it, in name order. */
  public SortedMap<String, CrdtType> heldTypes() {
    return heldTypes;
  }
}

package dev.lattice.crdt;

/**
 * Thrown when a write or a delta would give an existing field another CRDT type. A field's type is
 * fixed once it exists; changing it silently would throw away every replica's data.
 *
 * <p>Immutable once thrown, and thread-safe.
 */
public final class FieldTypeMismatchException extends IllegalArgumentException {

  private static final long serialVersionUID = 1L;

  private final String field;
  private final CrdtType existing;
  private final CrdtType attempted;

  public FieldTypeMismatchException(String field, CrdtType existing, CrdtType attempted) {
    super(
        "field '"
            + field
            + "' is a "
            + existing
            + "; a "
            + attempted
            + " write to it is refused (a field's type is fixed once created)");
    this.field = field;
    this.existing = existing;
    this.attempted = attempted;
  }

  /** The field's name. */
  public String field() {
    return field;
  }

  /** The type the field has. */
  public CrdtType existing() {
    return existing;
  }

  /** The type the refused write or delta had. */
  public CrdtType attempted() {
    return attempted;
  }
}

package dev.lattice.server.spi;

/**
 * What a principal may do with one document. Write implies read: a principal that may write a
 * document may also subscribe to it.
 *
 * <p>Immutable and thread-safe.
 */
public enum Access {
  /** Neither read nor write: SUBSCRIBE, UPDATE and PRESENCE are refused with FORBIDDEN. */
  NONE,
  /** Read only: SUBSCRIBE, PRESENCE and {@code GET /v1/docs/{id}}; UPDATE is refused. */
  READ,
  /** Read and write. */
  WRITE;

  /** Whether SUBSCRIBE, PRESENCE and HTTP reads are allowed. */
  public boolean canRead() {
    return this != NONE;
  }

  /** Whether UPDATE is allowed. */
  public boolean canWrite() {
    return this == WRITE;
  }
}

package dev.lattice.server.spi;

/** The data directory is already open in another store, in this process or another. */
public class StoreLockedException extends StoreException {

  private static final long serialVersionUID = 1L;

  /** A lock conflict described by {@code message}, caused by {@code cause}. */
  public StoreLockedException(String message, Throwable cause) {
    super(message, cause);
  }
}

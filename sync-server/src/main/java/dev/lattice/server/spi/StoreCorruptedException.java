package dev.lattice.server.spi;

/**
 * Stored data cannot be read back: undecodable bytes, or a store file the library reports as
 * corrupt. Never treat it as "no document": the data is there, and writing over it loses it.
 */
public class StoreCorruptedException extends StoreException {

  private static final long serialVersionUID = 1L;

  /** Corruption described by {@code message}, caused by {@code cause}. */
  public StoreCorruptedException(String message, Throwable cause) {
    super(message, cause);
  }
}

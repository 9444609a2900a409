package dev.lattice.client;

/**
 * The client's local state (its state directory) cannot be read or written: unreadable files, a
 * full disk, or a directory another client process holds. The message names the file and what to
 * do.
 */
public final class LocalStateException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public LocalStateException(String message) {
    super(message);
  }

  public LocalStateException(String message, Throwable cause) {
    super(message, cause);
  }
}

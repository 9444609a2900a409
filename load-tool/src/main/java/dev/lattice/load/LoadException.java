package dev.lattice.load;

/** The load run could not go on: a connection failed, closed, or did not answer in time. */
public final class LoadException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  LoadException(String message) {
    super(message);
  }

  LoadException(String message, Throwable cause) {
    super(message, cause);
  }
}

package dev.lattice.crdt.codec;

/**
 * Bytes that are not a well-formed payload of the expected type within the {@link CodecLimits}:
 * truncated or forged input, a wrong type tag or format version, an invariant of the decoded type
 * broken, a declared length over a limit. The message says what was expected, what arrived and at
 * which byte offset of the input.
 *
 * <p>This is the only exception that decoding ({@link Codec#decode}, {@link Codec#read}) throws for
 * bad bytes; whatever the decoder met underneath (an I/O or MessagePack error, a type's factory
 * refusing a value) is its cause.
 *
 * <p>Immutable once thrown, and thread-safe.
 */
public class CodecException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  /** A decoding failure described by {@code message}. */
  public CodecException(String message) {
    super(message);
  }

  /** A decoding failure described by {@code message}, caused by {@code cause}. */
  public CodecException(String message, Throwable cause) {
    super(message, cause);
  }
}

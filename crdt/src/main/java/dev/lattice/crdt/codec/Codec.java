package dev.lattice.crdt.codec;

import java.io.IOException;
import org.msgpack.core.MessagePacker;
import org.msgpack.core.MessageUnpacker;

/**
 * Encodes values of one type to MessagePack and decodes them back, bounded by the {@link
 * CodecLimits} the codec was made with.
 *
 * <p>Every payload is one MessagePack array whose first two elements are a type tag and a format
 * version (see {@link TypeTags}). Equal values encode to equal bytes. Decoding untrusted bytes
 * throws only {@link CodecException}, saying what was expected and what arrived; it never allocates
 * more than the limits allow, whatever lengths the bytes declare.
 *
 * <p>Implementations are stateless apart from their immutable limits, and thread-safe.
 *
 * @param <T> the type this codec reads and writes
 */
public interface Codec<T> {

  /** The payload of {@code value}, as a standalone byte array. */
  byte[] encode(T value);

  /**
   * Reads one payload that fills {@code bytes} exactly.
   *
   * @throws CodecException if the bytes are not one well-formed payload of this type within the
   *     limits, or if bytes remain after it
   */
  T decode(byte[] bytes);

  /** Writes the payload of {@code value} as the next MessagePack value of {@code out}. */
  void write(MessagePacker out, T value) throws IOException;

  /**
   * Reads the next MessagePack value of {@code in} as a payload of this type; for embedding in
   * larger messages.
   *
   * @throws CodecException if the next value is not a well-formed payload within the limits
   */
  T read(MessageUnpacker in);
}

package dev.lattice.crdt.codec;

import java.util.Arrays;
import org.msgpack.core.buffer.MessageBuffer;
import org.msgpack.core.buffer.MessageBufferOutput;

/**
 * One growing byte array as the packer's output. Unlike the default buffer packer, which starts
 * every payload with an 8 KiB chunk and copies a list of chunks at the end, this starts at a size
 * hint, doubles when full and copies once; a 23-byte delta costs a small array, a 36 MB document a
 * few doublings. Not thread-safe: one per encoding.
 */
final class GrowableOutput implements MessageBufferOutput {

  /** The least room handed to the packer, so that it does not flush every few bytes. */
  private static final int MIN_REGION = 64;

  private static final int MAX_ARRAY = Integer.MAX_VALUE - 16;

  private byte[] buf;
  private int count;

  GrowableOutput(int initialCapacity) {
    this.buf = new byte[Math.max(initialCapacity, MIN_REGION)];
  }

  @Override
  public MessageBuffer next(int minimumSize) {
    ensure(Math.max(minimumSize, MIN_REGION));
    return MessageBuffer.wrap(buf, count, buf.length - count);
  }

  @Override
  public void writeBuffer(int length) {
    count += length;
  }

  @Override
  public void write(byte[] bytes, int offset, int length) {
    ensure(length);
    System.arraycopy(bytes, offset, buf, count, length);
    count += length;
  }

  @Override
  public void add(byte[] bytes, int offset, int length) {
    write(bytes, offset, length);
  }

  @Override
  public void flush() {}

  @Override
  public void close() {}

  /** The bytes written, exactly. */
  byte[] toByteArray() {
    return Arrays.copyOf(buf, count);
  }

  private void ensure(int room) {
    if (buf.length - count >= room) {
      return;
    }
    long needed = (long) count + room;
    if (needed > MAX_ARRAY) {
      throw new IllegalArgumentException(
          "cannot encode a payload of more than " + MAX_ARRAY + " bytes");
    }
    int capacity = (int) Math.min(MAX_ARRAY, Math.max(needed, 2L * buf.length));
    buf = Arrays.copyOf(buf, capacity);
  }
}

package dev.lattice.crdt.codec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.CodingErrorAction;
import java.util.Objects;
import org.msgpack.core.MessageInsufficientBufferException;
import org.msgpack.core.MessagePack;
import org.msgpack.core.MessagePacker;
import org.msgpack.core.MessageUnpacker;

/**
 * The frame every codec shares: the payload header {@code [tag, version, ...]}, the size and
 * trailing-bytes checks, and the translation of every failure into one {@link CodecException}.
 * Subclasses write and read the body. Stateless apart from the limits; thread-safe.
 */
abstract class AbstractCodec<T> implements Codec<T> {

  /** Strings are decoded by {@link Reader} itself; this only keeps the unpacker strict too. */
  private static final MessagePack.UnpackerConfig UNPACKER_CONFIG =
      new MessagePack.UnpackerConfig()
          .withActionOnMalformedString(CodingErrorAction.REPORT)
          .withActionOnUnmappableString(CodingErrorAction.REPORT)
          .withAllowReadingBinaryAsString(false)
          .withAllowReadingStringAsBinary(false);

  /** No payload has more elements than this: the document's {@code [9, 1, id, dots, fields]}. */
  private static final int MAX_PAYLOAD_ELEMENTS = 7;

  final CodecLimits limits;
  final Writer writer;
  private final String typeName;
  private final String whereHeader;
  private final String whereTag;
  private final String whereVersion;
  private final int tag;
  private final int alternativeTag;

  /**
   * @param typeName the type's name, opening every error message
   * @param tag the tag this codec writes and reads
   * @param alternativeTag a second tag it reads, or {@code tag} again
   */
  AbstractCodec(CodecLimits limits, String typeName, int tag, int alternativeTag) {
    this.limits = Objects.requireNonNull(limits, "limits");
    this.writer = new Writer(limits);
    this.typeName = typeName;
    this.whereHeader = typeName;
    this.whereTag = typeName + ".tag";
    this.whereVersion = typeName + ".version";
    this.tag = tag;
    this.alternativeTag = alternativeTag;
  }

  /** A guess at the payload's size in bytes, to size the encoding buffer. */
  int sizeHint(T value) {
    return 128;
  }

  /** Writes the whole payload, header included. */
  abstract void writePayload(MessagePacker out, T value) throws IOException;

  /**
   * Reads the body after tag and version.
   *
   * @param tag the tag read, one of those this codec accepts
   * @param elements the body's element count (the payload array's length minus 2)
   * @param start the offset of the payload, for messages
   */
  abstract T readBody(Reader in, int tag, int elements, long start) throws IOException;

  @Override
  public final byte[] encode(T value) {
    Objects.requireNonNull(value, "value");
    GrowableOutput buffer = new GrowableOutput(sizeHint(value));
    MessagePacker out = MessagePack.DEFAULT_PACKER_CONFIG.newPacker(buffer);
    try {
      writePayload(out, value);
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e); // an in-memory buffer does not fail
    }
    byte[] bytes = buffer.toByteArray();
    if (bytes.length > limits.maxPayloadBytes()) {
      throw new IllegalArgumentException(
          "cannot encode "
              + typeName
              + ": the payload of "
              + bytes.length
              + " bytes is more than maxPayloadBytes "
              + limits.maxPayloadBytes());
    }
    return bytes;
  }

  @Override
  public final void write(MessagePacker out, T value) throws IOException {
    Objects.requireNonNull(value, "value");
    writePayload(out, value);
  }

  @Override
  public final T decode(byte[] bytes) {
    Objects.requireNonNull(bytes, "bytes");
    if (bytes.length > limits.maxPayloadBytes()) {
      throw new CodecException(
          typeName
              + ": expected a payload of at most "
              + limits.maxPayloadBytes()
              + " bytes (maxPayloadBytes), got "
              + bytes.length
              + " bytes");
    }
    MessageUnpacker in = UNPACKER_CONFIG.newUnpacker(bytes);
    T value = readPayload(new Reader(in, limits, bytes.length, true), in);
    long end = in.getTotalReadBytes();
    if (end != bytes.length) {
      throw new CodecException(
          typeName
              + ": expected the payload to fill the input, got "
              + (bytes.length - end)
              + " trailing bytes after it at byte "
              + end);
    }
    return value;
  }

  @Override
  public final T read(MessageUnpacker in) {
    Objects.requireNonNull(in, "in");
    long start = in.getTotalReadBytes();
    T value = readPayload(new Reader(in, limits, start + limits.maxPayloadBytes(), false), in);
    long size = in.getTotalReadBytes() - start;
    if (size > limits.maxPayloadBytes()) {
      throw new CodecException(
          typeName
              + ": expected a payload of at most "
              + limits.maxPayloadBytes()
              + " bytes (maxPayloadBytes), got "
              + size
              + " bytes at byte "
              + start);
    }
    return value;
  }

  private T readPayload(Reader reader, MessageUnpacker in) {
    long start = reader.position();
    try {
      int n =
          reader.arrayHeader(
              whereHeader,
              "a " + typeName + " payload [tag, version, ...]",
              MAX_PAYLOAD_ELEMENTS,
              "fixed by the format");
      if (n < 2) {
        throw Reader.error(
            whereHeader,
            start,
            "expected a "
                + typeName
                + " payload [tag, version, ...], got an array of "
                + n
                + " elements");
      }
      int found = reader.readTag(whereTag, tag, alternativeTag);
      long versionPos = reader.position();
      long version = reader.readLong(whereVersion, "a format version");
      if (version != TypeTags.FORMAT_VERSION) {
        throw Reader.error(
            whereVersion,
            versionPos,
            "expected format version "
                + TypeTags.FORMAT_VERSION
                + " of "
                + TypeTags.nameOf(found)
                + ", got unsupported version "
                + version);
      }
      return readBody(reader, found, n - 2, start);
    } catch (CodecException e) {
      throw e;
    } catch (MessageInsufficientBufferException e) {
      throw new CodecException(
          typeName + ": truncated payload: the input ends at byte " + in.getTotalReadBytes(), e);
    } catch (IOException | RuntimeException e) {
      throw new CodecException(
          typeName
              + ": malformed payload at byte "
              + in.getTotalReadBytes()
              + ": "
              + e.getClass().getSimpleName()
              + ": "
              + e.getMessage(),
          e);
    }
  }

  /** Fails unless the body has {@code expected} elements. */
  final void expectElements(int tag, int elements, int expected, long start, String shape) {
    if (elements != expected) {
      throw Reader.error(
          typeName,
          start,
          "expected "
              + TypeTags.nameOf(tag)
              + " payload "
              + shape
              + ", got an array of "
              + (elements + 2)
              + " elements");
    }
  }
}

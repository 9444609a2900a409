package dev.lattice.protocol;

import dev.lattice.crdt.codec.CodecLimits;
import java.util.Objects;

/**
 * Bounds on the frames a {@link MessageCodec} reads and writes. The frame size is checked before
 * any parsing; every string and map the protocol itself declares is checked against its limit and
 * against the bytes left in the frame before anything is allocated for it; embedded CRDT payloads
 * are bounded by {@link #codecLimits()}, whose {@code maxPayloadBytes} never exceeds {@link
 * #maxFrameBytes()} (a payload cannot be larger than the frame carrying it).
 *
 * <p>Encoding checks the same limits, so what one side writes a peer with equal limits reads.
 *
 * <p>Immutable and thread-safe. Build with {@link #builder()}.
 */
public final class ProtocolLimits {

  private static final ProtocolLimits DEFAULTS = builder().build();

  private final int maxFrameBytes;
  private final int maxDocumentIdBytes;
  private final int maxCredentialsBytes;
  private final int maxStringBytes;
  private final int maxServerLimits;
  private final CodecLimits codecLimits;

  private ProtocolLimits(Builder b) {
    this.maxFrameBytes = b.maxFrameBytes;
    this.maxDocumentIdBytes = b.maxDocumentIdBytes;
    this.maxCredentialsBytes = b.maxCredentialsBytes;
    this.maxStringBytes = b.maxStringBytes;
    this.maxServerLimits = b.maxServerLimits;
    CodecLimits base = b.codecLimits != null ? b.codecLimits : CodecLimits.defaults();
    this.codecLimits =
        base.maxPayloadBytes() <= maxFrameBytes
            ? base
            : base.toBuilder().maxPayloadBytes(maxFrameBytes).build();
  }

  /**
   * The defaults: frames of 1 MiB, document ids of 512 UTF-8 bytes, credentials of 8 KiB, other
   * strings (client name, session id, error message, limit names) of 64 KiB, 256 entries in
   * WELCOME's limits map, and {@link CodecLimits#defaults()} with payloads capped at the frame
   * size.
   */
  public static ProtocolLimits defaults() {
    return DEFAULTS;
  }

  /** A builder starting from the {@link #defaults()}. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from these limits. */
  public Builder toBuilder() {
    return new Builder()
        .maxFrameBytes(maxFrameBytes)
        .maxDocumentIdBytes(maxDocumentIdBytes)
        .maxCredentialsBytes(maxCredentialsBytes)
        .maxStringBytes(maxStringBytes)
        .maxServerLimits(maxServerLimits)
        .codecLimits(codecLimits);
  }

  /** The largest frame, in bytes, that is read or written. */
  public int maxFrameBytes() {
    return maxFrameBytes;
  }

  /** The longest document id, in UTF-8 bytes. */
  public int maxDocumentIdBytes() {
    return maxDocumentIdBytes;
  }

  /** The longest HELLO credentials, in UTF-8 bytes. */
  public int maxCredentialsBytes() {
    return maxCredentialsBytes;
  }

  /**
   * The longest other protocol string (client name, session id, error message, limit name), in
   * UTF-8 bytes. Strings inside CRDT payloads are bounded by {@link #codecLimits()} instead.
   */
  public int maxStringBytes() {
    return maxStringBytes;
  }

  /** The most entries in WELCOME's limits map. */
  public int maxServerLimits() {
    return maxServerLimits;
  }

  /** The limits of embedded CRDT payloads and presence values. */
  public CodecLimits codecLimits() {
    return codecLimits;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ProtocolLimits other
        && other.maxFrameBytes == maxFrameBytes
        && other.maxDocumentIdBytes == maxDocumentIdBytes
        && other.maxCredentialsBytes == maxCredentialsBytes
        && other.maxStringBytes == maxStringBytes
        && other.maxServerLimits == maxServerLimits
        && other.codecLimits.equals(codecLimits);
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        maxFrameBytes,
        maxDocumentIdBytes,
        maxCredentialsBytes,
        maxStringBytes,
        maxServerLimits,
        codecLimits);
  }

  @Override
  public String toString() {
    return "ProtocolLimits[maxFrameBytes="
        + maxFrameBytes
        + ", maxDocumentIdBytes="
        + maxDocumentIdBytes
        + ", maxCredentialsBytes="
        + maxCredentialsBytes
        + ", maxStringBytes="
        + maxStringBytes
        + ", maxServerLimits="
        + maxServerLimits
        + ", codecLimits="
        + codecLimits
        + "]";
  }

  /**
   * Builds {@link ProtocolLimits}, starting from the defaults. Setters refuse a bad value at once
   * with an {@link IllegalArgumentException} naming it. Not thread-safe.
   */
  public static final class Builder {
    private int maxFrameBytes = 1024 * 1024;
    private int maxDocumentIdBytes = 512;
    private int maxCredentialsBytes = 8 * 1024;
    private int maxStringBytes = 64 * 1024;
    private int maxServerLimits = 256;
    private CodecLimits codecLimits;

    private Builder() {}

    /**
     * @throws IllegalArgumentException unless {@code bytes >= 16} (the smallest useful frame)
     */
    public Builder maxFrameBytes(int bytes) {
      this.maxFrameBytes = atLeast("maxFrameBytes", bytes, 16);
      return this;
    }

    /**
     * @throws IllegalArgumentException unless {@code bytes >= 1}
     */
    public Builder maxDocumentIdBytes(int bytes) {
      this.maxDocumentIdBytes = atLeast("maxDocumentIdBytes", bytes, 1);
      return this;
    }

    /**
     * @throws IllegalArgumentException if {@code bytes} is negative
     */
    public Builder maxCredentialsBytes(int bytes) {
      this.maxCredentialsBytes = atLeast("maxCredentialsBytes", bytes, 0);
      return this;
    }

    /**
     * @throws IllegalArgumentException if {@code bytes} is negative
     */
    public Builder maxStringBytes(int bytes) {
      this.maxStringBytes = atLeast("maxStringBytes", bytes, 0);
      return this;
    }

    /**
     * @throws IllegalArgumentException if {@code entries} is negative
     */
    public Builder maxServerLimits(int entries) {
      this.maxServerLimits = atLeast("maxServerLimits", entries, 0);
      return this;
    }

    /**
     * The limits of embedded CRDT payloads; {@code maxPayloadBytes} is lowered to {@code
     * maxFrameBytes} if above it.
     */
    public Builder codecLimits(CodecLimits limits) {
      this.codecLimits = Objects.requireNonNull(limits, "codecLimits");
      return this;
    }

    /** The limits set so far. */
    public ProtocolLimits build() {
      return new ProtocolLimits(this);
    }

    private static int atLeast(String name, int value, int min) {
      if (value < min) {
        throw new IllegalArgumentException(name + " must be >= " + min + ", was " + value);
      }
      return value;
    }
  }
}

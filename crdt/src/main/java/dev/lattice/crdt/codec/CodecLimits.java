package dev.lattice.crdt.codec;

/**
 * Bounds on what a decoder accepts from untrusted bytes. Every length a payload declares is checked
 * against the matching limit and against the bytes left in the payload before anything is allocated
 * for it, so forged lengths cost nothing; nesting is bounded so that deep input cannot exhaust the
 * stack.
 *
 * <p>Encoders check the same limits (except {@link #maxPayloadBytes()}, checked on the finished
 * payload) and refuse with {@link IllegalArgumentException} a value that decoders with these limits
 * would refuse, so what one side writes the other reads.
 *
 * <p>Immutable and thread-safe. Build with {@link #builder()}; {@link #defaults()} are sized for a
 * server: a 1,000,000-field document round-trips.
 */
public final class CodecLimits {

  /** The largest {@link #maxDepth()} accepted: decoding recurses once per nesting level. */
  public static final int MAX_DEPTH_CEILING = 512;

  private static final CodecLimits DEFAULTS = builder().build();

  private final int maxPayloadBytes;
  private final int maxStringBytes;
  private final int maxBinaryBytes;
  private final int maxCollectionSize;
  private final int maxDepth;
  private final int maxFields;
  private final int maxReplicas;
  private final int maxDotRanges;
  private final int maxCrdtDepth;
  private final int maxCausalEntries;

  private CodecLimits(Builder b) {
    this.maxPayloadBytes = b.maxPayloadBytes;
    this.maxStringBytes = b.maxStringBytes;
    this.maxBinaryBytes = b.maxBinaryBytes;
    this.maxCollectionSize = b.maxCollectionSize;
    this.maxDepth = b.maxDepth;
    this.maxFields = b.maxFields;
    this.maxReplicas = b.maxReplicas;
    this.maxDotRanges = b.maxDotRanges;
    this.maxCrdtDepth = b.maxCrdtDepth;
    this.maxCausalEntries = b.maxCausalEntries;
  }

  /** A builder starting from the {@link #defaults()}. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * The default limits: payload 64 MiB, strings and binaries 1 MiB each, 100,000 elements per value
   * array or map, values nested 32 deep, 1,048,576 fields per document or delta, 65,536 replicas
   * per counter, vector or touched vector, 65,536 ranges per dot set, CRDTs nested 8 deep in
   * OR-Maps, 1,048,576 live entries per OR-Set, MV-Register or OR-Map.
   */
  public static CodecLimits defaults() {
    return DEFAULTS;
  }

  /** A builder starting from these limits. */
  public Builder toBuilder() {
    return new Builder()
        .maxPayloadBytes(maxPayloadBytes)
        .maxStringBytes(maxStringBytes)
        .maxBinaryBytes(maxBinaryBytes)
        .maxCollectionSize(maxCollectionSize)
        .maxDepth(maxDepth)
        .maxFields(maxFields)
        .maxReplicas(maxReplicas)
        .maxDotRanges(maxDotRanges)
        .maxCrdtDepth(maxCrdtDepth)
        .maxCausalEntries(maxCausalEntries);
  }

  /** The largest payload, in bytes, that a decoder reads. */
  public int maxPayloadBytes() {
    return maxPayloadBytes;
  }

  /** The longest string (a value, a field name, a document id), in UTF-8 bytes. */
  public int maxStringBytes() {
    return maxStringBytes;
  }

  /** The longest binary value, in bytes. */
  public int maxBinaryBytes() {
    return maxBinaryBytes;
  }

  /** The most elements of one array value or entries of one map value. */
  public int maxCollectionSize() {
    return maxCollectionSize;
  }

  /**
   * The deepest nesting of array and map values: a scalar has depth 0, an array of scalars depth 1.
   */
  public int maxDepth() {
    return maxDepth;
  }

  /** The most fields of one document or delta. */
  public int maxFields() {
    return maxFields;
  }

  /** The most replicas in one counter half, version vector or touched vector. */
  public int maxReplicas() {
    return maxReplicas;
  }

  /** The most ranges in one dot set. */
  public int maxDotRanges() {
    return maxDotRanges;
  }

  /**
   * The deepest nesting of CRDTs in OR-Maps: a document field has depth 0, a value of an OR-Map
   * field depth 1. Decoding recurses once per level, and a deeper state is refused before its body
   * is read.
   */
  public int maxCrdtDepth() {
    return maxCrdtDepth;
  }

  /**
   * The most live entries of one OR-Set, MV-Register or OR-Map (its dots with a value): a set of a
   * million elements is a normal thing to keep, unlike a value array of that size, so this is apart
   * from {@link #maxCollectionSize()}.
   */
  public int maxCausalEntries() {
    return maxCausalEntries;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof CodecLimits other
        && other.maxPayloadBytes == maxPayloadBytes
        && other.maxStringBytes == maxStringBytes
        && other.maxBinaryBytes == maxBinaryBytes
        && other.maxCollectionSize == maxCollectionSize
        && other.maxDepth == maxDepth
        && other.maxFields == maxFields
        && other.maxReplicas == maxReplicas
        && other.maxDotRanges == maxDotRanges
        && other.maxCrdtDepth == maxCrdtDepth
        && other.maxCausalEntries == maxCausalEntries;
  }

  @Override
  public int hashCode() {
    int h = maxPayloadBytes;
    h = 31 * h + maxStringBytes;
    h = 31 * h + maxBinaryBytes;
    h = 31 * h + maxCollectionSize;
    h = 31 * h + maxDepth;
    h = 31 * h + maxFields;
    h = 31 * h + maxReplicas;
    h = 31 * h + maxDotRanges;
    h = 31 * h + maxCrdtDepth;
    return 31 * h + maxCausalEntries;
  }

  @Override
  public String toString() {
    return "CodecLimits[maxPayloadBytes="
        + maxPayloadBytes
        + ", maxStringBytes="
        + maxStringBytes
        + ", maxBinaryBytes="
        + maxBinaryBytes
        + ", maxCollectionSize="
        + maxCollectionSize
        + ", maxDepth="
        + maxDepth
        + ", maxFields="
        + maxFields
        + ", maxReplicas="
        + maxReplicas
        + ", maxDotRanges="
        + maxDotRanges
        + ", maxCrdtDepth="
        + maxCrdtDepth
        + ", maxCausalEntries="
        + maxCausalEntries
        + "]";
  }

  /**
   * Builds {@link CodecLimits}, starting from the defaults. Setters refuse a bad value at once with
   * an {@link IllegalArgumentException} naming it. Not thread-safe.
   */
  public static final class Builder {
    private int maxPayloadBytes = 64 * 1024 * 1024;
    private int maxStringBytes = 1024 * 1024;
    private int maxBinaryBytes = 1024 * 1024;
    private int maxCollectionSize = 100_000;
    private int maxDepth = 32;
    private int maxFields = 1_048_576;
    private int maxReplicas = 65_536;
    private int maxDotRanges = 65_536;
    private int maxCrdtDepth = 8;
    private int maxCausalEntries = 1_048_576;

    private Builder() {}

    /**
     * @throws IllegalArgumentException unless {@code bytes >= 1}
     */
    public Builder maxPayloadBytes(int bytes) {
      this.maxPayloadBytes = atLeast("maxPayloadBytes", bytes, 1);
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
     * @throws IllegalArgumentException if {@code bytes} is negative
     */
    public Builder maxBinaryBytes(int bytes) {
      this.maxBinaryBytes = atLeast("maxBinaryBytes", bytes, 0);
      return this;
    }

    /**
     * @throws IllegalArgumentException if {@code size} is negative
     */
    public Builder maxCollectionSize(int size) {
      this.maxCollectionSize = atLeast("maxCollectionSize", size, 0);
      return this;
    }

    /**
     * @throws IllegalArgumentException unless {@code 0 <= depth <=} {@link #MAX_DEPTH_CEILING}
     */
    public Builder maxDepth(int depth) {
      atLeast("maxDepth", depth, 0);
      if (depth > MAX_DEPTH_CEILING) {
        throw new IllegalArgumentException(
            "maxDepth must be <= " + MAX_DEPTH_CEILING + ", was " + depth);
      }
      this.maxDepth = depth;
      return this;
    }

    /**
     * @throws IllegalArgumentException if {@code fields} is negative
     */
    public Builder maxFields(int fields) {
      this.maxFields = atLeast("maxFields", fields, 0);
      return this;
    }

    /**
     * @throws IllegalArgumentException if {@code replicas} is negative
     */
    public Builder maxReplicas(int replicas) {
      this.maxReplicas = atLeast("maxReplicas", replicas, 0);
      return this;
    }

    /**
     * @throws IllegalArgumentException if {@code ranges} is negative
     */
    public Builder maxDotRanges(int ranges) {
      this.maxDotRanges = atLeast("maxDotRanges", ranges, 0);
      return this;
    }

    /**
     * @throws IllegalArgumentException unless {@code 0 <= depth <=} {@link #MAX_DEPTH_CEILING}
     */
    public Builder maxCrdtDepth(int depth) {
      atLeast("maxCrdtDepth", depth, 0);
      if (depth > MAX_DEPTH_CEILING) {
        throw new IllegalArgumentException(
            "maxCrdtDepth must be <= " + MAX_DEPTH_CEILING + ", was " + depth);
      }
      this.maxCrdtDepth = depth;
      return this;
    }

    /**
     * @throws IllegalArgumentException if {@code entries} is negative
     */
    public Builder maxCausalEntries(int entries) {
      this.maxCausalEntries = atLeast("maxCausalEntries", entries, 0);
      return this;
    }

    /** The limits set so far. */
    public CodecLimits build() {
      return new CodecLimits(this);
    }

    private static int atLeast(String name, int value, int min) {
      if (value < min) {
        throw new IllegalArgumentException(name + " must be >= " + min + ", was " + value);
      }
      return value;
    }
  }
}

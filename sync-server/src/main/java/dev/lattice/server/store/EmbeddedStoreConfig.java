package dev.lattice.server.store;

import dev.lattice.crdt.codec.CrdtCodecs;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * The settings of a {@link RocksDbDocumentStore}. Immutable and thread-safe; build one with {@link
 * #builder()}.
 */
public final class EmbeddedStoreConfig {

  /** The data directory used unless another is configured: {@code ./lattice-data}. */
  public static final Path DEFAULT_DATA_DIRECTORY = Path.of("lattice-data");

  private final Path dataDirectory;
  private final int maxBatchSize;
  private final Duration maxBatchDelay;
  private final int compactionThreshold;
  private final CrdtCodecs codecs;
  final TestHooks hooks;

  private EmbeddedStoreConfig(Builder b) {
    this.dataDirectory = b.dataDirectory;
    this.maxBatchSize = b.maxBatchSize;
    this.maxBatchDelay = b.maxBatchDelay;
    this.compactionThreshold = b.compactionThreshold;
    this.codecs = b.codecs;
    this.hooks = b.hooks;
  }

  /** A builder holding the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** The default settings. */
  public static EmbeddedStoreConfig defaults() {
    return builder().build();
  }

  /** Where the store keeps its files; default {@code ./lattice-data}. */
  public Path dataDirectory() {
    return dataDirectory;
  }

  /** The most deltas one commit (one fsync) makes durable; default 1024. */
  public int maxBatchSize() {
    return maxBatchSize;
  }

  /**
   * How long a commit may wait for more deltas once it has one; default zero: a batch is whatever
   * queued while the previous commit was in flight, so a lone append pays no delay.
   */
  public Duration maxBatchDelay() {
    return maxBatchDelay;
  }

  /**
   * After this many deltas of one document since its last compaction, the store compacts it in the
   * background; 0 turns automatic compaction off. Default 1000.
   */
  public int compactionThreshold() {
    return compactionThreshold;
  }

  /** The codecs of stored snapshots and deltas; default {@link CrdtCodecs#defaults()}. */
  public CrdtCodecs codecs() {
    return codecs;
  }

  @Override
  public String toString() {
    return "EmbeddedStoreConfig[dataDirectory="
        + dataDirectory
        + ", maxBatchSize="
        + maxBatchSize
        + ", maxBatchDelay="
        + maxBatchDelay
        + ", compactionThreshold="
        + compactionThreshold
        + "]";
  }

  /** Points where tests pause the store to force an interleaving. Package-private. */
  interface TestHooks {
    TestHooks NONE = new TestHooks() {};

    /** Called on the committer thread before a batch is written. */
    default void beforeCommit(int batchSize) {}

    /** Called after compaction read the document and before it writes the snapshot. */
    default void beforeCompactionWrite(String documentId) {}
  }

  /** Builds an {@link EmbeddedStoreConfig}; setters fail fast on bad values. Not thread-safe. */
  public static final class Builder {
    private Path dataDirectory = DEFAULT_DATA_DIRECTORY;
    private int maxBatchSize = 1024;
    private Duration maxBatchDelay = Duration.ZERO;
    private int compactionThreshold = 1000;
    private CrdtCodecs codecs = CrdtCodecs.defaults();
    private TestHooks hooks = TestHooks.NONE;

    private Builder() {}

    /** Sets the data directory. */
    public Builder dataDirectory(Path dataDirectory) {
      this.dataDirectory = Objects.requireNonNull(dataDirectory, "dataDirectory");
      return this;
    }

    /**
     * Sets the most deltas per commit.
     *
     * @throws IllegalArgumentException if {@code maxBatchSize} is not positive
     */
    public Builder maxBatchSize(int maxBatchSize) {
      if (maxBatchSize < 1) {
        throw new IllegalArgumentException("maxBatchSize must be at least 1, was " + maxBatchSize);
      }
      this.maxBatchSize = maxBatchSize;
      return this;
    }

    /**
     * Sets how long a commit may wait to fill its batch.
     *
     * @throws IllegalArgumentException if {@code maxBatchDelay} is negative or over one second
     */
    public Builder maxBatchDelay(Duration maxBatchDelay) {
      Objects.requireNonNull(maxBatchDelay, "maxBatchDelay");
      if (maxBatchDelay.isNegative() || maxBatchDelay.compareTo(Duration.ofSeconds(1)) > 0) {
        throw new IllegalArgumentException(
            "maxBatchDelay must be between 0 and 1s, was " + maxBatchDelay);
      }
      this.maxBatchDelay = maxBatchDelay;
      return this;
    }

    /**
     * Sets the per-document delta count that triggers automatic compaction; 0 turns it off.
     *
     * @throws IllegalArgumentException if {@code compactionThreshold} is negative
     */
    public Builder compactionThreshold(int compactionThreshold) {
      if (compactionThreshold < 0) {
        throw new IllegalArgumentException(
            "compactionThreshold must be 0 (off) or positive, was " + compactionThreshold);
      }
      this.compactionThreshold = compactionThreshold;
      return this;
    }

    /** Sets the codecs of stored snapshots and deltas. */
    public Builder codecs(CrdtCodecs codecs) {
      this.codecs = Objects.requireNonNull(codecs, "codecs");
      return this;
    }

    Builder hooks(TestHooks hooks) {
      this.hooks = Objects.requireNonNull(hooks, "hooks");
      return this;
    }

    /** The config. */
    public EmbeddedStoreConfig build() {
      return new EmbeddedStoreConfig(this);
    }
  }
}

package dev.lattice.server.hub;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.server.spi.DocumentStore;
import dev.lattice.server.spi.Replicator;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executor;

/**
 * The settings of a {@link DefaultHub}: its store, threads, clock and limits. Built with {@link
 * #builder}; setters fail fast with a message naming the bad value.
 *
 * <p>Immutable and thread-safe (the objects it holds are shared, not copied).
 */
public final class HubConfig {

  /** Default {@link Builder#maxFieldsPerDocument}: 10,000. */
  public static final int DEFAULT_MAX_FIELDS_PER_DOCUMENT = 10_000;

  /** Default {@link Builder#maxPresenceTtl}: 60 seconds. */
  public static final Duration DEFAULT_MAX_PRESENCE_TTL = Duration.ofSeconds(60);

  /** Default {@link Builder#repairDelay}: 100 milliseconds. */
  public static final Duration DEFAULT_REPAIR_DELAY = Duration.ofMillis(100);

  private final DocumentStore store;
  private final ReplicaId serverReplicaId;
  private final Executor executor;
  private final HubScheduler scheduler;
  private final HybridLogicalClock clock;
  private final int maxFieldsPerDocument;
  private final Duration maxPresenceTtl;
  private final DocumentCache cache;
  private final int maxEditFieldBytes;
  private final HubObserver observer;
  private final Duration minRoundInterval;
  private final Replicator replicator;
  private final Duration repairDelay;
  private final DocumentHooks hooks;

  private HubConfig(Builder b) {
    this.store = b.store;
    this.serverReplicaId = b.serverReplicaId;
    this.executor = b.executor;
    this.scheduler = b.scheduler;
    this.clock = b.clock != null ? b.clock : new HybridLogicalClock();
    this.maxFieldsPerDocument = b.maxFieldsPerDocument;
    this.maxPresenceTtl = b.maxPresenceTtl;
    this.cache = b.cache;
    this.maxEditFieldBytes = b.maxEditFieldBytes;
    this.observer = b.observer;
    this.minRoundInterval = b.minRoundInterval;
    this.replicator = b.replicator;
    this.repairDelay = b.repairDelay;
    this.hooks = b.hooks;
  }

  /** A builder over the store the hub makes deltas durable in and the server's replica id. */
  public static Builder builder(DocumentStore store, ReplicaId serverReplicaId) {
    return new Builder(store, serverReplicaId);
  }

  /** The durable store. */
  public DocumentStore store() {
    return store;
  }

  /** The server's own replica id (the origin of its writes, for replication). */
  public ReplicaId serverReplicaId() {
    return serverReplicaId;
  }

  /** The executor for document work; empty means the hub creates (and owns) a fixed pool. */
  public Optional<Executor> executor() {
    return Optional.ofNullable(executor);
  }

  /** The scheduler for presence expiry; empty means the hub creates (and owns) one thread. */
  public Optional<HubScheduler> scheduler() {
    return Optional.ofNullable(scheduler);
  }

  /** The server's clock: every accepted delta's greatest timestamp is fed to it. */
  public HybridLogicalClock clock() {
    return clock;
  }

  /** The most fields a document may have; an update adding fields beyond it is refused. */
  public int maxFieldsPerDocument() {
    return maxFieldsPerDocument;
  }

  /** The longest presence TTL honoured; longer ones are cut to it. */
  public Duration maxPresenceTtl() {
    return maxPresenceTtl;
  }

  /** Where documents nobody subscribes to are kept; default {@link DocumentCache#none()}. */
  public DocumentCache cache() {
    return cache;
  }

  /**
   * The most bytes a field name and register value of a server-side edit may take, encoded, so that
   * the field reaches clients in one frame; default {@link Integer#MAX_VALUE}.
   */
  public int maxEditFieldBytes() {
    return maxEditFieldBytes;
  }

  /** Told merge, append and fan-out timings; default {@link HubObserver#NONE}. */
  public HubObserver observer() {
    return observer;
  }

  /**
   * The least time between the starts of two rounds of one document; default zero. See {@link
   * Builder#minRoundInterval}.
   */
  public Duration minRoundInterval() {
    return minRoundInterval;
  }

  /** The port to other server processes; default {@link Replicator#none()}. */
  public Replicator replicator() {
    return replicator;
  }

  /**
   * How long a break in a document's chain of appends may last before the hub reads the missing
   * part from the store; default {@link #DEFAULT_REPAIR_DELAY}. See {@link Builder#repairDelay}.
   */
  public Duration repairDelay() {
    return repairDelay;
  }

  /** Told of loads, durable changes, appends and releases; default {@link DocumentHooks#NONE}. */
  public DocumentHooks hooks() {
    return hooks;
  }

  @Override
  public String toString() {
    return "HubConfig[store="
        + store.getClass().getSimpleName()
        + ", serverReplicaId="
        + serverReplicaId
        + ", maxFieldsPerDocument="
        + maxFieldsPerDocument
        + ", maxPresenceTtl="
        + maxPresenceTtl
        + ", minRoundInterval="
        + minRoundInterval
        + "]";
  }

  /** Builds a {@link HubConfig}. Not thread-safe; use from one thread. */
  public static final class Builder {
    private final DocumentStore store;
    private final ReplicaId serverReplicaId;
    private Executor executor;
    private HubScheduler scheduler;
    private Duration minRoundInterval = Duration.ZERO;
    private HybridLogicalClock clock;
    private int maxFieldsPerDocument = DEFAULT_MAX_FIELDS_PER_DOCUMENT;
    private Duration maxPresenceTtl = DEFAULT_MAX_PRESENCE_TTL;
    private DocumentCache cache = DocumentCache.none();
    private HubObserver observer = HubObserver.NONE;
    private int maxEditFieldBytes = Integer.MAX_VALUE;
    private Replicator replicator = Replicator.none();
    private Duration repairDelay = DEFAULT_REPAIR_DELAY;
    private DocumentHooks hooks = DocumentHooks.NONE;

    private Builder(DocumentStore store, ReplicaId serverReplicaId) {
      this.store = Objects.requireNonNull(store, "store must not be null");
      this.serverReplicaId =
          Objects.requireNonNull(serverReplicaId, "serverReplicaId must not be null");
    }

    /**
     * The executor document work runs on (each document's tasks still run one at a time). Default:
     * a fixed pool of one daemon thread per processor, shut down by {@link DefaultHub#close()}.
     */
    public Builder executor(Executor executor) {
      this.executor = Objects.requireNonNull(executor, "executor must not be null");
      return this;
    }

    /**
     * The scheduler for presence expiry. Default: one daemon thread and {@link System#nanoTime()},
     * shut down by {@link DefaultHub#close()}.
     */
    public Builder scheduler(HubScheduler scheduler) {
      this.scheduler = Objects.requireNonNull(scheduler, "scheduler must not be null");
      return this;
    }

    /** The server's clock. Default: a new {@link HybridLogicalClock} on the system clock. */
    public Builder clock(HybridLogicalClock clock) {
      this.clock = Objects.requireNonNull(clock, "clock must not be null");
      return this;
    }

    /**
     * The most fields a document may have, at least 1. Default 10,000.
     *
     * @throws IllegalArgumentException if {@code max < 1}
     */
    public Builder maxFieldsPerDocument(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("maxFieldsPerDocument must be at least 1, was " + max);
      }
      this.maxFieldsPerDocument = max;
      return this;
    }

    /**
     * The longest presence TTL honoured, positive. Default 60 seconds.
     *
     * @throws IllegalArgumentException if {@code ttl} is zero or negative
     */
    public Builder maxPresenceTtl(Duration ttl) {
      Objects.requireNonNull(ttl, "maxPresenceTtl must not be null");
      if (ttl.isZero() || ttl.isNegative()) {
        throw new IllegalArgumentException("maxPresenceTtl must be positive, was " + ttl);
      }
      this.maxPresenceTtl = ttl;
      return this;
    }

    /** Where documents nobody subscribes to are kept between subscriptions. Default: nowhere. */
    public Builder cache(DocumentCache cache) {
      this.cache = Objects.requireNonNull(cache, "cache must not be null");
      return this;
    }

    /** Told merge, append and fan-out timings, for metrics. Default: nobody. */
    public Builder observer(HubObserver observer) {
      this.observer = Objects.requireNonNull(observer, "observer must not be null");
      return this;
    }

    /**
     * The most bytes a field name and register value of a server-side edit may take, encoded; the
     * server sets it below its frame limit. Default: no bound.
     *
     * @throws IllegalArgumentException if {@code bytes < 1}
     */
    public Builder maxEditFieldBytes(int bytes) {
      if (bytes < 1) {
        throw new IllegalArgumentException("maxEditFieldBytes must be at least 1, was " + bytes);
      }
      this.maxEditFieldBytes = bytes;
      return this;
    }

    /**
     * The least time between the starts of two rounds of one document. A round that would start
     * sooner after the previous one waits for the rest of the interval, gathering what arrives
     * meanwhile. A document busier than one round per interval thus sends fewer, larger fan-out
     * frames (the socket write per subscriber per round is what a hot document costs most), at up
     * to one interval of extra latency; a quieter one is not delayed at all. Default zero: a round
     * starts as soon as the one before is durable.
     *
     * @throws IllegalArgumentException if negative or over one second
     */
    public Builder minRoundInterval(Duration interval) {
      Objects.requireNonNull(interval, "minRoundInterval must not be null");
      if (interval.isNegative() || interval.compareTo(Duration.ofSeconds(1)) > 0) {
        throw new IllegalArgumentException(
            "minRoundInterval must be within 0 and 1 s, was " + interval);
      }
      this.minRoundInterval = interval;
      return this;
    }

    /**
     * The port to other server processes serving the same store. Default {@link Replicator#none()}:
     * this process is the store's only writer. The hub starts it and closes it in {@link
     * DefaultHub#close()}.
     */
    public Builder replicator(Replicator replicator) {
      this.replicator = Objects.requireNonNull(replicator, "replicator must not be null");
      return this;
    }

    /**
     * How long a document's chain of appends may stay broken (an announcement seen out of order, or
     * a newer position reported by the replicator's check) before the hub reads what it missed from
     * the store. Announcements usually arrive within a millisecond or two of each other, so a short
     * wait saves a store read for every reordering, while the document still repairs well within a
     * second. Default 100 ms.
     *
     * @throws IllegalArgumentException if negative or over ten seconds
     */
    public Builder repairDelay(Duration delay) {
      Objects.requireNonNull(delay, "repairDelay must not be null");
      if (delay.isNegative() || delay.compareTo(Duration.ofSeconds(10)) > 0) {
        throw new IllegalArgumentException("repairDelay must be within 0 and 10 s, was " + delay);
      }
      this.repairDelay = delay;
      return this;
    }

    /**
     * Told when a document is made live (and may seed it), of each durable change, each append and
     * each release: the seam of the server's extensions. Default {@link DocumentHooks#NONE}.
     */
    public Builder hooks(DocumentHooks hooks) {
      this.hooks = Objects.requireNonNull(hooks, "hooks must not be null");
      return this;
    }

    /** The configuration. */
    public HubConfig build() {
      return new HubConfig(this);
    }
  }
}

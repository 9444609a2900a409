package dev.lattice.server.hub;

import dev.lattice.server.spi.Replicator;

/**
 * Counters of a {@link DefaultHub}, for metrics. Counts are since the hub was created; {@code
 * documentsLive} and {@code subscriptions} are current values. A snapshot: the fields are read one
 * by one, not atomically together.
 *
 * <p>Immutable and thread-safe.
 *
 * @param documentsLive documents held in memory (loaded or loading)
 * @param subscriptions current (connection, document) subscriptions
 * @param loads documents loaded from the store
 * @param updatesMerged updates that brought something new and were appended to the store
 * @param duplicateUpdates updates already held, acknowledged without a second append
 * @param refusedUpdates updates refused (not subscribed, too many fields, type mismatch, drift)
 * @param appendFailures appends the store failed
 * @param fanOutMessages updates sent to other subscribers
 * @param presenceMessages presence messages sent (announcements, leaves, catch-up)
 * @param cacheHits documents taken from the {@link DocumentCache} instead of loaded from the store
 * @param remoteDeltas deltas of other server processes merged here (through the {@link Replicator})
 * @param repairs reads from the store after a lost or doubtful delivery
 * @param reseeds documents written back whole to a store that had lost them
 * @param gaps breaks in a document's chain of appends (or a store head ahead of it) still there
 *     after the repair delay: replication messages lost, each answered by a repair
 * @param typeConflicts rounds the store refused because another server made one of their fields
 *     durable first with another type (Redis mode); each is read again from the store
 */
public record HubStats(
    int documentsLive,
    long subscriptions,
    long loads,
    long updatesMerged,
    long duplicateUpdates,
    long refusedUpdates,
    long appendFailures,
    long fanOutMessages,
    long presenceMessages,
    long cacheHits,
    long remoteDeltas,
    long repairs,
    long reseeds,
    long gaps,
    long typeConflicts) {}

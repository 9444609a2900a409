package dev.lattice.server.spi;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.protocol.Presence;

/**
 * Where a {@link Replicator} delivers what other server processes did: the hub. Every method may be
 * called from any thread and returns at once; the work runs on the document's serial executor,
 * behind what is already queued there. Calls for documents that are not live here are ignored.
 *
 * <p>Thread-safe.
 */
public interface ReplicationSink {

  /**
   * Another process made {@code delta} durable at {@code appended}: merge it, fan it out to the
   * subscribers here, and never announce it again. Duplicates and stale deliveries are harmless.
   */
  void deliver(String documentId, DocumentDelta delta, Appended appended);

  /**
   * The store's newest position of the document is {@code latest} (a periodic check): if this hub
   * has not seen it by {@code HubConfig.repairDelay()} from now, it repairs from the store. {@link
   * StoreCursor#ORIGIN} says the store holds nothing of the document: a hub that holds some (the
   * store lost it, say Redis restarted empty) writes its whole document back, and reads the store's
   * again from the origin.
   */
  void head(String documentId, StoreCursor latest);

  /**
   * Deliveries of {@code documentId} may have been lost (the replicator reconnected, or its
   * subscription lagged): repair from the store now.
   */
  void mayHaveMissed(String documentId);

  /**
   * A subscriber on another process set, renewed or ended ({@code leave}) its presence; the hub
   * shows it to its subscribers like a local one and forgets it when its TTL passes.
   */
  void presence(Presence presence);
}

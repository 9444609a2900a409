package dev.lattice.server.hub;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.server.spi.DocumentEdit;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The document layer of the server: owns the live documents, merges deltas into them, makes them
 * durable through the store, and fans them out to every other subscriber. Knows nothing of sockets,
 * Jetty or frames: the server session calls it with decoded requests, and it answers through
 * futures and {@link Connection#send}.
 *
 * <p>Each document has a single writer (a serial executor): merges, appends to the store and
 * fan-out of one document happen in one order. Futures may complete on a hub or store thread;
 * callers continue with {@code *Async} stages if they do real work.
 *
 * <p>Implementations are thread-safe.
 */
public interface Hub {

  /**
   * Subscribes {@code connection} to the document, loading it from the store if it is not live (a
   * document that never existed starts empty). From the moment the future completes, every update
   * other connections make to the document is sent to {@code connection}.
   *
   * @return what the client lacks relative to {@code clientVector} and the server's own vector (the
   *     client then sends what the server lacks); fails with {@link HubException} (for example when
   *     the store cannot load the document)
   */
  CompletableFuture<SyncResult> subscribe(
      Connection connection, String documentId, VersionVector clientVector);

  /**
   * Merges {@code delta} into the document, appends it to the store and, once it is durable, sends
   * it (as an update with no request id) to every other subscriber of the document.
   *
   * @return completes when the delta is durable: only then may the caller acknowledge it; fails
   *     with {@link HubException} carrying the protocol error code when the delta is refused (not
   *     subscribed, a field of another type, too many fields, a counter past 2^63-1) or cannot be
   *     made durable. A refused delta changes nothing. With a store several servers share, a field
   *     another server made durable first with another type is found only when the store refuses
   *     the append: the delta then fails with {@code FIELD_TYPE_MISMATCH} after it was merged, and
   *     the hub reads the document back from the store, so it changes nothing either.
   */
  CompletableFuture<Void> update(Connection connection, String documentId, DocumentDelta delta);

  /**
   * Applies a change made by server-side code (not a client) to the document, as an update of the
   * server's own replica: loaded if it is not live, checked like a client's update (field types,
   * field count), merged, made durable and then sent to every subscriber. {@code edits} runs on the
   * calling thread to collect the change, before the hub touches the document.
   *
   * @return completes with the delta applied once it is durable and handed to every subscriber;
   *     fails with {@link HubException} ({@code FIELD_TYPE_MISMATCH}, {@code TOO_MANY_FIELDS},
   *     {@code COUNTER_OVERFLOW}, or {@code INTERNAL} when the store fails). A refused edit changes
   *     nothing; an empty edit completes with an empty delta. An edit that failed with {@code
   *     INTERNAL} was merged all the same and may still become durable (the hub appends it again),
   *     so do not repeat it blindly.
   */
  CompletableFuture<DocumentDelta> edit(String documentId, Consumer<DocumentEdit> edits);

  /** Stops sending the document's updates to {@code connection} and clears its presence there. */
  void unsubscribe(Connection connection, String documentId);

  /**
   * Sets (or, with an empty value, clears) {@code connection}'s presence on the document and
   * announces it to the other subscribers. A presence not renewed within {@code ttl} expires and
   * its removal is announced.
   *
   * @throws HubException if the connection is not subscribed to the document
   */
  void presence(Connection connection, String documentId, Optional<Value> value, Duration ttl);

  /** Unsubscribes {@code connection} from everything; its presences are removed and announced. */
  void disconnect(Connection connection);

  /** The result of a subscription: the catch-up delta and the server's version vector. */
  record SyncResult(DocumentDelta missing, VersionVector serverVector) {}
}

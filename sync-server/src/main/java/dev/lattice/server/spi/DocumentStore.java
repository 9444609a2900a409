package dev.lattice.server.spi;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HlcTimestamp;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Where the server keeps documents durably: per document, a snapshot and the deltas appended since,
 * folded into a new snapshot by compaction.
 *
 * <p>The contract every implementation keeps:
 *
 * <ul>
 *   <li><b>Acknowledged means durable.</b> The future of {@link #append} completes normally only
 *       once the delta survives a crash of the process (and, for stores on disk, of the machine);
 *       an I/O failure fails the future, never drops the delta silently.
 *   <li><b>Order.</b> Appends of one document become durable in the order {@link #append} was
 *       called; a delta whose future completed is seen by every later {@link #load}.
 *   <li><b>A failed load throws.</b> {@link #load} returns empty only for a document that was never
 *       stored; unreadable data throws {@link StoreException}, so a caller never mistakes lost data
 *       for a new, empty document and overwrites it.
 *   <li><b>Compaction changes nothing visible.</b> {@link #load} returns an equal document before
 *       and after {@link #compact}, whatever appends race with it.
 *   <li><b>Positions grow.</b> Each append of a document lands at a {@link StoreCursor} after every
 *       earlier one of that document; {@link #readSince} returns at least what was appended after a
 *       position. Several server processes sharing one store (Redis) rely on this to repair a
 *       document after a lost message; a store that only one process writes may answer {@link
 *       #readSince} with the whole document.
 *   <li><b>Types.</b> A field's type is the first one made durable. A store that several writers
 *       share (Redis; one in-memory store shared by several hubs in tests) refuses an append whose
 *       delta gives a field another type than the document holds durably: the future fails with
 *       {@link FieldTypeConflictException} naming the fields and their held types, and nothing of
 *       that delta is stored (other appends, batched with it or not, are unaffected). Without this
 *       a writer whose own copy lacked the field would be acknowledged and its field then dropped
 *       by every reader. A store only one process writes may leave the check to its hub, which
 *       checks every update against the document before appending it. Nested OR-Map keys are not
 *       arbitrated here (docs/ARCHITECTURE.md, "Field types across servers").
 * </ul>
 *
 * <p>Implementations are thread-safe. Futures may complete on the store's own committer thread:
 * callers that do real work on completion should use the {@code *Async} stages.
 */
public interface DocumentStore extends AutoCloseable {

  /**
   * Appends {@code delta} to the document {@code documentId}, creating the document if it is new.
   *
   * @return a future that completes, with where the delta landed, once it is durable, or fails with
   *     a {@link StoreException} if it could not be made durable, with {@link
   *     FieldTypeConflictException} if the store refuses it for giving a field another type than it
   *     holds (see "Types" above), or with {@link IllegalStateException} if the store is closed
   */
  CompletableFuture<Appended> append(String documentId, DocumentDelta delta);

  /**
   * The stored document: its latest snapshot merged with every delta appended after it.
   *
   * @return empty if no delta was ever appended to {@code documentId}
   * @throws StoreCorruptedException if stored bytes cannot be decoded
   * @throws StoreException if the store cannot be read
   */
  Optional<Document> load(String documentId);

  /**
   * {@link #load}, with the position the document reflects, without blocking the caller: a store
   * that reads over the network answers on its own threads. The default runs {@link #load} on the
   * calling thread and reports {@link StoreCursor#ORIGIN}, which is right for a store only one
   * process writes.
   *
   * @return a future of the stored document, empty if nothing was ever appended; failed with a
   *     {@link StoreException} (or {@link StoreCorruptedException}) where {@link #load} throws
   */
  default CompletableFuture<Optional<StoredDocument>> loadAsync(String documentId) {
    try {
      return CompletableFuture.completedFuture(
          load(documentId).map(d -> new StoredDocument(d, StoreCursor.ORIGIN)));
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * What was appended to {@code documentId} after {@code after}, for a server that may have missed
   * it. The answer may hold more than that (up to the whole document), never less. The default
   * answers with the whole document at {@link StoreCursor#ORIGIN}, right for a store only one
   * process writes.
   *
   * <p>A document that does not exist answers an empty delta at {@link StoreCursor#ORIGIN},
   * whatever {@code after} is: a server holding the document at a later position learns so that the
   * store lost it (a Redis restarted empty) and writes it back. A store that can lose a document
   * and then see it created again must also answer a cursor from before that re-creation (from the
   * history it lost) at {@link StoreCursor#ORIGIN}, with the whole document it holds now: otherwise
   * the read looks like any other and the loss goes unnoticed. Positions must keep growing across
   * such a loss.
   *
   * @return a future of the changes (an empty delta at {@link StoreCursor#ORIGIN} if the document
   *     does not exist); failed with a {@link StoreException} where the store cannot be read
   */
  default CompletableFuture<StoredChanges> readSince(String documentId, StoreCursor after) {
    try {
      return CompletableFuture.completedFuture(
          load(documentId)
              .map(d -> new StoredChanges(d.deltaSince(VersionVector.empty()), StoreCursor.ORIGIN))
              .orElseGet(() -> new StoredChanges(DocumentDelta.empty(), StoreCursor.ORIGIN)));
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * The greatest timestamp in any delta appended to this store (every acknowledged one included),
   * empty if it holds none. A server seeds its clock from it before serving, so that after a
   * restart on a wall clock set back its timestamps (its own edits, WELCOME, PONG) do not fall
   * below what it already holds.
   *
   * <p>The default reads every document, so its cost grows with the store: right for small stores
   * and tests only. The stores of this package keep the maximum as they append (see their javadoc),
   * so this is one read.
   *
   * @throws StoreException if the store cannot be read
   */
  default Optional<HlcTimestamp> maxTimestamp() {
    HlcTimestamp max = null;
    for (String id : documentIds()) {
      Optional<HlcTimestamp> t =
          load(id).flatMap(d -> d.deltaSince(VersionVector.empty()).maxTimestamp());
      if (t.isPresent() && (max == null || t.get().isAfter(max))) {
        max = t.get();
      }
    }
    return Optional.ofNullable(max);
  }

  /**
   * Whether the store can take appends now, as far as it knows without asking: false for a store
   * over the network whose connection is down. Readiness probes read it; appends still fail on
   * their own when the store cannot make them durable. Default true.
   */
  default boolean available() {
    return true;
  }

  /**
   * Records, once and for good, that {@code replica} belongs to {@code subject} (an authenticated
   * principal's subject), unless some subject owns it already: a put-if-absent that every server
   * sharing the store sees, and that survives a restart. The server calls it at each authenticated
   * HELLO so that no user can write under another user's replica id (docs/SECURITY.md, "Replica
   * ownership").
   *
   * <p>Why a record and not an id derived from the subject: clients choose their replica ids
   * (random 64 bits, kept with their local state) before they know who the server will say they
   * are, and a restored or re-issued id must stay valid. A record costs one small key per replica
   * id ever used with authentication, and one store round trip per authenticated HELLO.
   *
   * <p>The default fails, so that a store that keeps no owners refuses authenticated HELLOs instead
   * of letting anyone claim any replica id.
   *
   * @return a future of the owner's subject: {@code subject} if this call claimed the replica or it
   *     owned it already, another subject otherwise; failed with a {@link StoreException} if the
   *     store cannot be read or written
   */
  default CompletableFuture<String> claimReplica(ReplicaId replica, String subject) {
    return CompletableFuture.failedFuture(
        new UnsupportedOperationException(getClass().getSimpleName() + " keeps no replica owners"));
  }

  /** Whether anything was ever appended to {@code documentId}. */
  boolean exists(String documentId);

  /** The ids of every stored document, as a snapshot. */
  Set<String> documentIds();

  /**
   * Folds the document's deltas into its snapshot: atomically writes the new snapshot and deletes
   * exactly the deltas folded in. Appends racing with compaction are kept. Stores may also compact
   * on their own.
   *
   * @throws StoreException if the store cannot be read or written
   */
  void compact(String documentId);

  /** Counters since the store was opened. */
  StoreStats stats();

  /**
   * Commits every pending append (completing its future), then releases the store's files. Appends
   * after close fail. Idempotent.
   */
  @Override
  void close();
}

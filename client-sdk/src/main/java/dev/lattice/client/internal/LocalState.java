package dev.lattice.client.internal;

import dev.lattice.client.LocalStateException;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.FieldTypeMismatchException;
import dev.lattice.crdt.ReplicaId;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;

/**
 * What a client keeps so that it survives its process: its replica id, and per document the local
 * replica and the outbox of edits the server has not acknowledged. Two implementations: in memory
 * (no state directory: a restart starts afresh with a new replica id) and on disk (a state
 * directory: a client killed and restarted offline loses no edit).
 *
 * <p>The one rule that keeps replica ids safe: a dot this replica ever wrote must stay in the
 * stored state for as long as the replica id is used. So an outbox entry is forgotten only by
 * {@link #checkpoint}, which stores a replica holding its effects first; otherwise a restart would
 * hand out the same sequence number again for a different edit, which every peer would take for a
 * duplicate and drop.
 *
 * <p>Implementations are thread-safe; the client calls them from its own threads, never from a
 * listener.
 */
public interface LocalState extends AutoCloseable {

  /** This client's replica id: the stored one, or a fresh one when there is no stored state. */
  ReplicaId replicaId();

  /**
   * The stored state of a document: the last checkpointed replica and the outbox entries in append
   * order. Empty if nothing was ever stored for the document.
   *
   * @throws LocalStateException if the stored state exists but cannot be read
   */
  Optional<StoredDocument> load(String documentId);

  /**
   * Appends a local edit to the document's outbox. Durable when this returns (with a state
   * directory: forced to disk), so an edit the application saw applied survives a crash.
   *
   * @param entryId greater than every entry id appended before for this document
   * @throws LocalStateException if the edit cannot be stored
   */
  void appendOutbox(String documentId, OutboxEntry entry);

  /**
   * Stores {@code replica} as the document's state and then forgets the outbox entries {@code done}
   * (acknowledged, or rejected by the server), whose effects {@code replica} holds. Entries not in
   * {@code done} stay. Atomic with respect to crashes: afterwards either the old state and outbox
   * or the new ones are found.
   *
   * @throws LocalStateException if the state cannot be stored (the outbox is then unchanged)
   */
  void checkpoint(String documentId, Document replica, Set<Long> done);

  /**
   * Retires the current replica id for good and stores a fresh one in its place, which {@link
   * #replicaId} returns from then on. Called at every client start, and when the server holds dots
   * of the current id that this state does not (a state directory restored from a backup): every
   * later edit must take dots the server has never seen. Durable when this returns.
   *
   * @return the new replica id
   * @throws LocalStateException if the new id cannot be stored (the old one then stays)
   */
  ReplicaId retireReplicaId();

  /**
   * Replaces outbox entries in place, atomically with respect to crashes: each entry of {@code
   * replaced} takes the delta given for its id (keeping its id and position), the entries of {@code
   * removed} are forgotten, the rest stay. Used to re-issue the edits of an earlier replica id
   * under the current one; unlike {@link #checkpoint} it does not ask the stored state to hold the
   * dots of the entries it forgets, since they are dots of a retired id.
   *
   * @throws LocalStateException if the outbox cannot be rewritten (it is then unchanged)
   */
  void replaceOutbox(String documentId, Map<Long, DocumentDelta> replaced, Set<Long> removed);

  /**
   * The offset of the server's clock from this machine's wall clock, as last saved: a client that
   * starts offline corrects its timestamps with it until it can measure afresh. Empty if never
   * saved or unreadable (a hint, never a reason to fail).
   */
  OptionalLong clockOffsetMillis();

  /**
   * Saves the clock offset, replacing the previous one. Atomic but not forced: losing the latest
   * value to a power cut only means the older one is used.
   *
   * @throws LocalStateException if it cannot be written
   */
  void saveClockOffsetMillis(long offsetMillis);

  /** Releases files and locks. Idempotent. */
  @Override
  void close();

  /** An edit waiting for the server's acknowledgement. */
  record OutboxEntry(long entryId, DocumentDelta delta) {
    public OutboxEntry {
      Objects.requireNonNull(delta, "delta");
    }
  }

  /**
   * A document as stored: the replica of its last checkpoint and the outbox entries since.
   *
   * @param checkpoint what {@link #checkpoint} last stored (an empty document if it never ran):
   *     everything received and acknowledged, without the outbox
   */
  record StoredDocument(Document checkpoint, List<OutboxEntry> outbox) {
    public StoredDocument {
      Objects.requireNonNull(checkpoint, "checkpoint");
      outbox = List.copyOf(outbox);
    }

    /** A new replica: the checkpoint with every outbox entry merged in (see {@link #replay}). */
    public Document replica() {
      return replay(checkpoint, outbox);
    }
  }

  /**
   * A copy of {@code base} with {@code entries} merged in order. An entry that gives a field
   * another type than {@code base} (a local edit made before the server's type arrived, which the
   * server will refuse) contributes only its dots: it stays queued but out of sight.
   */
  static Document replay(Document base, Iterable<OutboxEntry> entries) {
    Document replica = base.copy();
    for (OutboxEntry entry : entries) {
      try {
        replica.merge(entry.delta());
      } catch (FieldTypeMismatchException e) {
        replica.merge(DocumentDelta.of(entry.delta().context(), Map.of()));
      }
    }
    return replica;
  }
}

package dev.lattice.properties.multi;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.VersionVector;
import dev.lattice.properties.sim.SimTime;
import dev.lattice.server.spi.Appended;
import dev.lattice.server.spi.StoreCursor;
import dev.lattice.server.spi.StoredChanges;
import dev.lattice.server.spi.StoredDocument;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;

/**
 * The state a Redis holds for the documents, as the store and the replicator of every server see
 * it: per document a snapshot, the position of the last delta folded into it, an ordered log of
 * (position, delta) appended since, and the head (the position of the last append). Every command
 * is atomic, as a Lua script on Redis is. Positions are stream entry ids: milliseconds and a
 * sequence, growing for every append of a document, across a restart too (Redis takes ids from its
 * clock).
 *
 * <p>Faults it models: compaction at any time (the log folded into the snapshot up to some entry)
 * and a restart that lost everything ({@link #flush}).
 *
 * <p>Not thread-safe: the simulation is single-threaded.
 */
final class RedisModel {

  /** One append in a document's log. */
  record Entry(StoreCursor position, DocumentDelta delta) {}

  /** One document's keys. */
  static final class Doc {
    final Document snapshot;
    StoreCursor folded = StoreCursor.ORIGIN;
    final List<Entry> log = new ArrayList<>();
    StoreCursor head = StoreCursor.ORIGIN;

    /** The position of the append that created the document, since Redis last lost it. */
    StoreCursor born;

    Doc(String id) {
      this.snapshot = Document.create(id);
    }

    Document whole() {
      Document d = snapshot.copy();
      for (Entry e : log) {
        d.merge(e.delta());
      }
      return d;
    }
  }

  private final SimTime time;
  private final boolean staleCursors;
  private final Map<String, Doc> docs = new TreeMap<>();
  private StoreCursor lastIssued = StoreCursor.ORIGIN;

  /**
   * @param staleCursors whether {@link #readSince} tells a cursor from before Redis lost the
   *     document (one before the append that created it again) by answering the whole document at
   *     {@link StoreCursor#ORIGIN}; without it such a cursor reads the log after it, which looks
   *     like any other answer
   */
  RedisModel(SimTime time, boolean staleCursors) {
    this.time = time;
    this.staleCursors = staleCursors;
  }

  /** XADD with an id from the clock, then SET of the head, in one script. */
  Appended append(String id, DocumentDelta delta) {
    Doc d = docs.computeIfAbsent(id, Doc::new);
    StoreCursor previous = d.head;
    long millis = time.wallMillis();
    StoreCursor position =
        millis > lastIssued.major()
            ? new StoreCursor(millis, 0)
            : new StoreCursor(lastIssued.major(), lastIssued.minor() + 1);
    lastIssued = position;
    d.log.add(new Entry(position, delta));
    d.head = position;
    if (d.born == null) {
      d.born = position;
    }
    return new Appended(previous, position);
  }

  /** The whole document at its head; empty if Redis holds nothing of it. */
  Optional<StoredDocument> load(String id) {
    Doc d = docs.get(id);
    return d == null ? Optional.empty() : Optional.of(new StoredDocument(d.whole(), d.head));
  }

  /**
   * The log after {@code after}, or the whole document if compaction folded entries after it into
   * the snapshot; an empty delta at {@link StoreCursor#ORIGIN} if Redis holds nothing of it.
   */
  StoredChanges readSince(String id, StoreCursor after) {
    Doc d = docs.get(id);
    if (d == null) {
      return new StoredChanges(DocumentDelta.empty(), StoreCursor.ORIGIN);
    }
    if (staleCursors && after.isAfter(StoreCursor.ORIGIN) && d.born.isAfter(after)) {
      return new StoredChanges(d.whole().deltaSince(VersionVector.empty()), StoreCursor.ORIGIN);
    }
    if (d.folded.isAfter(after)) {
      return new StoredChanges(d.whole().deltaSince(VersionVector.empty()), d.head);
    }
    DocumentDelta joined = DocumentDelta.empty();
    for (Entry e : d.log) {
      if (e.position().isAfter(after)) {
        joined = joined.join(e.delta());
      }
    }
    return new StoredChanges(joined, StoreCursor.max(after, d.head));
  }

  /** The head key's value; {@link StoreCursor#ORIGIN} when Redis holds nothing of the document. */
  StoreCursor head(String id) {
    Doc d = docs.get(id);
    return d == null ? StoreCursor.ORIGIN : d.head;
  }

  /** Folds a random prefix of the document's log into its snapshot; false if nothing to fold. */
  boolean compact(String id, Random random) {
    Doc d = docs.get(id);
    if (d == null || d.log.isEmpty()) {
      return false;
    }
    int n = 1 + random.nextInt(d.log.size());
    for (int i = 0; i < n; i++) {
      Entry e = d.log.remove(0);
      d.snapshot.merge(e.delta());
      d.folded = e.position();
    }
    return true;
  }

  /** Redis restarted empty. */
  void flush() {
    docs.clear();
  }

  /** The document as Redis holds it, empty if it holds nothing. */
  Document document(String id) {
    Doc d = docs.get(id);
    return d == null ? Document.create(id) : d.whole();
  }

  boolean exists(String id) {
    return docs.containsKey(id);
  }

  List<String> ids() {
    return List.copyOf(docs.keySet());
  }
}

package dev.lattice.client.internal;

import dev.lattice.client.LocalStateException;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.codec.CodecException;
import dev.lattice.crdt.codec.CrdtCodecs;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;

/**
 * The {@link LocalState} of a state directory: a client killed and restarted offline finds every
 * edit whose {@link #appendOutbox} returned, under the same replica id.
 *
 * <p>Layout of the directory:
 *
 * <ul>
 *   <li>{@code lock}: held with a {@link FileLock} for the object's lifetime, so one client process
 *       at a time uses the directory.
 *   <li>{@code clock-offset}: the last measured offset of the server's clock in milliseconds, as
 *       decimal text; replaced by atomic rename, not forced (a hint).
 *   <li>{@code replica-id}: the replica id as 16 hexadecimal digits and a newline. Written once
 *       (temporary file, force, atomic rename, force the directory) before it is first handed out.
 *   <li>{@code documents/<sha-256 of the id's UTF-8 bytes, hex>.snapshot}: the last checkpointed
 *       replica (acknowledged edits and received changes: the SDK checkpoints received state at
 *       most a second after it arrives, so a client that only reads keeps it too), {@code "LSNP",
 *       version 1, length, CRC32C, Document payload} (crdt's codec; the payload holds the document
 *       id, checked on load). Replaced only by atomic rename.
 *   <li>{@code documents/<same hash>.outbox}: the outbox log. A header {@code "LOBX", version 1, id
 *       length, CRC32C of the id, the id's UTF-8 bytes}, then records {@code length, CRC32C, entry
 *       id (8 bytes), DocumentDelta payload}, the CRC over the length and the body, all integers
 *       big-endian. Appended to and forced; replaced (by atomic rename) only at a checkpoint.
 * </ul>
 *
 * <p>File names come from a hash, never from the id itself, so any id (slashes, {@code ".."},
 * reserved device names, any length) is a safe name, and ids differing only in case do not collide
 * on case-insensitive file systems. Ids must be non-empty (as in the protocol) and well-formed
 * Unicode: a lone surrogate has no UTF-8 form, so two such ids would share files.
 *
 * <p>Crashes: an append is forced before it returns; a record torn by a crash mid-append (short, or
 * failing its CRC, with no intact record after it) is dropped and truncated away on the next use,
 * since that append never returned. A checkpoint stores the snapshot first and rewrites the outbox
 * second; a crash between the two leaves the new snapshot and the old outbox, which load merges to
 * the same replica (merging is idempotent), with the {@code done} entries still listed. Every other
 * damage (a bad snapshot or header, a bad record with intact ones after it) is refused with a
 * {@link LocalStateException} that names the file and says how to recover. Temporary files that a
 * crash left behind are deleted at {@link #open}. A checkpoint refuses a replica that lacks a dot
 * of the stored snapshot or of a {@code done} entry, since forgetting a dot lets a restarted client
 * hand out its sequence number again.
 *
 * <p>One client per directory relies on the operating system's file locks, which some network file
 * systems do not honour.
 *
 * <p>Costs: an append writes one record and forces it (one {@code fdatasync}); the log channel of
 * every document used stays open until {@link #close}. A checkpoint forces four times (snapshot,
 * directory, outbox, directory) and copies the remaining outbox records.
 *
 * <p>Thread-safe: operations on one document are serialized by a lock per document; operations on
 * different documents run in parallel.
 */
public final class FileLocalState implements LocalState {

  public static final String LOCK_FILE = "lock";
  private static final System.Logger LOG = System.getLogger(FileLocalState.class.getName());

  static final String REPLICA_ID_FILE = "replica-id";

  /** The last measured offset of the server's clock, in milliseconds, as decimal text. */
  static final String CLOCK_OFFSET_FILE = "clock-offset";

  public static final String DOCUMENTS_DIR = "documents";
  public static final String SNAPSHOT_SUFFIX = ".snapshot";
  static final String OUTBOX_SUFFIX = ".outbox";
  static final String TEMP_SUFFIX = ".tmp";

  private static final int SNAPSHOT_MAGIC = 0x4C534E50; // "LSNP"
  private static final int OUTBOX_MAGIC = 0x4C4F4258; // "LOBX"
  private static final int FORMAT_VERSION = 1;
  private static final int SNAPSHOT_HEADER_BYTES = 16;
  private static final int OUTBOX_HEADER_FIXED_BYTES = 16;
  private static final int RECORD_HEADER_BYTES = 8;
  private static final int ENTRY_ID_BYTES = 8;
  private static final Pattern REPLICA_ID_TEXT = Pattern.compile("[0-9a-f]{16}\n");
  private static final boolean WINDOWS =
      System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).startsWith("windows");

  /** The real paths of the directories that FileLocalStates of this process hold. */
  private static final Set<Path> HELD_BY_THIS_PROCESS = ConcurrentHashMap.newKeySet();

  private final Path directory;
  private final Path documentsDir;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private volatile ReplicaId replicaId;
  private final CrdtCodecs codecs;
  private final int maxRecordBody;
  private final ConcurrentHashMap<String, DocumentFiles> documents = new ConcurrentHashMap<>();
  private volatile boolean closed;

  private FileLocalState(
      Path directory,
      FileChannel lockChannel,
      FileLock lock,
      ReplicaId replicaId,
      CrdtCodecs codecs) {
    this.directory = directory;
    this.documentsDir = directory.resolve(DOCUMENTS_DIR);
    this.lockChannel = lockChannel;
    this.lock = lock;
    this.replicaId = replicaId;
    this.codecs = codecs;
    this.maxRecordBody = ENTRY_ID_BYTES + codecs.limits().maxPayloadBytes();
  }

  /**
   * Opens the state directory {@code directory}, creating it if needed, and locks it for this
   * object's lifetime. A fresh replica id is made and stored only when the directory holds no
   * document state.
   *
   * @throws LocalStateException if another client holds the directory, if the replica id is missing
   *     while document state exists or cannot be read, or on an I/O error
   */
  public static FileLocalState open(Path directory) {
    Objects.requireNonNull(directory, "directory");
    Path dir;
    try {
      Files.createDirectories(directory);
      dir = directory.toRealPath();
    } catch (IOException e) {
      throw new LocalStateException(
          "cannot create the state directory " + directory.toAbsolutePath() + ": " + e, e);
    }
    // Checked before any channel to the lock file is opened: closing such a channel, even one
    // whose lock attempt failed, drops every lock this process holds on the file (POSIX).
    if (!HELD_BY_THIS_PROCESS.add(dir)) {
      throw inUse(dir);
    }
    boolean opened = false;
    try {
      FileLocalState state = lockAndOpen(dir);
      opened = true;
      return state;
    } finally {
      if (!opened) {
        HELD_BY_THIS_PROCESS.remove(dir);
      }
    }
  }

  private static LocalStateException inUse(Path dir) {
    return new LocalStateException(
        "the state directory "
            + dir
            + " is in use: another client holds its lock file "
            + dir.resolve(LOCK_FILE)
            + "; close that client first, or give this one its own state directory");
  }

  private static FileLocalState lockAndOpen(Path dir) {
    Path lockFile = dir.resolve(LOCK_FILE);
    FileChannel lockChannel;
    try {
      lockChannel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    } catch (IOException e) {
      throw new LocalStateException("cannot open the lock file " + lockFile + ": " + e, e);
    }
    FileLock lock;
    try {
      lock = lockChannel.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null; // this process locked the file by other means
    } catch (IOException e) {
      closeQuietly(lockChannel);
      throw new LocalStateException("cannot lock " + lockFile + ": " + e, e);
    }
    if (lock == null) {
      closeQuietly(lockChannel);
      throw inUse(dir);
    }
    try {
      Path docs = dir.resolve(DOCUMENTS_DIR);
      Files.createDirectories(docs);
      deleteTemporaries(dir);
      deleteTemporaries(docs);
      ReplicaId id = readOrCreateReplicaId(dir, docs);
      return new FileLocalState(dir, lockChannel, lock, id, CrdtCodecs.defaults());
    } catch (IOException | RuntimeException e) {
      try {
        lock.release();
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      closeQuietly(lockChannel);
      if (e instanceof LocalStateException l) {
        throw l;
      }
      throw new LocalStateException("cannot open the state directory " + dir + ": " + e, e);
    }
  }

  /** The state directory, as a real path. */
  Path directory() {
    return directory;
  }

  @Override
  public ReplicaId replicaId() {
    return replicaId;
  }

  /**
   * {@inheritDoc}
   *
   * <p>The {@code replica-id} file is replaced by atomic rename and forced before this returns; a
   * crash before that keeps the old id, whose stale outbox entries are then found and re-issued
   * again at the next retirement.
   */
  @Override
  public synchronized ReplicaId retireReplicaId() {
    ensureOpen();
    ReplicaId fresh = ReplicaId.random();
    while (fresh.equals(replicaId)) {
      fresh = ReplicaId.random();
    }
    try {
      writeReplicaId(directory, fresh);
    } catch (IOException e) {
      throw new LocalStateException(
          "cannot store a fresh replica id in "
              + directory.resolve(REPLICA_ID_FILE)
              + ": "
              + e
              + "; the old one stays",
          e);
    }
    replicaId = fresh;
    return fresh;
  }

  @Override
  public void replaceOutbox(
      String documentId, Map<Long, DocumentDelta> replaced, Set<Long> removed) {
    Objects.requireNonNull(replaced, "replaced");
    Objects.requireNonNull(removed, "removed");
    DocumentFiles doc = files(documentId);
    synchronized (doc) {
      ensureOpen();
      doc.scan();
      List<Record> kept = new ArrayList<>(doc.records.size());
      Map<Long, byte[]> payloads = new HashMap<>();
      for (Record record : doc.records) {
        if (removed.contains(record.entryId)) {
          continue;
        }
        kept.add(record);
        DocumentDelta delta = replaced.get(record.entryId);
        if (delta != null) {
          payloads.put(record.entryId, codecs.documentDelta().encode(delta));
        }
      }
      if (kept.size() < doc.records.size() || !payloads.isEmpty()) {
        doc.rewriteOutbox(kept, payloads);
      }
    }
  }

  @Override
  public Optional<StoredDocument> load(String documentId) {
    DocumentFiles doc = files(documentId);
    synchronized (doc) {
      ensureOpen();
      doc.scan();
      Document checkpoint = doc.readSnapshot();
      if (checkpoint == null && doc.records.isEmpty()) {
        return Optional.empty();
      }
      if (checkpoint == null) {
        checkpoint = Document.create(documentId);
      }
      List<OutboxEntry> outbox = new ArrayList<>(doc.records.size());
      for (Record record : doc.records) {
        outbox.add(new OutboxEntry(record.entryId, doc.readDelta(record)));
      }
      return Optional.of(new StoredDocument(checkpoint, outbox));
    }
  }

  /**
   * {@inheritDoc}
   *
   * @throws IllegalArgumentException if {@code documentId} is empty or not well-formed Unicode, if
   *     the entry id does not exceed the last one appended, or if the delta is over the codec
   *     limits
   */
  @Override
  public void appendOutbox(String documentId, OutboxEntry entry) {
    Objects.requireNonNull(entry, "entry");
    DocumentFiles doc = files(documentId);
    synchronized (doc) {
      ensureOpen();
      doc.scan();
      if (doc.hasLastEntryId && entry.entryId() <= doc.lastEntryId) {
        throw new IllegalArgumentException(
            "outbox entry ids of document '"
                + documentId
                + "' must increase: got "
                + entry.entryId()
                + " after "
                + doc.lastEntryId);
      }
      byte[] payload = codecs.documentDelta().encode(entry.delta());
      doc.append(entry.entryId(), payload);
    }
  }

  /**
   * {@inheritDoc}
   *
   * @throws IllegalArgumentException if {@code replica} is another document's, or lacks a dot of an
   *     entry in {@code done} (forgetting that entry would let its sequence number be reused)
   */
  @Override
  public void checkpoint(String documentId, Document replica, Set<Long> done) {
    Objects.requireNonNull(replica, "replica");
    Objects.requireNonNull(done, "done");
    DocumentFiles doc = files(documentId);
    if (!replica.id().equals(documentId)) {
      throw new IllegalArgumentException(
          "checkpoint of document '" + documentId + "' got a replica of '" + replica.id() + "'");
    }
    synchronized (doc) {
      ensureOpen();
      doc.scan();
      if (!replica.containsAll(doc.storedContext())) {
        throw new IllegalArgumentException(
            "checkpoint of document '"
                + documentId
                + "' got a replica lacking dots of the stored one; a stored dot must never be"
                + " forgotten while the replica id is in use");
      }
      List<Record> kept = new ArrayList<>(doc.records.size());
      for (Record record : doc.records) {
        if (!done.contains(record.entryId)) {
          kept.add(record);
        } else if (!replica.containsAll(doc.readDelta(record).context())) {
          throw new IllegalArgumentException(
              "checkpoint of document '"
                  + documentId
                  + "' would forget outbox entry "
                  + record.entryId
                  + " whose dots the replica does not hold; merge it first");
        }
      }
      byte[] payload = codecs.document().encode(replica);
      doc.writeSnapshot(payload, replica.context());
      if (kept.size() < doc.records.size()) {
        doc.rewriteOutbox(kept);
      }
    }
  }

  /** Releases every channel and the directory's lock. Idempotent. */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    LocalStateException failure = null;
    for (DocumentFiles doc : documents.values()) {
      synchronized (doc) {
        try {
          doc.closeLog();
        } catch (IOException e) {
          failure = addFailure(failure, "cannot close " + doc.outbox, e);
        }
      }
    }
    try {
      lock.release();
    } catch (IOException e) {
      failure = addFailure(failure, "cannot release the lock on " + directory, e);
    }
    try {
      lockChannel.close();
    } catch (IOException e) {
      failure = addFailure(failure, "cannot close " + directory.resolve(LOCK_FILE), e);
    }
    HELD_BY_THIS_PROCESS.remove(directory);
    if (failure != null) {
      throw failure;
    }
  }

  private static LocalStateException addFailure(
      LocalStateException failure, String message, IOException e) {
    LocalStateException next = new LocalStateException(message + ": " + e, e);
    if (failure == null) {
      return next;
    }
    failure.addSuppressed(next);
    return failure;
  }

  @Override
  public OptionalLong clockOffsetMillis() {
    try {
      String text = Files.readString(directory.resolve(CLOCK_OFFSET_FILE), StandardCharsets.UTF_8);
      return OptionalLong.of(Long.parseLong(text.strip()));
    } catch (java.nio.file.NoSuchFileException e) {
      return OptionalLong.empty();
    } catch (IOException | NumberFormatException e) {
      LOG.log(
          System.Logger.Level.WARNING,
          "ignoring the unreadable clock offset in " + directory.resolve(CLOCK_OFFSET_FILE),
          e);
      return OptionalLong.empty();
    }
  }

  @Override
  public synchronized void saveClockOffsetMillis(long offsetMillis) {
    ensureOpen();
    Path temp = directory.resolve(CLOCK_OFFSET_FILE + TEMP_SUFFIX);
    try {
      Files.writeString(temp, offsetMillis + "\n", StandardCharsets.UTF_8);
      Files.move(
          temp,
          directory.resolve(CLOCK_OFFSET_FILE),
          StandardCopyOption.ATOMIC_MOVE,
          StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new LocalStateException(
          "cannot save the clock offset in " + directory.resolve(CLOCK_OFFSET_FILE), e);
    }
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("the local state of " + directory + " is closed");
    }
  }

  private DocumentFiles files(String documentId) {
    Objects.requireNonNull(documentId, "documentId");
    DocumentFiles doc = documents.get(documentId);
    if (doc != null) {
      return doc;
    }
    byte[] utf8 = utf8(documentId);
    if (utf8.length > codecs.limits().maxStringBytes()) {
      throw new IllegalArgumentException(
          "document id too long: "
              + utf8.length
              + " UTF-8 bytes, the codecs take at most "
              + codecs.limits().maxStringBytes());
    }
    return documents.computeIfAbsent(documentId, id -> new DocumentFiles(id, utf8));
  }

  /** The UTF-8 bytes of a document id; refuses ids that UTF-8 cannot carry unchanged. */
  static byte[] utf8(String documentId) {
    if (documentId.isEmpty()) {
      throw new IllegalArgumentException("document id must not be empty");
    }
    try {
      ByteBuffer bytes =
          StandardCharsets.UTF_8
              .newEncoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .encode(CharBuffer.wrap(documentId));
      return Arrays.copyOf(bytes.array(), bytes.limit());
    } catch (CharacterCodingException e) {
      // A lone surrogate would become '?', so two ids would share one file.
      throw new IllegalArgumentException(
          "document id is not well-formed Unicode (a lone surrogate?): " + e.getMessage(), e);
    }
  }

  /** The file name stem of a document: the SHA-256 of its id's UTF-8 bytes, in lower-case hex. */
  public static String fileStem(byte[] documentIdUtf8) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(documentIdUtf8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }

  private static ReplicaId readOrCreateReplicaId(Path dir, Path docs) throws IOException {
    Path file = dir.resolve(REPLICA_ID_FILE);
    if (Files.exists(file)) {
      byte[] bytes;
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
        if (ch.size() > 64) {
          throw corrupt(
              dir,
              file,
              "expected 16 hexadecimal digits and a newline, got " + ch.size() + " bytes",
              null);
        }
        bytes = readFully(ch, 0, (int) ch.size(), file);
      }
      String text = new String(bytes, StandardCharsets.ISO_8859_1);
      if (!REPLICA_ID_TEXT.matcher(text).matches()) {
        throw corrupt(
            dir,
            file,
            "expected 16 lower-case hexadecimal digits and a newline, got '" + text.strip() + "'",
            null);
      }
      return ReplicaId.parse(text.substring(0, 16));
    }
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(docs)) {
      for (Path entry : entries) {
        throw new LocalStateException(
            "the replica id file "
                + file
                + " is missing but document state exists (for example "
                + entry
                + "); refusing to invent a new replica id over old history. To recover, delete the"
                + " state directory "
                + dir
                + " (with no client using it): the client then starts with a fresh replica id, and"
                + " edits in it that the server has not acknowledged are lost");
      }
    }
    ReplicaId id = ReplicaId.random();
    writeReplicaId(dir, id);
    return id;
  }

  private static void writeReplicaId(Path dir, ReplicaId id) throws IOException {
    Path file = dir.resolve(REPLICA_ID_FILE);
    Path temp = dir.resolve(REPLICA_ID_FILE + TEMP_SUFFIX);
    try (FileChannel ch =
        FileChannel.open(
            temp,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      writeFully(ch, 0, ByteBuffer.wrap((id + "\n").getBytes(StandardCharsets.ISO_8859_1)));
      ch.force(true);
    }
    Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    forceDirectory(dir);
  }

  /** Removes what a crash mid-rename left behind; the lock says no other client is writing. */
  private static void deleteTemporaries(Path dir) throws IOException {
    try (DirectoryStream<Path> temps = Files.newDirectoryStream(dir, "*" + TEMP_SUFFIX)) {
      for (Path temp : temps) {
        Files.deleteIfExists(temp);
      }
    }
  }

  static LocalStateException corrupt(Path stateDir, Path file, String what, Throwable cause) {
    return new LocalStateException(
        file
            + " is damaged: "
            + what
            + ". The client cannot use its state directory "
            + stateDir
            + " as it is. To recover, delete that directory (with no client using it): the client"
            + " then starts with a fresh replica id, and edits in it that the server has not"
            + " acknowledged are lost",
        cause);
  }

  private static byte[] readFully(FileChannel ch, long position, int length, Path file)
      throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(length);
    while (buf.hasRemaining()) {
      if (ch.read(buf, position + buf.position()) < 0) {
        throw new IOException(
            file + " ended at byte " + (position + buf.position()) + " while it was being read");
      }
    }
    return buf.array();
  }

  private static void writeFully(FileChannel ch, long position, ByteBuffer buf) throws IOException {
    long at = position;
    while (buf.hasRemaining()) {
      at += ch.write(buf, at);
    }
  }

  /** Makes a rename in {@code dir} durable. Windows cannot open directories; NTFS logs renames. */
  private static void forceDirectory(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      if (!WINDOWS) {
        throw e;
      }
    }
  }

  private static void closeQuietly(FileChannel ch) {
    try {
      ch.close();
    } catch (IOException ignored) {
      // closing after a failure: the first failure is the one reported
    }
  }

  private static int crc(byte[] a, int aOff, int aLen, byte[] b, int bOff, int bLen) {
    CRC32C crc = new CRC32C();
    crc.update(a, aOff, aLen);
    crc.update(b, bOff, bLen);
    return (int) crc.getValue();
  }

  /** Where one intact outbox record lies in the current outbox file. */
  private record Record(long entryId, long offset, int length) {}

  /** The files of one document and its open outbox log. Guarded by its own monitor. */
  private final class DocumentFiles {
    final String documentId;
    final byte[] idUtf8;
    final Path snapshot;
    final Path snapshotTemp;
    final Path outbox;
    final Path outboxTemp;

    /** Intact records of the outbox file, in file order; valid once {@link #scanned}. */
    final List<Record> records = new ArrayList<>();

    boolean scanned;

    /** The outbox file, open for reading and appending; null while there is none. */
    FileChannel log;

    /** Where the next record goes. */
    long end;

    boolean hasLastEntryId;
    long lastEntryId;

    /** The dots of the stored snapshot, once read or written; a checkpoint must keep them all. */
    DotSet snapshotContext;

    DocumentFiles(String documentId, byte[] idUtf8) {
      this.documentId = documentId;
      this.idUtf8 = idUtf8;
      String stem = fileStem(idUtf8);
      this.snapshot = documentsDir.resolve(stem + SNAPSHOT_SUFFIX);
      this.snapshotTemp = documentsDir.resolve(stem + SNAPSHOT_SUFFIX + TEMP_SUFFIX);
      this.outbox = documentsDir.resolve(stem + OUTBOX_SUFFIX);
      this.outboxTemp = documentsDir.resolve(stem + OUTBOX_SUFFIX + TEMP_SUFFIX);
    }

    /**
     * Opens the outbox log once, checks every record, and truncates a torn final record away so
     * that appends land after intact records only.
     */
    void scan() {
      if (scanned) {
        return;
      }
      records.clear();
      FileChannel ch;
      try {
        ch = FileChannel.open(outbox, StandardOpenOption.READ, StandardOpenOption.WRITE);
      } catch (NoSuchFileException e) {
        scanned = true;
        return;
      } catch (IOException e) {
        throw new LocalStateException("cannot open " + outbox + ": " + e, e);
      }
      try {
        long size = ch.size();
        long position = checkOutboxHeader(ch, size);
        while (position < size) {
          Record record = readRecord(ch, position, size);
          if (record == null) {
            if (!isTornTail(ch, position, size)) {
              throw corrupt(
                  directory,
                  outbox,
                  "the record at byte "
                      + position
                      + " is short or fails its CRC, and intact records follow it",
                  null);
            }
            // The append that wrote this never returned: drop it for good.
            ch.truncate(position);
            ch.force(true);
            break;
          }
          if (!records.isEmpty() && record.entryId <= records.get(records.size() - 1).entryId) {
            throw corrupt(
                directory,
                outbox,
                "entry id "
                    + record.entryId
                    + " at byte "
                    + position
                    + " does not exceed the one before it",
                null);
          }
          records.add(record);
          position += record.length;
        }
        log = ch;
        end = position;
        if (!records.isEmpty()) {
          noteEntryId(records.get(records.size() - 1).entryId);
        }
        scanned = true;
      } catch (IOException | RuntimeException e) {
        closeQuietly(ch);
        records.clear();
        if (e instanceof LocalStateException l) {
          throw l;
        }
        throw new LocalStateException("cannot read " + outbox + ": " + e, e);
      }
    }

    private void noteEntryId(long entryId) {
      if (!hasLastEntryId || entryId > lastEntryId) {
        lastEntryId = entryId;
        hasLastEntryId = true;
      }
    }

    /**
     * Checks the header (written whole by a rename, so never torn); returns where records start.
     */
    private long checkOutboxHeader(FileChannel ch, long size) throws IOException {
      if (size < OUTBOX_HEADER_FIXED_BYTES) {
        throw corrupt(
            directory, outbox, "the header is " + size + " bytes, expected at least 16", null);
      }
      ByteBuffer fixed = ByteBuffer.wrap(readFully(ch, 0, OUTBOX_HEADER_FIXED_BYTES, outbox));
      int magic = fixed.getInt();
      int version = fixed.getInt();
      int idLength = fixed.getInt();
      int idCrc = fixed.getInt();
      if (magic != OUTBOX_MAGIC) {
        throw corrupt(
            directory,
            outbox,
            "not an outbox file (magic " + Integer.toHexString(magic) + ")",
            null);
      }
      if (version != FORMAT_VERSION) {
        throw corrupt(
            directory,
            outbox,
            "format version " + version + ", this client reads " + FORMAT_VERSION,
            null);
      }
      if (idLength < 0 || idLength > size - OUTBOX_HEADER_FIXED_BYTES) {
        throw corrupt(
            directory, outbox, "the header declares a " + idLength + "-byte document id", null);
      }
      byte[] id = readFully(ch, OUTBOX_HEADER_FIXED_BYTES, idLength, outbox);
      CRC32C crc = new CRC32C();
      crc.update(id);
      if ((int) crc.getValue() != idCrc) {
        throw corrupt(directory, outbox, "the document id in the header fails its CRC", null);
      }
      if (!Arrays.equals(id, idUtf8)) {
        throw corrupt(
            directory,
            outbox,
            "it belongs to document '"
                + new String(id, StandardCharsets.UTF_8)
                + "', not '"
                + documentId
                + "'",
            null);
      }
      return OUTBOX_HEADER_FIXED_BYTES + (long) idLength;
    }

    /** The intact record at {@code position}, or null if it is short or fails its CRC. */
    private Record readRecord(FileChannel ch, long position, long size) throws IOException {
      if (size - position < RECORD_HEADER_BYTES) {
        return null;
      }
      byte[] header = readFully(ch, position, RECORD_HEADER_BYTES, outbox);
      int length = ByteBuffer.wrap(header).getInt();
      int expectedCrc = ByteBuffer.wrap(header).getInt(4);
      if (length < ENTRY_ID_BYTES
          || length > maxRecordBody
          || length > size - position - RECORD_HEADER_BYTES) {
        return null;
      }
      byte[] body = readFully(ch, position + RECORD_HEADER_BYTES, length, outbox);
      if (crc(header, 0, 4, body, 0, length) != expectedCrc) {
        return null;
      }
      long entryId = ByteBuffer.wrap(body).getLong();
      return new Record(entryId, position, RECORD_HEADER_BYTES + length);
    }

    /**
     * Whether the bad record at {@code position} is what a crash mid-append leaves: at most one
     * record's worth of bytes, with no intact record anywhere after it. An append is forced before
     * the next one starts, so only the last append can be torn.
     */
    private boolean isTornTail(FileChannel ch, long position, long size) throws IOException {
      long remaining = size - position;
      if (remaining > RECORD_HEADER_BYTES + (long) maxRecordBody) {
        return false;
      }
      byte[] tail = readFully(ch, position, (int) remaining, outbox);
      ByteBuffer buf = ByteBuffer.wrap(tail);
      for (int at = 1; at + RECORD_HEADER_BYTES <= tail.length; at++) {
        int length = buf.getInt(at);
        if (length >= ENTRY_ID_BYTES
            && length <= maxRecordBody
            && length <= tail.length - at - RECORD_HEADER_BYTES
            && crc(tail, at, 4, tail, at + RECORD_HEADER_BYTES, length) == buf.getInt(at + 4)) {
          return false;
        }
      }
      return true;
    }

    DocumentDelta readDelta(Record record) {
      byte[] bytes;
      try {
        bytes = readFully(log, record.offset, record.length, outbox);
      } catch (IOException e) {
        throw new LocalStateException("cannot read " + outbox + ": " + e, e);
      }
      // Checked again: the file may have changed under us since the scan.
      int length = ByteBuffer.wrap(bytes).getInt();
      if (length != record.length - RECORD_HEADER_BYTES
          || crc(bytes, 0, 4, bytes, RECORD_HEADER_BYTES, length)
              != ByteBuffer.wrap(bytes).getInt(4)) {
        throw corrupt(
            directory,
            outbox,
            "the record at byte " + record.offset + " changed since it was read",
            null);
      }
      try {
        return codecs
            .documentDelta()
            .decode(Arrays.copyOfRange(bytes, RECORD_HEADER_BYTES + ENTRY_ID_BYTES, bytes.length));
      } catch (CodecException e) {
        throw corrupt(
            directory,
            outbox,
            "the outbox entry "
                + record.entryId
                + " at byte "
                + record.offset
                + " passes its CRC but is not a delta ("
                + e.getMessage()
                + ")",
            e);
      }
    }

    DotSet storedContext() {
      if (snapshotContext == null) {
        readSnapshot();
      }
      return snapshotContext;
    }

    /** The stored replica, or null if there is none. */
    Document readSnapshot() {
      Document replica = decodeSnapshot();
      snapshotContext = replica == null ? DotSet.empty() : replica.context();
      return replica;
    }

    private Document decodeSnapshot() {
      byte[] bytes;
      try (FileChannel ch = FileChannel.open(snapshot, StandardOpenOption.READ)) {
        long size = ch.size();
        if (size < SNAPSHOT_HEADER_BYTES
            || size > SNAPSHOT_HEADER_BYTES + (long) codecs.limits().maxPayloadBytes()) {
          throw corrupt(directory, snapshot, "its size is " + size + " bytes", null);
        }
        bytes = readFully(ch, 0, (int) size, snapshot);
      } catch (NoSuchFileException e) {
        return null;
      } catch (IOException e) {
        throw new LocalStateException("cannot read " + snapshot + ": " + e, e);
      }
      ByteBuffer header = ByteBuffer.wrap(bytes, 0, SNAPSHOT_HEADER_BYTES);
      int magic = header.getInt();
      int version = header.getInt();
      int length = header.getInt();
      int expectedCrc = header.getInt();
      if (magic != SNAPSHOT_MAGIC) {
        throw corrupt(
            directory,
            snapshot,
            "not a snapshot file (magic " + Integer.toHexString(magic) + ")",
            null);
      }
      if (version != FORMAT_VERSION) {
        throw corrupt(
            directory,
            snapshot,
            "format version " + version + ", this client reads " + FORMAT_VERSION,
            null);
      }
      if (length != bytes.length - SNAPSHOT_HEADER_BYTES) {
        throw corrupt(
            directory,
            snapshot,
            "the header declares "
                + length
                + " payload bytes, the file holds "
                + (bytes.length - SNAPSHOT_HEADER_BYTES),
            null);
      }
      CRC32C crc = new CRC32C();
      crc.update(bytes, SNAPSHOT_HEADER_BYTES, length);
      if ((int) crc.getValue() != expectedCrc) {
        throw corrupt(directory, snapshot, "the replica fails its CRC", null);
      }
      Document replica;
      try {
        replica =
            codecs
                .document()
                .decode(Arrays.copyOfRange(bytes, SNAPSHOT_HEADER_BYTES, bytes.length));
      } catch (CodecException e) {
        throw corrupt(
            directory,
            snapshot,
            "it passes its CRC but is not a replica (" + e.getMessage() + ")",
            e);
      }
      if (!replica.id().equals(documentId)) {
        throw corrupt(
            directory,
            snapshot,
            "it holds document '" + replica.id() + "', not '" + documentId + "'",
            null);
      }
      return replica;
    }

    private ByteBuffer recordBytes(long entryId, byte[] payload) {
      int length = ENTRY_ID_BYTES + payload.length;
      ByteBuffer record = ByteBuffer.allocate(RECORD_HEADER_BYTES + length);
      record.putInt(length).putInt(0).putLong(entryId).put(payload);
      byte[] bytes = record.array();
      record.putInt(4, crc(bytes, 0, 4, bytes, RECORD_HEADER_BYTES, length));
      record.flip();
      return record;
    }

    void append(long entryId, byte[] payload) {
      ByteBuffer record = recordBytes(entryId, payload);
      int length = record.remaining() - RECORD_HEADER_BYTES;
      if (log == null) {
        rewriteOutbox(List.of());
      }
      long at = end;
      try {
        writeFully(log, at, record);
        log.force(false);
      } catch (IOException e) {
        // Undo a partial record so later appends do not land behind it; failing that, rescan.
        try {
          log.truncate(at);
          log.force(true);
        } catch (IOException suppressed) {
          e.addSuppressed(suppressed);
          try {
            closeLog();
          } catch (IOException ignored) {
            // already failing
          }
        }
        throw new LocalStateException(
            "cannot append to " + outbox + " (disk full?): " + e + "; the edit was not stored", e);
      }
      records.add(new Record(entryId, at, RECORD_HEADER_BYTES + length));
      end = at + RECORD_HEADER_BYTES + length;
      noteEntryId(entryId);
    }

    void writeSnapshot(byte[] payload, DotSet context) {
      ByteBuffer header = ByteBuffer.allocate(SNAPSHOT_HEADER_BYTES);
      CRC32C crc = new CRC32C();
      crc.update(payload);
      header.putInt(SNAPSHOT_MAGIC).putInt(FORMAT_VERSION).putInt(payload.length);
      header.putInt((int) crc.getValue()).flip();
      try {
        try (FileChannel ch =
            FileChannel.open(
                snapshotTemp,
                StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
          writeFully(ch, 0, header);
          writeFully(ch, SNAPSHOT_HEADER_BYTES, ByteBuffer.wrap(payload));
          ch.force(true);
        }
        Files.move(
            snapshotTemp,
            snapshot,
            StandardCopyOption.ATOMIC_MOVE,
            StandardCopyOption.REPLACE_EXISTING);
        forceDirectory(documentsDir);
        snapshotContext = context;
      } catch (IOException e) {
        snapshotContext = null; // the rename may have happened: read the file again
        deleteQuietly(snapshotTemp);
        throw new LocalStateException(
            "cannot store the replica in " + snapshot + " (disk full?): " + e, e);
      }
    }

    /**
     * Replaces the outbox file by one holding the header and {@code kept}, copied from the current
     * file. The new file is complete and forced before it takes the old one's name, so a crash
     * leaves one or the other.
     */
    void rewriteOutbox(List<Record> kept) {
      rewriteOutbox(kept, Map.of());
    }

    /** Rewrites the outbox with {@code kept}, those in {@code payloads} with new payloads. */
    void rewriteOutbox(List<Record> kept, Map<Long, byte[]> payloads) {
      List<Record> moved = new ArrayList<>(kept.size());
      FileChannel next = null;
      try {
        next =
            FileChannel.open(
                outboxTemp,
                StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        CRC32C crc = new CRC32C();
        crc.update(idUtf8);
        ByteBuffer header = ByteBuffer.allocate(OUTBOX_HEADER_FIXED_BYTES + idUtf8.length);
        header.putInt(OUTBOX_MAGIC).putInt(FORMAT_VERSION).putInt(idUtf8.length);
        header.putInt((int) crc.getValue()).put(idUtf8).flip();
        long at = header.remaining();
        writeFully(next, 0, header);
        // Kept records mostly lie in runs (everything after the acknowledged ones): copy by run.
        int i = 0;
        while (i < kept.size()) {
          byte[] payload = payloads.get(kept.get(i).entryId);
          if (payload != null) {
            ByteBuffer record = recordBytes(kept.get(i).entryId, payload);
            int length = record.remaining();
            writeFully(next, at, record);
            moved.add(new Record(kept.get(i).entryId, at, length));
            at += length;
            i++;
            continue;
          }
          long runStart = kept.get(i).offset;
          long runEnd = runStart;
          while (i < kept.size()
              && kept.get(i).offset == runEnd
              && !payloads.containsKey(kept.get(i).entryId)) {
            Record record = kept.get(i++);
            moved.add(new Record(record.entryId, at + (runEnd - runStart), record.length));
            runEnd += record.length;
          }
          copy(runStart, runEnd - runStart, next, at);
          at += runEnd - runStart;
        }
        next.force(true);
        Files.move(
            outboxTemp,
            outbox,
            StandardCopyOption.ATOMIC_MOVE,
            StandardCopyOption.REPLACE_EXISTING);
      } catch (IOException e) {
        if (next != null) {
          closeQuietly(next);
        }
        deleteQuietly(outboxTemp);
        throw new LocalStateException(
            "cannot rewrite " + outbox + " (disk full?): " + e + "; the outbox is unchanged", e);
      }
      // Renamed: the open channel now is the outbox; the old one is unlinked, never append to it.
      FileChannel old = log;
      log = next;
      end =
          moved.isEmpty()
              ? headerEnd()
              : moved.get(moved.size() - 1).offset + moved.get(moved.size() - 1).length;
      records.clear();
      records.addAll(moved);
      if (old != null) {
        closeQuietly(old);
      }
      try {
        forceDirectory(documentsDir);
      } catch (IOException e) {
        throw new LocalStateException(
            "rewrote " + outbox + " but cannot force its directory: " + e, e);
      }
    }

    private void copy(long from, long count, FileChannel to, long toPosition) throws IOException {
      long copied = 0;
      while (copied < count) {
        long n = log.transferTo(from + copied, count - copied, to.position(toPosition + copied));
        if (n <= 0) {
          throw new IOException(
              "could not copy bytes " + from + ".." + (from + count) + " of " + outbox);
        }
        copied += n;
      }
    }

    private long headerEnd() {
      return OUTBOX_HEADER_FIXED_BYTES + (long) idUtf8.length;
    }

    void closeLog() throws IOException {
      FileChannel ch = log;
      log = null;
      scanned = false;
      records.clear();
      if (ch != null) {
        ch.close();
      }
    }
  }

  private static void deleteQuietly(Path file) {
    try {
      Files.deleteIfExists(file);
    } catch (IOException ignored) {
      // a leftover temporary file is deleted at the next open
    }
  }
}

package dev.lattice.client.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.client.LocalStateException;
import dev.lattice.client.internal.LocalState.OutboxEntry;
import dev.lattice.client.internal.LocalState.StoredDocument;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.hlc.HybridLogicalClock;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileLocalStateTest {

  private static final String DOC = "board-42";

  @TempDir Path dir;

  /** A local replica that makes edits the way the client does: mutate, then append the delta. */
  private static final class Editor {
    final ReplicaId me;
    final Document replica;
    final List<OutboxEntry> appended = new ArrayList<>();

    Editor(ReplicaId me, String documentId) {
      this.me = me;
      this.replica = Document.create(documentId);
    }

    OutboxEntry increment(LocalState state) {
      DocumentDelta delta = replica.incrementGCounter(me, "n", 1);
      OutboxEntry entry = new OutboxEntry(replica.nextSequence(me) - 1, delta);
      state.appendOutbox(replica.id(), entry);
      appended.add(entry);
      return entry;
    }
  }

  private static List<Long> ids(List<OutboxEntry> entries) {
    return entries.stream().map(OutboxEntry::entryId).toList();
  }

  private Path documents() {
    return dir.resolve(FileLocalState.DOCUMENTS_DIR);
  }

  private Path outboxOf(String documentId) {
    return documents()
        .resolve(FileLocalState.fileStem(FileLocalState.utf8(documentId)) + ".outbox");
  }

  private Path snapshotOf(String documentId) {
    return documents()
        .resolve(FileLocalState.fileStem(FileLocalState.utf8(documentId)) + ".snapshot");
  }

  private StoredDocument reload(String documentId) {
    try (FileLocalState state = FileLocalState.open(dir)) {
      return state.load(documentId).orElseThrow();
    }
  }

  @Test
  void replicaIdIsMadeOnceAndKeptAcrossReopen() {
    ReplicaId first;
    try (FileLocalState state = FileLocalState.open(dir.resolve("nested/state"))) {
      first = state.replicaId();
    }
    try (FileLocalState state = FileLocalState.open(dir.resolve("nested/state"))) {
      assertThat(state.replicaId()).isEqualTo(first);
    }
    assertThat(dir.resolve("nested/state/replica-id")).hasContent(first.toString());
  }

  @Test
  void aNewDirectoryGetsANewReplicaId() {
    try (FileLocalState a = FileLocalState.open(dir.resolve("a"));
        FileLocalState b = FileLocalState.open(dir.resolve("b"))) {
      assertThat(a.replicaId()).isNotEqualTo(b.replicaId());
    }
  }

  @Test
  void unknownDocumentLoadsEmpty() {
    try (FileLocalState state = FileLocalState.open(dir)) {
      assertThat(state.load("never-stored")).isEmpty();
    }
  }

  @Test
  void snapshotAndOutboxRoundTripAcrossReopen() {
    HybridLogicalClock clock = new HybridLogicalClock();
    Editor editor;
    try (FileLocalState state = FileLocalState.open(dir)) {
      editor = new Editor(state.replicaId(), DOC);
      editor.increment(state);
      editor.increment(state);
      state.checkpoint(DOC, editor.replica.copy(), Set.of(1L, 2L));
      editor.increment(state);
      DocumentDelta title =
          editor.replica.setRegister(
              editor.me, "title", Value.of("Roadmap \u00e9\u65e5"), clock.now());
      state.appendOutbox(DOC, new OutboxEntry(4, title));
      editor.appended.add(new OutboxEntry(4, title));
    }

    StoredDocument stored = reload(DOC);
    assertThat(stored.replica()).isEqualTo(editor.replica);
    assertThat(stored.replica().counterValue("n")).isEqualTo(3);
    assertThat(stored.outbox()).containsExactlyElementsOf(editor.appended.subList(2, 4));
  }

  @Test
  void outboxWithoutSnapshotLoadsAsAReplicaOfItsEntries() {
    Editor editor;
    try (FileLocalState state = FileLocalState.open(dir)) {
      editor = new Editor(state.replicaId(), DOC);
      for (int i = 0; i < 5; i++) {
        editor.increment(state);
      }
      // Loading in the same session sees the same thing as after a restart.
      assertThat(state.load(DOC).orElseThrow().outbox()).isEqualTo(editor.appended);
    }
    StoredDocument stored = reload(DOC);
    assertThat(stored.replica()).isEqualTo(editor.replica);
    assertThat(stored.outbox()).isEqualTo(editor.appended);
  }

  @Test
  void checkpointForgetsExactlyTheDoneEntries() {
    Editor editor;
    try (FileLocalState state = FileLocalState.open(dir)) {
      editor = new Editor(state.replicaId(), DOC);
      for (int i = 0; i < 6; i++) {
        editor.increment(state);
      }
      state.checkpoint(DOC, editor.replica.copy(), Set.of(2L, 4L, 5L, 99L));
      assertThat(ids(state.load(DOC).orElseThrow().outbox())).containsExactly(1L, 3L, 6L);
      editor.increment(state);
      state.checkpoint(DOC, editor.replica.copy(), Set.of(1L));
      assertThat(ids(state.load(DOC).orElseThrow().outbox())).containsExactly(3L, 6L, 7L);
    }
    StoredDocument stored = reload(DOC);
    assertThat(ids(stored.outbox())).containsExactly(3L, 6L, 7L);
    assertThat(stored.replica()).isEqualTo(editor.replica);
    assertThat(stored.replica().counterValue("n")).isEqualTo(7);
  }

  @Test
  void checkpointOfEverythingLeavesAnEmptyOutboxAndKeepsEveryDot() {
    Editor editor;
    try (FileLocalState state = FileLocalState.open(dir)) {
      editor = new Editor(state.replicaId(), DOC);
      for (int i = 0; i < 3; i++) {
        editor.increment(state);
      }
      state.checkpoint(DOC, editor.replica.copy(), Set.of(1L, 2L, 3L));
    }
    StoredDocument stored = reload(DOC);
    assertThat(stored.outbox()).isEmpty();
    // The next edit after a restart takes a fresh sequence number, never 1..3 again.
    assertThat(stored.replica().nextSequence(editor.me)).isEqualTo(4);
  }

  @Test
  void checkpointRefusesToForgetAnEntryTheReplicaDoesNotHold() {
    try (FileLocalState state = FileLocalState.open(dir)) {
      Editor editor = new Editor(state.replicaId(), DOC);
      Document before = editor.replica.copy();
      editor.increment(state);
      assertThatThrownBy(() -> state.checkpoint(DOC, before, Set.of(1L)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("outbox entry 1");
      assertThat(state.load(DOC).orElseThrow().outbox()).isEqualTo(editor.appended);
      assertThat(snapshotOf(DOC)).doesNotExist();
      assertThatThrownBy(() -> state.checkpoint(DOC, Document.create("other"), Set.of()))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'other'");
    }
  }

  @Test
  void checkpointRefusesAReplicaThatLostStoredDots() {
    Editor editor;
    try (FileLocalState state = FileLocalState.open(dir)) {
      editor = new Editor(state.replicaId(), DOC);
      editor.increment(state);
      editor.increment(state);
      state.checkpoint(DOC, editor.replica.copy(), Set.of(1L, 2L));
      // A stale or fresh replica would drop dots 1 and 2, so sequence numbers could be reused.
      assertThatThrownBy(() -> state.checkpoint(DOC, Document.create(DOC), Set.of()))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("lacking dots of the stored one");
    }
    // Also after a restart, before any load: the stored dots come from the file.
    try (FileLocalState state = FileLocalState.open(dir)) {
      assertThatThrownBy(() -> state.checkpoint(DOC, Document.create(DOC), Set.of()))
          .isInstanceOf(IllegalArgumentException.class);
      assertThat(state.load(DOC).orElseThrow().replica()).isEqualTo(editor.replica);
    }
  }

  @Test
  void entryIdsMustIncrease() {
    try (FileLocalState state = FileLocalState.open(dir)) {
      Editor editor = new Editor(state.replicaId(), DOC);
      OutboxEntry first = editor.increment(state);
      assertThatThrownBy(() -> state.appendOutbox(DOC, first))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("must increase");
    }
    // Also across a restart, where the last id comes from the file.
    try (FileLocalState state = FileLocalState.open(dir)) {
      OutboxEntry again = state.load(DOC).orElseThrow().outbox().get(0);
      assertThatThrownBy(() -> state.appendOutbox(DOC, again))
          .isInstanceOf(IllegalArgumentException.class);
      assertThat(state.load(DOC).orElseThrow().outbox()).hasSize(1);
    }
  }

  @Test
  void crashBetweenSnapshotAndOutboxRewriteLoadsTheSameReplica() throws IOException {
    Editor editor;
    Path oldOutbox = dir.resolve("old-outbox");
    try (FileLocalState state = FileLocalState.open(dir)) {
      editor = new Editor(state.replicaId(), DOC);
      for (int i = 0; i < 4; i++) {
        editor.increment(state);
      }
      Files.copy(outboxOf(DOC), oldOutbox);
      state.checkpoint(DOC, editor.replica.copy(), Set.of(1L, 2L));
    }
    // What a crash after the snapshot's rename and before the outbox's leaves.
    Files.copy(oldOutbox, outboxOf(DOC), StandardCopyOption.REPLACE_EXISTING);
    StoredDocument stored = reload(DOC);
    assertThat(stored.replica()).isEqualTo(editor.replica);
    assertThat(stored.outbox()).isEqualTo(editor.appended);
  }

  @Test
  void leftoverTemporaryFilesFromACrashAreIgnoredAndRemoved() throws IOException {
    Editor editor;
    try (FileLocalState state = FileLocalState.open(dir)) {
      editor = new Editor(state.replicaId(), DOC);
      editor.increment(state);
      state.checkpoint(DOC, editor.replica.copy(), Set.of());
    }
    Path snapshotTemp = Path.of(snapshotOf(DOC) + ".tmp");
    Path outboxTemp = Path.of(outboxOf(DOC) + ".tmp");
    Files.write(snapshotTemp, new byte[] {1, 2, 3});
    Files.write(outboxTemp, new byte[] {4, 5});
    Files.write(dir.resolve("replica-id.tmp"), new byte[] {6});
    StoredDocument stored = reload(DOC);
    assertThat(stored.replica()).isEqualTo(editor.replica);
    assertThat(snapshotTemp).doesNotExist();
    assertThat(outboxTemp).doesNotExist();
    assertThat(dir.resolve("replica-id.tmp")).doesNotExist();
  }

  /** Appends 4 entries and returns the outbox file's size after each of 3 and 4. */
  private long[] fourEntries(Editor[] editorOut) throws IOException {
    long[] sizes = new long[2];
    try (FileLocalState state = FileLocalState.open(dir)) {
      Editor editor = new Editor(state.replicaId(), DOC);
      for (int i = 0; i < 3; i++) {
        editor.increment(state);
      }
      sizes[0] = Files.size(outboxOf(DOC));
      editor.increment(state);
      sizes[1] = Files.size(outboxOf(DOC));
      editorOut[0] = editor;
    }
    return sizes;
  }

  private void truncateTo(Path file, long size) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.truncate(size);
    }
  }

  private void assertTornTailDropped(Editor editor, long intactSize) throws IOException {
    try (FileLocalState state = FileLocalState.open(dir)) {
      StoredDocument stored = state.load(DOC).orElseThrow();
      assertThat(ids(stored.outbox())).containsExactly(1L, 2L, 3L);
      assertThat(stored.replica().counterValue("n")).isEqualTo(3);
      assertThat(Files.size(outboxOf(DOC))).as("torn bytes truncated away").isEqualTo(intactSize);
      // Appends go after the intact records, so the next load sees them (no "damaged" error).
      Document replica = stored.replica();
      DocumentDelta delta = replica.incrementGCounter(editor.me, "n", 1);
      state.appendOutbox(DOC, new OutboxEntry(replica.nextSequence(editor.me) - 1, delta));
    }
    assertThat(ids(reload(DOC).outbox())).containsExactly(1L, 2L, 3L, 4L);
  }

  @Test
  void tornTailShortRecordIsDroppedAndTruncated() throws IOException {
    Editor[] editor = new Editor[1];
    long[] sizes = fourEntries(editor);
    truncateTo(outboxOf(DOC), sizes[1] - 3);
    assertTornTailDropped(editor[0], sizes[0]);
  }

  @Test
  void tornTailWithGarbageIsDroppedAndTruncated() throws IOException {
    Editor[] editor = new Editor[1];
    long[] sizes = fourEntries(editor);
    truncateTo(outboxOf(DOC), sizes[1] - 3);
    Files.write(
        outboxOf(DOC),
        new byte[] {(byte) 0xde, (byte) 0xad, (byte) 0xbe, (byte) 0xef, 1, 2, 3, 4, 5, 6, 7},
        StandardOpenOption.APPEND);
    assertTornTailDropped(editor[0], sizes[0]);
  }

  @Test
  void tornTailFailingItsCrcIsDroppedAndTruncated() throws IOException {
    Editor[] editor = new Editor[1];
    long[] sizes = fourEntries(editor);
    // The size reached the disk, the last bytes did not: full length, wrong content.
    byte[] bytes = Files.readAllBytes(outboxOf(DOC));
    bytes[bytes.length - 1] ^= 0x5a;
    bytes[bytes.length - 2] ^= 0x5a;
    Files.write(outboxOf(DOC), bytes);
    assertTornTailDropped(editor[0], sizes[0]);
  }

  @Test
  void damagedOutboxHeaderIsRefused() throws IOException {
    Editor[] editor = new Editor[1];
    fourEntries(editor);
    byte[] bytes = Files.readAllBytes(outboxOf(DOC));
    bytes[17] ^= 0x01; // in the document id
    Files.write(outboxOf(DOC), bytes);
    try (FileLocalState state = FileLocalState.open(dir)) {
      assertThatThrownBy(() -> state.load(DOC))
          .isInstanceOf(LocalStateException.class)
          .hasMessageContaining(outboxOf(DOC).toString())
          .hasMessageContaining("header");
    }
  }

  @Test
  void tornTailOfZerosIsDroppedAndTruncated() throws IOException {
    Editor[] editor = new Editor[1];
    long[] sizes = fourEntries(editor);
    // A file system may extend the file before the data reaches the disk: zeros at the end.
    truncateTo(outboxOf(DOC), sizes[0]);
    Files.write(outboxOf(DOC), new byte[20], StandardOpenOption.APPEND);
    assertTornTailDropped(editor[0], sizes[0]);
  }

  @Test
  void tornTailOfAFewHeaderBytesIsDroppedAndTruncated() throws IOException {
    Editor[] editor = new Editor[1];
    long[] sizes = fourEntries(editor);
    truncateTo(outboxOf(DOC), sizes[0] + 5);
    assertTornTailDropped(editor[0], sizes[0]);
  }

  @Test
  void damagedRecordInTheMiddleIsRefusedNamingTheFileAndTheRecovery() throws IOException {
    Editor[] editor = new Editor[1];
    long[] sizes = fourEntries(editor);
    byte[] bytes = Files.readAllBytes(outboxOf(DOC));
    int inThirdRecord = (int) sizes[0] - 2;
    bytes[inThirdRecord] ^= 0x40;
    Files.write(outboxOf(DOC), bytes);

    try (FileLocalState state = FileLocalState.open(dir)) {
      assertThatThrownBy(() -> state.load(DOC))
          .isInstanceOf(LocalStateException.class)
          .hasMessageContaining(outboxOf(DOC).toString())
          .hasMessageContaining("intact records follow")
          .hasMessageContaining("delete that directory")
          .hasMessageContaining("fresh replica id");
      // Appending over damage would bury it: refused too, and the file is left as it was.
      Document replica = Document.create(DOC);
      assertThatThrownBy(
              () ->
                  state.appendOutbox(
                      DOC,
                      new OutboxEntry(9, replica.incrementGCounter(state.replicaId(), "n", 1))))
          .isInstanceOf(LocalStateException.class);
    }
    assertThat(Files.readAllBytes(outboxOf(DOC))).isEqualTo(bytes);
  }

  @Test
  void damagedSnapshotIsRefusedNamingTheFile() throws IOException {
    try (FileLocalState state = FileLocalState.open(dir)) {
      Editor editor = new Editor(state.replicaId(), DOC);
      editor.increment(state);
      state.checkpoint(DOC, editor.replica.copy(), Set.of(1L));
    }
    byte[] bytes = Files.readAllBytes(snapshotOf(DOC));
    bytes[bytes.length - 1] ^= 0x01;
    Files.write(snapshotOf(DOC), bytes);
    try (FileLocalState state = FileLocalState.open(dir)) {
      assertThatThrownBy(() -> state.load(DOC))
          .isInstanceOf(LocalStateException.class)
          .hasMessageContaining(snapshotOf(DOC).toString())
          .hasMessageContaining("CRC")
          .hasMessageContaining("delete that directory");
    }
    Files.write(snapshotOf(DOC), new byte[] {1, 2, 3});
    try (FileLocalState state = FileLocalState.open(dir)) {
      assertThatThrownBy(() -> state.load(DOC))
          .isInstanceOf(LocalStateException.class)
          .hasMessageContaining(snapshotOf(DOC).toString());
    }
  }

  @Test
  void stateFilesOfAnotherDocumentAreRefused() throws IOException {
    try (FileLocalState state = FileLocalState.open(dir)) {
      Editor editor = new Editor(state.replicaId(), "a");
      editor.increment(state);
      state.checkpoint("a", editor.replica.copy(), Set.of());
    }
    Files.copy(outboxOf("a"), outboxOf("b"));
    Files.copy(snapshotOf("a"), snapshotOf("b"));
    try (FileLocalState state = FileLocalState.open(dir)) {
      assertThatThrownBy(() -> state.load("b"))
          .isInstanceOf(LocalStateException.class)
          .hasMessageContaining("belongs to document 'a'");
    }
  }

  @Test
  void secondOpenOfAHeldDirectoryFails() {
    try (FileLocalState state = FileLocalState.open(dir)) {
      assertThatThrownBy(() -> FileLocalState.open(dir))
          .isInstanceOf(LocalStateException.class)
          .hasMessageContaining("another client holds")
          .hasMessageContaining(dir.resolve("lock").toString());
      // The refused open took nothing from the holder.
      Editor editor = new Editor(state.replicaId(), DOC);
      editor.increment(state);
    }
    try (FileLocalState again = FileLocalState.open(dir)) {
      assertThat(again.load(DOC)).isPresent();
    }
  }

  @Test
  void closeIsIdempotentAndLaterUseFails() {
    FileLocalState state = FileLocalState.open(dir);
    Editor editor = new Editor(state.replicaId(), DOC);
    editor.increment(state);
    state.close();
    state.close();
    assertThatThrownBy(() -> state.load(DOC)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> editor.increment(state)).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void missingReplicaIdWithDocumentStateIsRefused() throws IOException {
    try (FileLocalState state = FileLocalState.open(dir)) {
      new Editor(state.replicaId(), DOC).increment(state);
    }
    Files.delete(dir.resolve("replica-id"));
    assertThatThrownBy(() -> FileLocalState.open(dir))
        .isInstanceOf(LocalStateException.class)
        .hasMessageContaining("replica-id")
        .hasMessageContaining("missing but document state exists")
        .hasMessageContaining("fresh replica id");
    assertThat(dir.resolve("replica-id")).doesNotExist();
    // The refusal released the lock (else this would say another client holds it).
    assertThatThrownBy(() -> FileLocalState.open(dir))
        .isInstanceOf(LocalStateException.class)
        .hasMessageContaining("missing but document state exists");
    // The documented recovery: delete the directory, start afresh.
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
    try (FileLocalState state = FileLocalState.open(dir)) {
      assertThat(state.load(DOC)).isEmpty();
    }
  }

  @Test
  void unreadableReplicaIdIsRefused() throws IOException {
    try (FileLocalState state = FileLocalState.open(dir)) {
      assertThat(state.replicaId()).isNotNull();
    }
    Files.writeString(dir.resolve("replica-id"), "not-a-replica-id\n");
    assertThatThrownBy(() -> FileLocalState.open(dir))
        .isInstanceOf(LocalStateException.class)
        .hasMessageContaining(dir.resolve("replica-id").toString())
        .hasMessageContaining("16 lower-case hexadecimal digits");
  }

  @Test
  void oddDocumentIdsMapToDistinctSafeFiles() throws IOException {
    List<String> ids =
        List.of(
            "a/b",
            "a\\b",
            "..",
            ".",
            "../../escape",
            "/abs",
            "Board",
            "board",
            "CON",
            "nul:",
            "caf\u00e9",
            "cafe\u0301",
            "\u65e5\u672c\u8a9e \ud83c\udf89",
            "tab\tnew\nline\u0000zero",
            "x".repeat(512),
            "\u00e9".repeat(300));
    Map<String, Editor> editors = new HashMap<>();
    try (FileLocalState state = FileLocalState.open(dir)) {
      for (String id : ids) {
        Editor editor = new Editor(state.replicaId(), id);
        for (int i = 0; i <= ids.indexOf(id) % 3; i++) {
          editor.increment(state);
        }
        state.checkpoint(id, editor.replica.copy(), Set.of(1L));
        editors.put(id, editor);
      }
    }
    try (FileLocalState state = FileLocalState.open(dir)) {
      for (String id : ids) {
        StoredDocument stored = state.load(id).orElseThrow();
        assertThat(stored.replica().id()).isEqualTo(id);
        assertThat(stored.replica()).isEqualTo(editors.get(id).replica);
        assertThat(stored.outbox())
            .isEqualTo(editors.get(id).appended.subList(1, ids.indexOf(id) % 3 + 1));
      }
    }
    try (Stream<Path> all = Files.walk(dir)) {
      List<Path> files = all.filter(Files::isRegularFile).toList();
      assertThat(files).allSatisfy(f -> assertThat(f.startsWith(dir)).isTrue());
      Set<String> docFiles =
          files.stream()
              .filter(f -> f.getParent().equals(documents()))
              .map(f -> f.getFileName().toString())
              .collect(Collectors.toSet());
      assertThat(docFiles).hasSize(2 * ids.size());
      assertThat(docFiles).allMatch(name -> name.matches("[0-9a-f]{64}\\.(snapshot|outbox)"));
      assertThat(files).hasSize(2 * ids.size() + 2); // plus lock and replica-id
    }
  }

  @Test
  void badDocumentIdsAreRefusedClearly() {
    try (FileLocalState state = FileLocalState.open(dir)) {
      assertThatThrownBy(() -> state.load(""))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("empty");
      // Would encode like "?": two ids, one file.
      assertThatThrownBy(() -> state.load("lone \ud800 surrogate"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("well-formed");
      assertThat(state.load("lone ? surrogate")).isEmpty();
    }
  }

  @Test
  void documentsAreWrittenFromSeveralThreadsAtOnce() throws Exception {
    int threads = 4;
    int appends = 25;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try (FileLocalState state = FileLocalState.open(dir)) {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<Editor>> results = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        String id = "doc-" + t;
        results.add(
            pool.submit(
                () -> {
                  start.await();
                  Editor editor = new Editor(state.replicaId(), id);
                  for (int i = 0; i < appends; i++) {
                    editor.increment(state);
                    if (i % 10 == 9) {
                      state.checkpoint(id, editor.replica.copy(), Set.of((long) i));
                    }
                    state.load(id).orElseThrow();
                  }
                  return editor;
                }));
      }
      start.countDown();
      for (Future<Editor> result : results) {
        Editor editor = result.get(60, TimeUnit.SECONDS);
        StoredDocument stored = state.load(editor.replica.id()).orElseThrow();
        assertThat(stored.replica()).isEqualTo(editor.replica);
        assertThat(stored.outbox()).hasSize(appends - 2);
      }
    } finally {
      pool.shutdownNow();
    }
  }
}

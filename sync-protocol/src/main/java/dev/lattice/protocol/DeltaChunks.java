package dev.lattice.protocol;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Dot;
import dev.lattice.crdt.DotRange;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.codec.CrdtCodecs;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Splits a delta too large for one frame (a long-offline client's catch-up, a big document's SYNC)
 * into parts that each fit an UPDATE frame, without ever letting a receiver claim a dot whose
 * effects it lacks.
 *
 * <p>A delta's context says which dots it holds, and a receiver's version vector follows the
 * gap-free prefix of the dots it merged; a catch-up for that vector leaves out every field whose
 * latest contributions the vector covers. So a part must not carry the whole context: a receiver
 * that got only the first part would claim dots of fields in later parts and never be sent them.
 * Each part's context therefore holds exactly the latest dot of each replica that touched one of
 * its fields (what {@link DocumentDelta#of} requires, and effects the part carries). A receiver of
 * some parts holds at worst gaps, which only make the next catch-up send more. The rest of the
 * context (earlier dots, now folded into those states) is announced only once every part has been
 * merged: by the server in the final SYNC of the same connection (frames arrive in order), by a
 * client in a last UPDATE sent after every part was acknowledged (an earlier part might be refused
 * and retried).
 *
 * <p>Stateless and thread-safe.
 */
public final class DeltaChunks {

  private static final CrdtCodecs CODECS = CrdtCodecs.defaults();

  private DeltaChunks() {}

  /**
   * A delta cut into parts.
   *
   * @param parts each fits the budget; merged in any order they give the delta's fields
   * @param context the delta's whole context, to announce once every part is merged; empty when the
   *     delta fitted whole (then {@code parts} is the delta itself). Without the latest dot of each
   *     replica whose contribution to a skipped field was left out
   * @param skipped fields left out ({@link #forFanOut} only; sorted, usually empty): those of which
   *     some replica's contribution alone could not fit a frame, and those that share a latest dot
   *     with one
   */
  public record Split(List<DocumentDelta> parts, DotSet context, List<String> skipped) {
    public Split {
      parts = List.copyOf(parts);
      Objects.requireNonNull(context, "context");
      skipped = List.copyOf(skipped);
    }

    Split(List<DocumentDelta> parts, DotSet context) {
      this(parts, context, List.of());
    }

    /** Whether the delta fitted one frame unchanged. */
    public boolean whole() {
      return context.isEmpty() && skipped.isEmpty();
    }
  }

  /**
   * Splits {@code delta} so that each part, sent as an UPDATE request of {@code documentId} (any
   * request id), is a frame of at most {@code maxFrameBytes}.
   *
   * @throws IllegalArgumentException if one replica's contribution to one field does not fit a
   *     frame: nothing can carry it
   */
  public static Split forUpdates(String documentId, DocumentDelta delta, int maxFrameBytes) {
    // A request id takes at most 9 bytes where a fan-out's nil takes 1.
    return split(delta, maxFrameBytes - fanOutOverheadBytes(documentId) - 8);
  }

  /**
   * Splits {@code delta} so that each part, sent as a fan-out UPDATE of {@code documentId} (request
   * id nil, as a server sends them), is a frame of at most {@code maxFrameBytes}: exactly the room
   * {@link #unsendableField} promises.
   *
   * <p>One field must never stop a catch-up: a replica's contribution too large for any frame
   * (stored before the server refused such updates, or under a larger {@code maxFrameBytes}) is
   * left out and named in {@link Split#skipped()}, and its latest dot is left out of the context to
   * announce. The receiver then holds a gap there, so it never claims what it lacks; it converges
   * on everything else, and its next catch-up simply offers that field again.
   */
  public static Split forFanOut(String documentId, DocumentDelta delta, int maxFrameBytes) {
    return split(delta, maxFrameBytes - fanOutOverheadBytes(documentId), true);
  }

  /**
   * The exact bytes a fan-out UPDATE of {@code documentId} ({@code [5, nil, documentId, delta]})
   * spends around its delta: a fixarray header, the type, nil, and the document id as a str. A
   * delta of {@code n} bytes makes a frame of exactly this plus {@code n}.
   */
  public static int fanOutOverheadBytes(String documentId) {
    int idBytes = documentId.getBytes(StandardCharsets.UTF_8).length;
    int strHeader = idBytes < 32 ? 1 : idBytes < 256 ? 2 : idBytes < 65536 ? 3 : 5;
    return 3 + strHeader + idBytes;
  }

  /**
   * The first field of {@code delta} that no split can carry in a fan-out UPDATE of {@code
   * documentId} within {@code maxFrameBytes}: one replica's contribution to it is too large alone
   * (in practice a register value). Empty if every field can be sent back, whatever other replicas
   * later add to it. A server refuses an update with such a field: accepting it would acknowledge a
   * state that no catch-up could deliver.
   */
  public static Optional<String> unsendableField(
      String documentId, DocumentDelta delta, int maxFrameBytes) {
    int budget = maxFrameBytes - fanOutOverheadBytes(documentId);
    for (Map.Entry<String, FieldState> e : delta.fields().entrySet()) {
      for (ReplicaId replica : e.getValue().touched().entries().keySet()) {
        FieldState alone = onlyOf(e.getValue(), Set.of(replica));
        if (CODECS.documentDelta().encode(part(Map.of(e.getKey(), alone))).length > budget) {
          return Optional.of(e.getKey());
        }
      }
    }
    return Optional.empty();
  }

  /** The field's state and touched entries of only these replicas. */
  private static FieldState onlyOf(FieldState field, Set<ReplicaId> replicas) {
    return new FieldState(
        field.state().contributionsOf(replicas::contains),
        field.touched().filter(replicas::contains));
  }

  /**
   * Splits {@code delta} into parts whose encoded size is at most {@code maxDeltaBytes}.
   *
   * @throws IllegalArgumentException if one field alone is larger than {@code maxDeltaBytes}
   */
  public static Split split(DocumentDelta delta, int maxDeltaBytes) {
    return split(delta, maxDeltaBytes, false);
  }

  private static Split split(DocumentDelta delta, int maxDeltaBytes, boolean skip) {
    Objects.requireNonNull(delta, "delta");
    if (maxDeltaBytes < 1) {
      throw new IllegalArgumentException("no room for a delta in " + maxDeltaBytes + " bytes");
    }
    if (CODECS.documentDelta().encode(delta).length <= maxDeltaBytes) {
      return new Split(List.of(delta), DotSet.empty());
    }
    // Greedy packing on each field's size alone, padded for what a field costs in the general
    // form (its touched vector; a lone single-dot field encodes compactly), then checked: a part
    // that still does not fit is halved until it does.
    List<DocumentDelta> parts = new ArrayList<>();
    Skipped skipped = skip ? new Skipped() : null;
    TreeMap<String, FieldState> current = new TreeMap<>();
    long currentBytes = 0;
    for (Map.Entry<String, FieldState> e : delta.fields().entrySet()) {
      long bytes =
          CODECS.documentDelta().encode(part(Map.of(e.getKey(), e.getValue()))).length
              + 8
              + 20L * e.getValue().touched().size();
      if (!current.isEmpty() && currentBytes + bytes > maxDeltaBytes) {
        addFitting(parts, current, maxDeltaBytes, skipped);
        current = new TreeMap<>();
        currentBytes = 0;
      }
      current.put(e.getKey(), e.getValue());
      currentBytes += bytes;
    }
    if (!current.isEmpty()) {
      addFitting(parts, current, maxDeltaBytes, skipped);
    }
    if (skipped == null || skipped.fields.isEmpty()) {
      return new Split(parts, delta.context());
    }
    return leaveOut(delta, parts, skipped);
  }

  /**
   * The split without the skipped fields and every field that shares a left-out dot with one (one
   * update may have touched several fields with one dot; a part that carried such a field would
   * claim the dot for the skipped one too), to a fixed point, and the context without all their
   * latest dots.
   */
  private static Split leaveOut(DocumentDelta delta, List<DocumentDelta> parts, Skipped skipped) {
    Set<Dot> dots = new HashSet<>(skipped.dots);
    TreeSet<String> names = new TreeSet<>(skipped.fields);
    boolean grew = true;
    while (grew) {
      grew = false;
      for (Map.Entry<String, FieldState> e : delta.fields().entrySet()) {
        if (!names.contains(e.getKey()) && touchesAny(e.getValue(), dots)) {
          names.add(e.getKey());
          grew = true;
        }
        if (names.contains(e.getKey())) {
          for (Map.Entry<ReplicaId, Long> t : e.getValue().touched().entries().entrySet()) {
            grew |= dots.add(new Dot(t.getKey(), t.getValue()));
          }
        }
      }
    }
    List<DocumentDelta> kept = new ArrayList<>(parts.size());
    for (DocumentDelta part : parts) {
      TreeMap<String, FieldState> fields = new TreeMap<>(part.fields());
      fields.keySet().removeAll(names);
      if (fields.size() == part.fields().size()) {
        kept.add(part);
      } else if (!fields.isEmpty()) {
        kept.add(part(fields));
      }
    }
    return new Split(kept, without(delta.context(), new ArrayList<>(dots)), new ArrayList<>(names));
  }

  private static boolean touchesAny(FieldState field, Set<Dot> dots) {
    for (Map.Entry<ReplicaId, Long> t : field.touched().entries().entrySet()) {
      if (dots.contains(new Dot(t.getKey(), t.getValue()))) {
        return true;
      }
    }
    return false;
  }

  /** What a fan-out split left out: field names, and the latest dots of what it left out. */
  private static final class Skipped {
    final TreeSet<String> fields = new TreeSet<>();
    final List<Dot> dots = new ArrayList<>();
  }

  /** {@code context} without {@code dots}. */
  private static DotSet without(DotSet context, List<Dot> dots) {
    List<DotRange> kept = new ArrayList<>();
    for (DotRange range : context.ranges()) {
      long from = range.first();
      List<Long> cuts =
          dots.stream()
              .filter(
                  d ->
                      d.replica().equals(range.replica())
                          && d.sequence() >= range.first()
                          && d.sequence() <= range.last())
              .map(Dot::sequence)
              .sorted()
              .distinct()
              .toList();
      for (long cut : cuts) {
        if (cut > from) {
          kept.add(new DotRange(range.replica(), from, cut - 1));
        }
        from = cut + 1;
      }
      if (from <= range.last()) {
        kept.add(new DotRange(range.replica(), from, range.last()));
      }
    }
    return DotSet.of(kept);
  }

  /** Adds the fields as one part if it fits, else as halves, each checked the same way. */
  private static void addFitting(
      List<DocumentDelta> parts,
      TreeMap<String, FieldState> fields,
      int maxDeltaBytes,
      Skipped skipped) {
    DocumentDelta part = part(fields);
    int bytes = CODECS.documentDelta().encode(part).length;
    if (bytes <= maxDeltaBytes) {
      parts.add(part);
      return;
    }
    if (fields.size() == 1) {
      addFittingByReplica(
          parts, fields.firstKey(), fields.firstEntry().getValue(), maxDeltaBytes, skipped);
      return;
    }
    String middle = new ArrayList<>(fields.keySet()).get(fields.size() / 2);
    addFitting(parts, new TreeMap<>(fields.headMap(middle)), maxDeltaBytes, skipped);
    addFitting(parts, new TreeMap<>(fields.tailMap(middle)), maxDeltaBytes, skipped);
  }

  /**
   * One field too large for a part, cut by replica: each part holds the contributions (and touched
   * entries) of some of the replicas that touched it. Joined, the parts give the field back, and
   * each part's context is still exactly the latest dots of what it carries. A field touched by
   * many replicas (a counter of thousands of writers, a register rewritten by each) so never stops
   * a catch-up; only one replica's contribution alone, larger than a frame, does.
   *
   * @throws IllegalArgumentException if one replica's contribution alone does not fit
   */
  private static void addFittingByReplica(
      List<DocumentDelta> parts,
      String name,
      FieldState field,
      int maxDeltaBytes,
      Skipped skipped) {
    List<ReplicaId> replicas = new ArrayList<>(field.touched().entries().keySet());
    if (replicas.size() <= 1 && skipped != null) {
      skipped.fields.add(name);
      field.touched().entries().forEach((r, seq) -> skipped.dots.add(new Dot(r, seq)));
      return;
    }
    if (replicas.size() <= 1) {
      int bytes = CODECS.documentDelta().encode(part(Map.of(name, field))).length;
      throw new IllegalArgumentException(
          "field '"
              + name
              + "' alone encodes to "
              + bytes
              + " bytes, more than the "
              + maxDeltaBytes
              + " a frame has room for");
    }
    int half = replicas.size() / 2;
    for (List<ReplicaId> side :
        List.of(replicas.subList(0, half), replicas.subList(half, replicas.size()))) {
      FieldState piece = onlyOf(field, new HashSet<>(side));
      DocumentDelta part = part(Map.of(name, piece));
      if (CODECS.documentDelta().encode(part).length <= maxDeltaBytes) {
        parts.add(part);
      } else {
        addFittingByReplica(parts, name, piece, maxDeltaBytes, skipped);
      }
    }
  }

  /** The fields with a context of exactly the latest dot of each replica that touched them. */
  private static DocumentDelta part(Map<String, FieldState> fields) {
    List<DotRange> dots = new ArrayList<>();
    for (FieldState field : fields.values()) {
      for (Map.Entry<ReplicaId, Long> t : field.touched().entries().entrySet()) {
        dots.add(new DotRange(t.getKey(), t.getValue(), t.getValue()));
      }
    }
    return DocumentDelta.of(DotSet.of(dots), fields);
  }
}

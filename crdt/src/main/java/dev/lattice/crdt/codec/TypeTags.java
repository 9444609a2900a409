package dev.lattice.crdt.codec;

/**
 * The type tags and the format version that open every payload. A standalone payload is the
 * MessagePack array {@code [tag, version, ...body]}; the wire format of each tag is specified in
 * {@code docs/ENCODING.md}.
 *
 * <p>Tags are never reused: a new type takes a new tag, and an incompatible change to a type's body
 * takes a new {@link #FORMAT_VERSION}. Decoders refuse a tag or version they do not know with a
 * {@link CodecException} naming the expected and the received value.
 *
 * <p>Constants only; thread-safe.
 */
public final class TypeTags {

  /** The format version written by this library and the only one its decoders accept. */
  public static final int FORMAT_VERSION = 1;

  /** A {@link dev.lattice.crdt.Value}: {@code [1, 1, value]}. */
  public static final int VALUE = 1;

  /**
   * A {@link dev.lattice.crdt.GCounter}: {@code [2, 1, {replica: count}]}. Also the field type tag
   * of a G-Counter field inside deltas and documents.
   */
  public static final int G_COUNTER = 2;

  /**
   * A {@link dev.lattice.crdt.PNCounter}: {@code [3, 1, {replica: count}, {replica: count}]},
   * increments then decrements. Also the field type tag of a PN-Counter field.
   */
  public static final int PN_COUNTER = 3;

  /**
   * An {@link dev.lattice.crdt.LWWRegister}: {@code [4, 1]} when never written, else {@code [4, 1,
   * value, timestamp, writer]}. Also the field type tag of a register field.
   */
  public static final int LWW_REGISTER = 4;

  /** A {@link dev.lattice.crdt.VersionVector}: {@code [5, 1, {replica: sequence}]}. */
  public static final int VERSION_VECTOR = 5;

  /**
   * A {@link dev.lattice.crdt.DotSet}: {@code [6, 1, [replica, first, last, ...]]}, the ranges as
   * flat triples.
   */
  public static final int DOT_SET = 6;

  /**
   * A {@link dev.lattice.crdt.DocumentDelta} in its general form: {@code [7, 1, dots, {name:
   * field}]}.
   */
  public static final int DOCUMENT_DELTA = 7;

  /**
   * A {@link dev.lattice.crdt.DocumentDelta} of one local mutation, in its compact form: {@code [8,
   * 1, replica, sequence, name, fieldType, compactState]}. The encoder uses it whenever it applies,
   * and only then.
   */
  public static final int DOCUMENT_DELTA_SINGLE = 8;

  /** A {@link dev.lattice.crdt.Document}: {@code [9, 1, id, dots, {name: field}]}. */
  public static final int DOCUMENT = 9;

  /**
   * The field type tag of an {@link dev.lattice.crdt.ORSet} field: state {@code [context, [element,
   * replica, sequence, ...]]}. Field tag only: there is no standalone OR-Set payload.
   */
  public static final int OR_SET = 10;

  /**
   * The field type tag of an {@link dev.lattice.crdt.MVRegister} field: state {@code [context,
   * [replica, sequence, value, ...]]}. Field tag only.
   */
  public static final int MV_REGISTER = 11;

  /**
   * The field type tag of an {@link dev.lattice.crdt.ORMap} field: state {@code [context, [replica,
   * sequence, key, [type, state], ...]]}. Field tag only.
   */
  public static final int OR_MAP = 12;

  private TypeTags() {}

  /** The constant's name for a known tag, for messages; {@code "unknown"} otherwise. */
  static String nameOf(long tag) {
    return switch ((int) Math.max(Math.min(tag, Integer.MAX_VALUE), Integer.MIN_VALUE)) {
      case VALUE -> "VALUE";
      case G_COUNTER -> "G_COUNTER";
      case PN_COUNTER -> "PN_COUNTER";
      case LWW_REGISTER -> "LWW_REGISTER";
      case VERSION_VECTOR -> "VERSION_VECTOR";
      case DOT_SET -> "DOT_SET";
      case DOCUMENT_DELTA -> "DOCUMENT_DELTA";
      case DOCUMENT_DELTA_SINGLE -> "DOCUMENT_DELTA_SINGLE";
      case DOCUMENT -> "DOCUMENT";
      case OR_SET -> "OR_SET";
      case MV_REGISTER -> "MV_REGISTER";
      case OR_MAP -> "OR_MAP";
      default -> "unknown";
    };
  }
}

package dev.lattice.crdt.codec;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.DotSet;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.LWWRegister;
import dev.lattice.crdt.PNCounter;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import java.util.Objects;

/**
 * The MessagePack codecs of the CRDT types, all bounded by one {@link CodecLimits}. The wire
 * formats are specified in {@code docs/ENCODING.md}; every payload opens with a type tag and a
 * format version ({@link TypeTags}).
 *
 * <p>Each codec can make a standalone payload ({@link Codec#encode}, {@link Codec#decode}) or write
 * and read one as the next value of a larger MessagePack message ({@link Codec#write}, {@link
 * Codec#read}), so protocol messages embed them as they are.
 *
 * <p>Immutable and thread-safe; the codecs are stateless apart from the limits, so share them.
 */
public final class CrdtCodecs {

  private static final CrdtCodecs DEFAULTS = new CrdtCodecs(CodecLimits.defaults());

  private final CodecLimits limits;
  private final Codec<Value> value;
  private final Codec<GCounter> gCounter;
  private final Codec<PNCounter> pnCounter;
  private final Codec<LWWRegister> lwwRegister;
  private final Codec<VersionVector> versionVector;
  private final Codec<DotSet> dotSet;
  private final Codec<DocumentDelta> documentDelta;
  private final Codec<Document> document;

  private CrdtCodecs(CodecLimits limits) {
    this.limits = limits;
    this.value = new ValueCodec(limits);
    this.gCounter = new GCounterCodec(limits);
    this.pnCounter = new PNCounterCodec(limits);
    this.lwwRegister = new LWWRegisterCodec(limits);
    this.versionVector = new VersionVectorCodec(limits);
    this.dotSet = new DotSetCodec(limits);
    this.documentDelta = new DocumentDeltaCodec(limits);
    this.document = new DocumentCodec(limits);
  }

  /** The codecs bounded by {@code limits}. */
  public static CrdtCodecs create(CodecLimits limits) {
    Objects.requireNonNull(limits, "limits");
    return limits.equals(CodecLimits.defaults()) ? DEFAULTS : new CrdtCodecs(limits);
  }

  /** The codecs bounded by {@link CodecLimits#defaults()}. */
  public static CrdtCodecs defaults() {
    return DEFAULTS;
  }

  /** The limits every codec of this set applies. */
  public CodecLimits limits() {
    return limits;
  }

  /** {@link Value}: {@code [1, 1, value]}. */
  public Codec<Value> value() {
    return value;
  }

  /** {@link GCounter}: {@code [2, 1, {replica: count}]}. */
  public Codec<GCounter> gCounter() {
    return gCounter;
  }

  /** {@link PNCounter}: {@code [3, 1, {replica: count}, {replica: count}]}. */
  public Codec<PNCounter> pnCounter() {
    return pnCounter;
  }

  /** {@link LWWRegister}: {@code [4, 1]} or {@code [4, 1, value, timestamp, writer]}. */
  public Codec<LWWRegister> lwwRegister() {
    return lwwRegister;
  }

  /** {@link VersionVector}: {@code [5, 1, {replica: sequence}]}. */
  public Codec<VersionVector> versionVector() {
    return versionVector;
  }

  /** {@link DotSet}: {@code [6, 1, [replica, first, last, ...]]}. */
  public Codec<DotSet> dotSet() {
    return dotSet;
  }

  /**
   * {@link DocumentDelta}: the compact {@code [8, 1, replica, sequence, name, type, state]} for a
   * delta of one local mutation, else {@code [7, 1, [replica, first, last, ...], {name: field}]}.
   */
  public Codec<DocumentDelta> documentDelta() {
    return documentDelta;
  }

  /** {@link Document}: {@code [9, 1, id, [replica, first, last, ...], {name: field}]}. */
  public Codec<Document> document() {
    return document;
  }
}

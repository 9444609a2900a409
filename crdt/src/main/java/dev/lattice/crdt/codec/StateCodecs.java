package dev.lattice.crdt.codec;

import dev.lattice.crdt.CrdtType;
import java.util.EnumMap;
import java.util.Map;
import java.util.StringJoiner;
import java.util.TreeMap;

/**
 * The registry of {@link StateCodec}s: one per {@link CrdtType}, found by type when writing and by
 * field type tag when reading. Immutable after class initialisation; thread-safe.
 */
final class StateCodecs {

  private static final EnumMap<CrdtType, StateCodec> BY_TYPE = new EnumMap<>(CrdtType.class);
  private static final TreeMap<Integer, StateCodec> BY_TAG = new TreeMap<>();
  private static final String KNOWN;

  static {
    register(new GCounterState());
    register(new PNCounterState());
    register(new LWWRegisterState());
    register(new ORSetState());
    register(new MVRegisterState());
    register(new ORMapState());
    for (CrdtType type : CrdtType.values()) {
      if (!BY_TYPE.containsKey(type)) {
        throw new ExceptionInInitializerError("no state codec for " + type);
      }
    }
    StringJoiner known = new StringJoiner(", ");
    for (Map.Entry<Integer, StateCodec> e : BY_TAG.entrySet()) {
      known.add(e.getKey() + " (" + e.getValue().type() + ")");
    }
    KNOWN = known.toString();
  }

  private StateCodecs() {}

  private static void register(StateCodec codec) {
    BY_TYPE.put(codec.type(), codec);
    BY_TAG.put(codec.tag(), codec);
  }

  static StateCodec of(CrdtType type) {
    return BY_TYPE.get(type);
  }

  /** The codec of a field type tag, or null if no type has it. */
  static StateCodec ofTag(long tag) {
    return tag < Integer.MIN_VALUE || tag > Integer.MAX_VALUE ? null : BY_TAG.get((int) tag);
  }

  /** The known tags and their types, for messages: {@code "2 (G_COUNTER), 3 (PN_COUNTER)"}. */
  static String known() {
    return KNOWN;
  }
}

package dev.lattice.protocol;

import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HlcTimestamp;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeMap;

/** The messages of the golden examples in docs/PROTOCOL.md, with their exact frames. */
final class Samples {

  static final MessageCodec CODEC = MessageCodec.defaults();

  /** Top bit set: an int64 on the wire ({@code d3 ...}). */
  static final ReplicaId R = ReplicaId.of(0xa1b2c3d4e5f60718L);

  static final ReplicaId A = ReplicaId.of(0x0a);
  static final ReplicaId SERVER = ReplicaId.of(0x0b);

  /** 2023-11-14T22:13:20.000Z/3, packed {@code 0x018bcfe568000003}. */
  static final HlcTimestamp T1 = HlcTimestamp.of(1_700_000_000_000L, 3);

  /** 2023-11-14T22:13:20.012Z/0, packed {@code 0x018bcfe5680c0000}. */
  static final HlcTimestamp T2 = HlcTimestamp.of(1_700_000_000_012L, 0);

  private Samples() {}

  static String hex(byte[] bytes) {
    return HexFormat.of().formatHex(bytes);
  }

  static byte[] bytes(String hex) {
    return HexFormat.of().parseHex(hex.replace(" ", ""));
  }

  /** Replica {@link #R} increments {@code "likes"} by 1: the compact delta of ENCODING.md §5. */
  static DocumentDelta likesIncrement() {
    return Document.create("d").incrementGCounter(R, "likes", 1);
  }

  /** A document where replica 0x0a incremented "a" by 1 and "b" by 2. */
  static Document twoCounters() {
    Document doc = Document.create("d");
    doc.incrementGCounter(A, "a", 1);
    doc.incrementGCounter(A, "b", 2);
    return doc;
  }

  /** Golden message name to message and frame hex, in the order of docs/PROTOCOL.md. */
  static Map<String, Golden> goldens() {
    Map<String, Golden> g = new LinkedHashMap<>();
    g.put(
        "HELLO",
        new Golden(
            new Hello(1, 1, R, Optional.of("secret"), Optional.of("js/1")),
            "96 01 01 01 d3a1b2c3d4e5f60718 a6736563726574 a46a732f31"));
    TreeMap<String, Long> limits = new TreeMap<>();
    limits.put(Welcome.LIMIT_MAX_FRAME_BYTES, 1_048_576L);
    limits.put(Welcome.LIMIT_UPDATES_PER_SECOND, 100L);
    g.put(
        "WELCOME",
        new Golden(
            new Welcome(1, SERVER, T1, limits, "s1"),
            "96 02 01 0b cf018bcfe568000003"
                + " 82 ad6d61784672616d654279746573 ce00100000"
                + " b0757064617465735065725365636f6e64 64"
                + " a27331"));
    g.put(
        "SUBSCRIBE",
        new Golden(new Subscribe(1, "d", VersionVector.empty()), "94 03 01 a164 93 05 01 80"));
    Document doc = twoCounters();
    g.put(
        "SYNC",
        new Golden(
            new Sync(1, "d", doc.deltaSince(VersionVector.empty()), doc.versionVector()),
            "95 04 01 a164"
                + " 94 07 01 93 0a 01 02 82 a161 93 02 810a01 810a01 a162 93 02 810a02 810a02"
                + " 93 05 01 81 0a 02"));
    g.put(
        "UPDATE",
        new Golden(
            Update.request(2, "d", likesIncrement()),
            "94 05 02 a164 97 08 01 d3a1b2c3d4e5f60718 01 a56c696b6573 02 01"));
    g.put("ACK", new Golden(new Ack(2, "d"), "93 06 02 a164"));
    g.put(
        "UPDATE_FAN_OUT",
        new Golden(
            Update.fanOut("d", likesIncrement()),
            "94 05 c0 a164 97 08 01 d3a1b2c3d4e5f60718 01 a56c696b6573 02 01"));
    g.put("UNSUBSCRIBE", new Golden(new Unsubscribe(3, "d"), "93 07 03 a164"));
    g.put(
        "PRESENCE",
        new Golden(
            new Presence(
                "d", R, 30_000, Optional.of(Value.map(Map.of(Value.of("cursor"), Value.of(5L))))),
            "95 08 a164 d3a1b2c3d4e5f60718 cd7530 81 a6637572736f72 05"));
    g.put(
        "PRESENCE_LEAVE",
        new Golden(Presence.leave("d", R), "95 08 a164 d3a1b2c3d4e5f60718 00 c0"));
    g.put("PING", new Golden(new Ping(7, T1), "93 09 07 cf018bcfe568000003"));
    g.put("PONG", new Golden(new Pong(7, T2), "93 0a 07 cf018bcfe5680c0000"));
    g.put(
        "ERROR",
        new Golden(
            ErrorMessage.of(OptionalLong.of(3), ErrorCode.NOT_SUBSCRIBED, "not subscribed"),
            "94 0b 03 04 ae6e6f742073756273637269626564"));
    // The causal types (docs/PROTOCOL.md, "UPDATEs of the causal types"; ENCODING.md §4).
    Document setOfA = Document.create("d");
    DocumentDelta addX = setOfA.addToSet(A, "tags", Value.of("x"));
    g.put(
        "UPDATE_OR_SET_ADD",
        new Golden(
            Update.request(3, "d", addX),
            "94 05 03 a164 97 08 01 0a 01 a4746167 73 0a 92 93 0a 01 01 93 a178 0a 01"));
    Document setOfB = Document.create("d");
    setOfB.merge(addX);
    g.put(
        "UPDATE_OR_SET_REMOVE",
        new Golden(
            Update.request(4, "d", setOfB.removeFromSet(SERVER, "tags", Value.of("x"))),
            "94 05 04 a164 97 08 01 0b 01 a474616773 0a 92 96 0a 01 01 0b 01 01 90"));
    g.put(
        "UPDATE_MV_REGISTER",
        new Golden(
            Update.request(
                5, "d", Document.create("d").writeMVRegister(A, "title", Value.of("hi"))),
            "94 05 05 a164 97 08 01 0a 01 a57469746c65 0b 92 93 0a 01 01 93 0a 01 a26869"));
    g.put(
        "UPDATE_OR_MAP",
        new Golden(
            Update.request(
                6,
                "d",
                Document.create("d")
                    .updateMap(
                        A,
                        "cfg",
                        "n",
                        CrdtKind.of(GCounter.class),
                        (counter, dot) -> counter.increment(A, 2))),
            "94 05 06 a164 97 08 01 0a 01 a3636667 0c 92 93 0a 01 01 94 0a 01 a16e 92 02 81 0a 02"));
    // Protocol version 2 (docs/PROTOCOL.md, "What changed in version 2").
    g.put(
        "HELLO_V2",
        new Golden(
            new Hello(1, 2, R, Optional.of("secret"), Optional.of("js/1")),
            "96 01 01 02 d3a1b2c3d4e5f60718 a6736563726574 a46a732f31"));
    g.put(
        "SUBSCRIBE_ALIAS",
        new Golden(
            Subscribe.withAlias(1, "d", VersionVector.empty(), 0),
            "95 03 01 a164 93 05 01 80 00",
            2));
    g.put(
        "UPDATE_OWN",
        new Golden(
            new OwnUpdate(2, 0, 1, "likes", new OwnUpdate.GCount(1)),
            "97 0c 02 00 01 a56c696b6573 02 01",
            2));
    g.put(
        "UPDATE_OWN_REGISTER",
        new Golden(
            new OwnUpdate(3, 0, 2, "title", new OwnUpdate.RegisterWrite(Value.of("hi"), T1)),
            "97 0c 03 00 02 a57469746c65 04 92 a26869 cf018bcfe568000003",
            2));
    g.put(
        "UPDATE_OWN_PN",
        new Golden(
            new OwnUpdate(4, 0, 3, "stock", new OwnUpdate.PNCount(0, 3)),
            "97 0c 04 00 03 a573746f636b 03 92 00 03",
            2));
    return g;
  }

  /**
   * A golden frame and its message, as decoded by a session of protocol {@code version} (1 for the
   * frames of version 1, which version 2 reads alike).
   */
  record Golden(Message message, String hex, int version) {
    Golden(Message message, String hex) {
      this(message, hex, 1);
    }

    byte[] frame() {
      return bytes(hex);
    }
  }
}

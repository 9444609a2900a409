package dev.lattice.protocol;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.hlc.HlcTimestamp;
import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * WELCOME, server to client: the answer to an accepted HELLO. Names the version chosen (the highest
 * both sides speak), the server's replica id, its HLC time (so the client can update its clock),
 * the limits the server enforces on this connection, and a session id for logs.
 *
 * <p>The limits map is open: a client ignores names it does not know, and a server may leave out
 * any name (the client then assumes nothing). The names of version 1 are the {@code LIMIT_*}
 * constants.
 *
 * <p>Immutable and thread-safe.
 *
 * @param version the protocol version chosen, at least 1
 * @param serverId the server's replica id
 * @param serverTime the server's HLC time when it sent WELCOME
 * @param limits limit name to value (each at least 0), sorted by name
 * @param sessionId an opaque id of this connection, for logs and support
 */
public record Welcome(
    int version,
    ReplicaId serverId,
    HlcTimestamp serverTime,
    SortedMap<String, Long> limits,
    String sessionId)
    implements Message {

  /** The largest frame the server accepts, in bytes. */
  public static final String LIMIT_MAX_FRAME_BYTES = "maxFrameBytes";

  /** The most documents one connection may subscribe to at once. */
  public static final String LIMIT_MAX_DOCUMENTS_PER_CONNECTION = "maxDocumentsPerConnection";

  /** The most fields a document may have. */
  public static final String LIMIT_MAX_FIELDS_PER_DOCUMENT = "maxFieldsPerDocument";

  /** The sustained rate of UPDATEs per second the server accepts from one connection. */
  public static final String LIMIT_UPDATES_PER_SECOND = "updatesPerSecond";

  /** The burst of UPDATEs above the sustained rate the server accepts. */
  public static final String LIMIT_UPDATE_BURST = "updateBurst";

  /** Milliseconds without any incoming frame after which the server closes the connection. */
  public static final String LIMIT_IDLE_TIMEOUT_MILLIS = "idleTimeoutMillis";

  /** The largest presence value, in encoded bytes. */
  public static final String LIMIT_MAX_PRESENCE_BYTES = "maxPresenceBytes";

  /** The longest presence TTL the server honours, in milliseconds. */
  public static final String LIMIT_PRESENCE_TTL_MILLIS = "presenceTtlMillis";

  /** Most SUBSCRIBEs (catch-ups) a connection may send a minute; more are RATE_LIMITED. */
  public static final String LIMIT_CATCH_UPS_PER_MINUTE = "catchUpsPerMinute";

  /** Bytes a connection may send a second; the server reads more slowly past it. */
  public static final String LIMIT_BYTES_IN_PER_SECOND = "bytesInPerSecond";

  /**
   * How far ahead of the server's clock a timestamp in an update may be before the update is
   * refused with {@code CLOCK_DRIFT}, in milliseconds.
   */
  public static final String LIMIT_MAX_CLOCK_DRIFT_MILLIS = "maxClockDriftMillis";

  /**
   * @throws IllegalArgumentException if {@code version < 1}, a limit name is empty or a limit value
   *     negative
   * @throws NullPointerException if a component, a limit name or value is null
   */
  public Welcome {
    if (version < 1) {
      throw new IllegalArgumentException("WELCOME.version must be >= 1, was " + version);
    }
    Checks.notNull("WELCOME", "serverId", serverId);
    Checks.notNull("WELCOME", "serverTime", serverTime);
    Checks.notNull("WELCOME", "limits", limits);
    Checks.notNull("WELCOME", "sessionId", sessionId);
    // A copy in natural String order, whatever the caller's comparator: that order is the wire's.
    TreeMap<String, Long> copy = new TreeMap<>();
    for (Map.Entry<String, Long> e : limits.entrySet()) {
      String name = Checks.notNull("WELCOME", "limits key", e.getKey());
      Long value = Checks.notNull("WELCOME", "limits['" + name + "']", e.getValue());
      if (name.isEmpty()) {
        throw new IllegalArgumentException("WELCOME.limits has an empty name");
      }
      Checks.nonNegative("WELCOME", "limits['" + name + "']", value);
      copy.put(name, value);
    }
    limits = Collections.unmodifiableSortedMap(copy);
  }

  /** A WELCOME with the limits of {@code limits}, copied. */
  public static Welcome of(
      int version,
      ReplicaId serverId,
      HlcTimestamp serverTime,
      Map<String, Long> limits,
      String sessionId) {
    return new Welcome(version, serverId, serverTime, new TreeMap<>(limits), sessionId);
  }

  @Override
  public MessageType messageType() {
    return MessageType.WELCOME;
  }
}

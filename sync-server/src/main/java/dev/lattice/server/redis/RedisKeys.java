package dev.lattice.server.redis;

import dev.lattice.crdt.ReplicaId;
import java.nio.charset.StandardCharsets;

/**
 * The Redis names of a document: {@code <prefix>:{<id>}:<suffix>}, with the id escaped ({@code %}
 * as {@code %25}, braces as {@code %7B} and {@code %7D}) so that no id can break the hash tag or
 * collide with another's names. Every name of one document hashes to one slot, so a script may
 * touch them all, on Redis Cluster too, and the channel of a document lives on its data's shard.
 *
 * <p>Suffixes: {@code s} snapshot, {@code l} the log of deltas since it (a stream), {@code h} the
 * head (the position of the last append), {@code f} the position of the last delta folded into the
 * snapshot, {@code b} the position of the append that created the document's current history,
 * {@code t} the type of each field made durable (a hash the append script keeps, see {@link
 * RedisDocumentStore}), {@code c} the pub/sub channel. A document exists when its head does, so
 * {@link #headPattern} finds every document (SCAN it on every master of a cluster: the names have
 * no index outside their own slot).
 *
 * <p>Immutable and thread-safe.
 */
public final class RedisKeys {

  /** The default prefix of every name: {@code lattice}. */
  public static final String DEFAULT_PREFIX = "lattice";

  private final String prefix;

  /**
   * Names under {@code prefix}.
   *
   * @throws IllegalArgumentException if the prefix is empty or holds a brace
   */
  public RedisKeys(String prefix) {
    if (prefix.isEmpty() || prefix.indexOf('{') >= 0 || prefix.indexOf('}') >= 0) {
      throw new IllegalArgumentException(
          "a Redis key prefix must be non-empty and hold no braces, was '" + prefix + "'");
    }
    this.prefix = prefix;
  }

  /** The prefix. */
  public String prefix() {
    return prefix;
  }

  /** The escaped form of a document id, as it appears inside the hash tag. */
  public static String escape(String documentId) {
    StringBuilder b = new StringBuilder(documentId.length() + 8);
    for (int i = 0; i < documentId.length(); i++) {
      char c = documentId.charAt(i);
      switch (c) {
        case '%' -> b.append("%25");
        case '{' -> b.append("%7B");
        case '}' -> b.append("%7D");
        default -> b.append(c);
      }
    }
    return b.toString();
  }

  /** The inverse of {@link #escape}. */
  public static String unescape(String escaped) {
    StringBuilder b = new StringBuilder(escaped.length());
    for (int i = 0; i < escaped.length(); i++) {
      char c = escaped.charAt(i);
      if (c == '%' && i + 2 < escaped.length()) {
        String code = escaped.substring(i + 1, i + 3);
        switch (code) {
          case "25" -> b.append('%');
          case "7B" -> b.append('{');
          case "7D" -> b.append('}');
          default -> throw new IllegalArgumentException("not an escaped id: '" + escaped + "'");
        }
        i += 2;
      } else if (c == '%') {
        throw new IllegalArgumentException("not an escaped id: '" + escaped + "'");
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }

  /** {@code <prefix>:{<escaped id>}:<suffix>}. */
  public String name(String documentId, String suffix) {
    return prefix + ":{" + escape(documentId) + "}:" + suffix;
  }

  /** The document's pub/sub channel. */
  public String channel(String documentId) {
    return name(documentId, "c");
  }

  /** The key holding the document's head position. */
  public String head(String documentId) {
    return name(documentId, "h");
  }

  /** The key holding the document's snapshot. */
  public String snapshot(String documentId) {
    return name(documentId, "s");
  }

  /** The stream of deltas appended since the snapshot. */
  public String log(String documentId) {
    return name(documentId, "l");
  }

  /**
   * The key holding the position of the append that created the document's current history: a
   * cursor before it comes from a history Redis lost (it restarted empty since).
   */
  public String born(String documentId) {
    return name(documentId, "b");
  }

  /**
   * The hash of the document's durable field types: {@code f:<field>} to the type's name, and
   * {@code #} once it is complete (the append script fills it from the document the first time it
   * finds it missing on a document written before it existed).
   */
  public String types(String documentId) {
    return name(documentId, "t");
  }

  /** The key holding the position of the last delta folded into the snapshot. */
  public String folded(String documentId) {
    return name(documentId, "f");
  }

  /**
   * The store-wide greatest timestamp, {@code <prefix>:max-timestamp}: the packed timestamp as 19
   * decimal digits (so that a string comparison in a script orders it). Outside every document's
   * hash tag, so no document's names can take it.
   */
  public String maxTimestamp() {
    return prefix + ":max-timestamp";
  }

  /**
   * The key holding the subject that owns a replica id, {@code <prefix>:replica-owner:<hex id>}
   * ({@code DocumentStore.claimReplica}). Outside every document's hash tag: a replica writes to
   * many documents, and its owner is one fact shared by all of them.
   */
  public String replicaOwner(ReplicaId replica) {
    return prefix + ":replica-owner:" + replica;
  }

  /**
   * A SCAN {@code MATCH} pattern of every head key of this prefix: the prefix with glob characters
   * escaped, then {@code :{*}:h}. Keys it matches may still be foreign; {@link #documentOfHead}
   * tells.
   */
  public String headPattern() {
    StringBuilder b = new StringBuilder(prefix.length() + 8);
    for (int i = 0; i < prefix.length(); i++) {
      char c = prefix.charAt(i);
      if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
        b.append('\\');
      }
      b.append(c);
    }
    return b.append(":{*}:h").toString();
  }

  /** The document id a head key of this prefix belongs to, or null if it is not one. */
  public String documentOfHead(String key) {
    return documentOf(key, "}:h");
  }

  /** The document id a channel name of this prefix belongs to, or null if it is not one. */
  public String documentOfChannel(String channel) {
    return documentOf(channel, "}:c");
  }

  private String documentOf(String name, String end) {
    String start = prefix + ":{";
    if (!name.startsWith(start)
        || !name.endsWith(end)
        || name.length() < start.length() + end.length()) {
      return null;
    }
    String escaped = name.substring(start.length(), name.length() - end.length());
    // An escaped id holds no braces: a name with one inside its tag was not made here.
    if (escaped.indexOf('{') >= 0 || escaped.indexOf('}') >= 0) {
      return null;
    }
    try {
      return unescape(escaped);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  static byte[] bytes(String name) {
    return name.getBytes(StandardCharsets.UTF_8);
  }
}

package dev.lattice.server.redis;

import java.nio.charset.StandardCharsets;

/**
 * The Redis names of a document: {@code <prefix>:{<id>}:<suffix>}, with the id escaped ({@code %}
 * as {@code %25}, braces as {@code %7B} and {@code %7D}) so that no id can break the hash tag or
 * collide with another's names. Every name of one document hashes to one slot, so a script may
 * touch them all, on Redis Cluster too, and the channel of a document lives on its data's shard.
 *
 * <p>Suffixes: {@code s} snapshot, {@code l} the log of deltas since it, {@code h} the head (the
 * position of the last append), {@code c} the pub/sub channel.
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

  /** The document id a channel name of this prefix belongs to, or null if it is not one. */
  public String documentOfChannel(String channel) {
    String start = prefix + ":{";
    String end = "}:c";
    if (!channel.startsWith(start) || !channel.endsWith(end)) {
      return null;
    }
    try {
      return unescape(channel.substring(start.length(), channel.length() - end.length()));
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  static byte[] bytes(String name) {
    return name.getBytes(StandardCharsets.UTF_8);
  }
}

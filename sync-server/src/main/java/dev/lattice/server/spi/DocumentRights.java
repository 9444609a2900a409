package dev.lattice.server.spi;

import java.util.List;
import java.util.Objects;

/**
 * Per-document rights as the JWT claim {@code lattice} carries them: {@code {"read": [...],
 * "write": [...]}}, each entry an exact document id or a prefix ending in {@code *} ({@code "*"}
 * alone matches every document). Write implies read.
 *
 * <p>Immutable and thread-safe.
 */
public final class DocumentRights {

  private static final DocumentRights ALL = new DocumentRights(List.of(), List.of("*"));
  private static final DocumentRights NONE = new DocumentRights(List.of(), List.of());

  private final List<String> read;
  private final List<String> write;

  private DocumentRights(List<String> read, List<String> write) {
    this.read = read;
    this.write = write;
  }

  /**
   * Rights from the two pattern lists.
   *
   * @throws IllegalArgumentException if a pattern is empty or has a {@code *} other than as its
   *     last character
   */
  public static DocumentRights of(List<String> read, List<String> write) {
    return new DocumentRights(checked(read, "read"), checked(write, "write"));
  }

  /** Read and write on every document: what a principal without finer rights gets. */
  public static DocumentRights all() {
    return ALL;
  }

  /** No right on any document. */
  public static DocumentRights none() {
    return NONE;
  }

  /** The read patterns, as given (write patterns grant read too). */
  public List<String> read() {
    return read;
  }

  /** The write patterns, as given. */
  public List<String> write() {
    return write;
  }

  /** What these rights allow on {@code documentId}. */
  public Access accessTo(String documentId) {
    Objects.requireNonNull(documentId, "documentId");
    if (matchesAny(write, documentId)) {
      return Access.WRITE;
    }
    return matchesAny(read, documentId) ? Access.READ : Access.NONE;
  }

  private static boolean matchesAny(List<String> patterns, String documentId) {
    for (String pattern : patterns) {
      if (pattern.endsWith("*")
          ? documentId.startsWith(pattern.substring(0, pattern.length() - 1))
          : documentId.equals(pattern)) {
        return true;
      }
    }
    return false;
  }

  private static List<String> checked(List<String> patterns, String name) {
    List<String> copy = List.copyOf(Objects.requireNonNull(patterns, name));
    for (String pattern : copy) {
      int star = pattern.indexOf('*');
      if (pattern.isEmpty()) {
        throw new IllegalArgumentException(name + ": a document pattern must not be empty");
      }
      if (star >= 0 && star != pattern.length() - 1) {
        throw new IllegalArgumentException(
            name + ": '*' may only end a document pattern (a prefix), got '" + pattern + "'");
      }
    }
    return copy;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof DocumentRights other
        && read.equals(other.read)
        && write.equals(other.write);
  }

  @Override
  public int hashCode() {
    return 31 * read.hashCode() + write.hashCode();
  }

  @Override
  public String toString() {
    return "DocumentRights[read=" + read + ", write=" + write + "]";
  }
}

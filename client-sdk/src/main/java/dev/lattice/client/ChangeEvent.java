package dev.lattice.client;

import java.util.Objects;
import java.util.Set;

/**
 * Some fields of a document changed, either by an edit of this client ({@link Origin#LOCAL}) or by
 * a change that arrived from the server ({@link Origin#REMOTE}: another replica's edit, a catch-up
 * after reconnect, or the server refusing one of this client's edits, which undoes it locally).
 *
 * <p>Immutable and thread-safe.
 *
 * @param documentId the document
 * @param fields the names of the fields whose value changed, never empty
 * @param origin where the change came from
 */
public record ChangeEvent(String documentId, Set<String> fields, Origin origin) {

  /** Where a change came from. */
  public enum Origin {
    /** An edit made through this client. */
    LOCAL,
    /** A change that arrived from the server. */
    REMOTE
  }

  /**
   * @throws NullPointerException if a component is null
   */
  public ChangeEvent {
    Objects.requireNonNull(documentId, "documentId");
    fields = Set.copyOf(fields);
    Objects.requireNonNull(origin, "origin");
  }
}

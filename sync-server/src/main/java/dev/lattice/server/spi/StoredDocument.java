package dev.lattice.server.spi;

import dev.lattice.crdt.Document;
import java.util.Objects;

/**
 * A document as loaded, with the position in its history that it reflects: it holds every delta
 * appended up to {@code position} (and may hold later ones). Not immutable: the document is the
 * caller's to merge into.
 *
 * @param document the loaded document, owned by the caller
 * @param position the last append it reflects, {@link StoreCursor#ORIGIN} if the store does not
 *     track positions
 */
public record StoredDocument(Document document, StoreCursor position) {

  /** Checks both are given. */
  public StoredDocument {
    Objects.requireNonNull(document, "document");
    Objects.requireNonNull(position, "position");
  }
}

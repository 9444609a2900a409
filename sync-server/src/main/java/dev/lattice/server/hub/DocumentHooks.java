package dev.lattice.server.hub;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.server.spi.DocumentEdit;
import dev.lattice.server.spi.LatticeExtension.Change;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

/**
 * What a {@link DefaultHub} tells the server's extensions about its documents: a document being
 * made live (which may seed a new one), each change once it is durable, each append, and a document
 * leaving memory. The server's extension runner implements it; the hub only hands it immutable
 * values, the extensions' own {@link Change} among them.
 *
 * <p>Every method is called from a document's serial executor (or, for {@link #loading}, from the
 * thread that completed the load), so implementations must return at once and hand real work to
 * threads of their own: a hook that blocked here would stall the document. Thread-safe.
 */
public interface DocumentHooks {

  /** Hooks that do nothing: the hub then records nothing for them either. */
  DocumentHooks NONE = new DocumentHooks() {};

  /**
   * A document is being made live (for a subscribe or a server edit), from the store or the idle
   * cache. The returned stage holds the edits that seed it, applied (in order, as one server edit)
   * only when {@code isNew}: the store has never held the document. The subscribes and edits
   * waiting for the load wait for this stage too, and a failed stage fails them like a failed load.
   *
   * @param isNew the store holds nothing of the document
   */
  default CompletionStage<List<Consumer<DocumentEdit>>> loading(String documentId, boolean isNew) {
    return CompletableFuture.completedFuture(List.of());
  }

  /**
   * One update merged here is durable: a client's, a server edit or a seed; called once per update
   * (not per round), in the document's order, after its acknowledgement was handed out. Updates
   * that reached this hub from another server through the replicator are not reported here (their
   * own server reported them). An update whose append failed is reported when the retry that
   * carries it is durable.
   */
  default void changed(Change change) {}

  /**
   * The store made one round of the document durable: {@code delta} is what was appended (the
   * round's updates joined, with any retried or written-back state), {@code updates} how many
   * changes it carried.
   */
  default void stored(String documentId, DocumentDelta delta, int updates) {}

  /**
   * A document that was made live (see {@link #loading}) left memory: its last subscriber left and
   * nothing was in flight. It may still sit in the idle cache.
   */
  default void unloaded(String documentId) {}
}

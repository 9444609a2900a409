package dev.lattice.server.spi;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.InetSocketAddress;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

/**
 * A server-side extension, registered with {@link
 * dev.lattice.server.LatticeServer.Builder#extension}: told of the server's connections and
 * documents through the hooks below, each asynchronous (it returns a stage) and each with a default
 * that does nothing, so an extension overrides only what it needs. docs/EMBEDDING.md walks through
 * them with examples.
 *
 * <h2>Order and threads</h2>
 *
 * <p>Several extensions run in the order they were registered: for one event, the next extension's
 * hook is called once the previous one's stage completed (or failed, or timed out). Hooks are
 * called on the server's extension threads (a small pool of its own), never on a thread that serves
 * a connection or a document, and they are handed immutable values only. A hook should return a
 * stage at once and do slow work (I/O) asynchronously: a hook that blocks holds one of the few
 * extension threads. The events of one document ({@link #onChange}, {@link #onStoreDocument},
 * {@link #onUnloadDocument}) reach each extension in the document's order, as do those of one
 * connection; different documents and connections proceed independently.
 *
 * <h2>Failures and time-outs</h2>
 *
 * <p>Each hook call has a deadline ({@link
 * dev.lattice.server.LatticeServer.Builder#extensionTimeout}, default 5 s). A hook that throws,
 * returns a failed stage or null, or misses the deadline is logged and counted ({@code
 * lattice_extension_failures_total{hook="onChange"}}, ...), and then:
 *
 * <ul>
 *   <li>{@link #onConnect}, {@link #onAuthenticate}: the connection is refused (ERROR UNAUTHORIZED,
 *       close 4002);
 *   <li>{@link #onLoadDocument}: the load fails, so the SUBSCRIBE (or server edit) that caused it
 *       fails with INTERNAL and may be retried; nothing is cached;
 *   <li>{@link #onChange}, {@link #onStoreDocument}, {@link #onUnloadDocument}, {@link
 *       #onDisconnect}: ignored; the next extension and the next event go on.
 * </ul>
 *
 * <p>No hook can lose an acknowledged update or delay another document: changes are reported after
 * they are durable and acknowledged, and the documents never wait for {@link #onChange}, {@link
 * #onStoreDocument} or {@link #onUnloadDocument}. Events waiting for a slow extension are bounded
 * (10,000 per server); beyond that they are dropped and counted in {@code
 * lattice_extension_dropped_total}.
 *
 * <p>Implementations are thread-safe: hooks of different documents and connections run
 * concurrently.
 */
public interface LatticeExtension {

  /**
   * The server started (before it accepts connections) and hands the extension what it may use for
   * the rest of its life. Called once, synchronously, on the thread starting the server; a throw
   * fails the start.
   */
  default void onStart(Context context) {}

  /**
   * A client sent HELLO, before its credentials are checked. A failed stage refuses the connection.
   * Nothing is read from the connection until every extension answered.
   */
  default CompletionStage<Void> onConnect(Connect connect) {
    return done();
  }

  /**
   * The server's {@link dev.lattice.server.spi.Authenticator} granted the connection a principal
   * (with no authenticator configured, {@link Principal#anonymous()}): answer {@link
   * AuthResult#granted} with it or another principal (which the next extension and the session then
   * use), or {@link AuthResult#refused} with a reason the client is shown. A failed stage refuses
   * too. Not asked for HTTP reads ({@code GET /v1/docs/{id}}), which the authenticator alone
   * decides.
   */
  default CompletionStage<AuthResult> onAuthenticate(Authenticate authenticate) {
    return CompletableFuture.completedFuture(AuthResult.granted(authenticate.principal()));
  }

  /**
   * A document is made live for a subscribe or a server edit (from the store, or from the idle
   * cache). When {@link LoadDocument#isNew()} (the store has never held it) the returned {@link
   * Seed} is applied to it as one server edit before anyone is served it, so the first subscriber's
   * catch-up holds it; a seed returned for a stored document is ignored. The subscribes waiting for
   * the load wait for this hook. HTTP reads ({@code GET /v1/docs/{id}}) read the store directly and
   * load nothing, so they neither call this hook nor see a seed before the first subscribe or edit.
   */
  default CompletionStage<Seed> onLoadDocument(LoadDocument load) {
    return CompletableFuture.completedFuture(Seed.none());
  }

  /**
   * One update is durable and acknowledged: a client's UPDATE, a server {@code edit}, or a seed.
   * Called once per update accepted by this server. In Redis mode an update is reported only by the
   * server that accepted it, not by the others it reaches through Redis, so an extension running on
   * every server sees each change once. An update whose first append failed is reported once its
   * retry is durable; a client's resend of it after that failure may then be reported too (at least
   * once).
   */
  default CompletionStage<Void> onChange(Change change) {
    return done();
  }

  /**
   * The store made a round of the document durable: the changes reported to {@link #onChange} just
   * before, joined into one append (with any state written again after a failure).
   */
  default CompletionStage<Void> onStoreDocument(StoreDocument store) {
    return done();
  }

  /**
   * A document left memory: its last subscriber left and nothing was in flight. Follows each {@link
   * #onLoadDocument} whose load succeeded. The document may remain in the idle cache (a later
   * subscribe loads it again without reading the store, and {@link #onLoadDocument} is called
   * again).
   */
  default CompletionStage<Void> onUnloadDocument(UnloadDocument unload) {
    return done();
  }

  /**
   * A connection whose HELLO reached {@link #onConnect} ended, with its close code and reason: the
   * server's own close (4004 idle, 4002 refused, 1001 shutting down, ...) or the client's (1000, or
   * 1006 when the TCP connection just ended).
   */
  default CompletionStage<Void> onDisconnect(Disconnect disconnect) {
    return done();
  }

  /**
   * The server is closing, after its last events were handed to the extensions (waiting at most the
   * extension timeout for them). Called once, in reverse order of registration; a throw is logged.
   */
  default void onStop() {}

  private static CompletionStage<Void> done() {
    return CompletableFuture.completedFuture(null);
  }

  /** What the server offers an extension for its life. Thread-safe. */
  interface Context {

    /** The server's replica id (the replica of its edits and seeds). */
    ReplicaId serverReplicaId();

    /**
     * A copy of the document as the store holds it (every acknowledged change), or empty if it does
     * not exist. Reads the store: call it from your own threads, not in a hook's first moment.
     */
    Optional<Document> document(String documentId);

    /**
     * The JSON of {@code GET /v1/docs/{id}} for the document as the store holds it, restricted to
     * {@code fields} (all of them when {@code fields} is empty; fields the document lacks are left
     * out); empty if the document does not exist. Reads the store, as {@link #document}.
     */
    Optional<String> documentJson(String documentId, Set<String> fields);

    /** The server's meters ({@code /metrics}), for an extension's own. */
    MeterRegistry meterRegistry();
  }

  /**
   * A client's HELLO: its connection, its replica, the protocol version agreed, and what its
   * WebSocket upgrade showed: the TCP peer's address (a proxy's, behind one: read {@code
   * X-Forwarded-For} from the headers then) and the upgrade request's headers. Every header is
   * there except those carrying credentials ({@code Authorization}, {@code Proxy-Authorization},
   * {@code Cookie}, {@code Sec-WebSocket-Protocol}); the token reaches {@link #onAuthenticate}
   * instead. Immutable.
   *
   * @param headers unmodifiable; names are case-insensitive ({@code headers().get("user-agent")}
   *     finds {@code User-Agent}), values in the order the request carried them
   */
  record Connect(
      String connectionId,
      ReplicaId replicaId,
      int protocolVersion,
      InetSocketAddress remoteAddress,
      Map<String, List<String>> headers) {
    public Connect {
      Objects.requireNonNull(connectionId, "connectionId");
      Objects.requireNonNull(replicaId, "replicaId");
      Objects.requireNonNull(remoteAddress, "remoteAddress");
      TreeMap<String, List<String>> copy = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
      headers.forEach((name, values) -> copy.put(name, List.copyOf(values)));
      headers = Collections.unmodifiableMap(copy);
    }

    /** The first value of header {@code name} (any case), if the upgrade carried it. */
    public Optional<String> header(String name) {
      List<String> values = headers.get(name);
      return values == null || values.isEmpty() ? Optional.empty() : Optional.of(values.get(0));
    }
  }

  /**
   * A connection's authentication: the token it sent (at the upgrade, else in HELLO; empty if none)
   * and the principal granted so far. The token is a secret: never log it.
   */
  record Authenticate(
      String connectionId, ReplicaId replicaId, Optional<String> token, Principal principal) {
    public Authenticate {
      Objects.requireNonNull(connectionId, "connectionId");
      Objects.requireNonNull(replicaId, "replicaId");
      Objects.requireNonNull(token, "token");
      Objects.requireNonNull(principal, "principal");
    }

    @Override
    public String toString() {
      return "Authenticate[" + connectionId + ", " + replicaId + ", " + principal + "]";
    }
  }

  /** A document being made live; {@code isNew} when the store has never held it. */
  record LoadDocument(String documentId, boolean isNew) {
    public LoadDocument {
      Objects.requireNonNull(documentId, "documentId");
    }
  }

  /** Where a change came from. */
  enum Source {
    /** A client's UPDATE. */
    CLIENT,
    /** A server-side {@code LatticeServer.edit}. */
    EDIT,
    /** An extension's {@link Seed} of a new document. */
    SEED
  }

  /**
   * One durable change: the document, the delta merged (its {@link DocumentDelta#fields()} are the
   * fields it touched), the replica that made it (the server's own for an edit or a seed) and the
   * principal its connection authenticated as (empty for the server).
   */
  record Change(
      String documentId,
      DocumentDelta delta,
      ReplicaId replicaId,
      Optional<Principal> principal,
      Source source) {
    public Change {
      Objects.requireNonNull(documentId, "documentId");
      Objects.requireNonNull(delta, "delta");
      Objects.requireNonNull(replicaId, "replicaId");
      Objects.requireNonNull(principal, "principal");
      Objects.requireNonNull(source, "source");
    }

    /** The names of the fields the change touched. */
    public Set<String> fields() {
      return delta.fields().keySet();
    }
  }

  /** One append of a document: what was appended and how many changes it carried. */
  record StoreDocument(String documentId, DocumentDelta delta, int changes) {
    public StoreDocument {
      Objects.requireNonNull(documentId, "documentId");
      Objects.requireNonNull(delta, "delta");
    }
  }

  /** A document that left memory. */
  record UnloadDocument(String documentId) {
    public UnloadDocument {
      Objects.requireNonNull(documentId, "documentId");
    }
  }

  /**
   * The end of a connection: its replica, who it authenticated as (empty if it never was), and the
   * close code and reason.
   */
  record Disconnect(
      String connectionId,
      ReplicaId replicaId,
      Optional<Principal> principal,
      int closeCode,
      String reason) {
    public Disconnect {
      Objects.requireNonNull(connectionId, "connectionId");
      Objects.requireNonNull(replicaId, "replicaId");
      Objects.requireNonNull(principal, "principal");
      Objects.requireNonNull(reason, "reason");
    }
  }

  /**
   * What {@link #onLoadDocument} puts into a new document: edits recorded on a {@link DocumentEdit}
   * ({@code increment}, {@code add}, {@code set}), applied as one server edit. The recording
   * callback runs on the document's thread when the seed is applied: keep it to recording edits.
   * Immutable.
   */
  final class Seed {
    private static final Seed NONE = new Seed(null);

    private final Consumer<DocumentEdit> edits;

    private Seed(Consumer<DocumentEdit> edits) {
      this.edits = edits;
    }

    /** No seed: the document starts empty. */
    public static Seed none() {
      return NONE;
    }

    /**
     * A seed recording {@code edits}, e.g. {@code Seed.of(e -> e.set("title",
     * Value.of("Untitled")))}.
     */
    public static Seed of(Consumer<DocumentEdit> edits) {
      return new Seed(Objects.requireNonNull(edits, "edits"));
    }

    /** The recording callback; empty for {@link #none()}. */
    public Optional<Consumer<DocumentEdit>> edits() {
      return Optional.ofNullable(edits);
    }
  }
}

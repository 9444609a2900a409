package dev.lattice.server.session;

import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.server.hub.Connection;
import dev.lattice.server.hub.Hub;
import dev.lattice.server.hub.HubException;
import dev.lattice.server.spi.DocumentEdit;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/** A hub that records every call and whose futures the test completes by hand. */
final class FakeHub implements Hub {

  record SubscribeCall(
      Connection connection,
      String documentId,
      VersionVector vector,
      CompletableFuture<SyncResult> future) {}

  record UpdateCall(
      Connection connection,
      String documentId,
      DocumentDelta delta,
      CompletableFuture<Void> future) {}

  record PresenceCall(
      Connection connection, String documentId, Optional<Value> value, Duration ttl) {}

  final List<SubscribeCall> subscribes = new ArrayList<>();
  final List<UpdateCall> updates = new ArrayList<>();
  final List<String> unsubscribes = new ArrayList<>();
  final List<PresenceCall> presences = new ArrayList<>();
  final List<Connection> disconnects = new ArrayList<>();
  HubException presenceFailure;

  @Override
  public CompletableFuture<SyncResult> subscribe(
      Connection connection, String documentId, VersionVector clientVector) {
    CompletableFuture<SyncResult> future = new CompletableFuture<>();
    subscribes.add(new SubscribeCall(connection, documentId, clientVector, future));
    return future;
  }

  @Override
  public CompletableFuture<Void> update(
      Connection connection, String documentId, DocumentDelta delta) {
    CompletableFuture<Void> future = new CompletableFuture<>();
    updates.add(new UpdateCall(connection, documentId, delta, future));
    return future;
  }

  /** Sessions never edit on the server's behalf; a call here is a bug in the session. */
  @Override
  public CompletableFuture<DocumentDelta> edit(String documentId, Consumer<DocumentEdit> edits) {
    throw new AssertionError("a session called Hub.edit for " + documentId);
  }

  @Override
  public void unsubscribe(Connection connection, String documentId) {
    unsubscribes.add(documentId);
  }

  @Override
  public void presence(
      Connection connection, String documentId, Optional<Value> value, Duration ttl) {
    if (presenceFailure != null) {
      throw presenceFailure;
    }
    presences.add(new PresenceCall(connection, documentId, value, ttl));
  }

  @Override
  public void disconnect(Connection connection) {
    disconnects.add(connection);
  }

  int calls() {
    return subscribes.size()
        + updates.size()
        + unsubscribes.size()
        + presences.size()
        + disconnects.size();
  }
}

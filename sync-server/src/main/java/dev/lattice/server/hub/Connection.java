package dev.lattice.server.hub;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.protocol.Message;
import dev.lattice.server.spi.Principal;

/**
 * One client connection as the {@link Hub} sees it: who it is and where to push messages (fan-out
 * updates, presence). Implemented by the server session; the transport behind it is not the hub's
 * concern.
 *
 * <p>Implementations are thread-safe: the hub calls {@link #send} from its document executors.
 */
public interface Connection {

  /** A server-unique id of this connection, for logs and presence. */
  String id();

  /** The replica id the client announced in HELLO. */
  ReplicaId replicaId();

  /**
   * Who the connection authenticated as, reported with its changes to the server's extensions; null
   * when unknown. The default is null.
   */
  default Principal principal() {
    return null;
  }

  /**
   * Queues {@code message} for the peer. Never blocks: a connection whose outgoing queue is full
   * closes itself (the peer catches up on reconnect), so one slow reader never stalls a document.
   */
  void send(Message message);

  /**
   * Queues one round's fan-out UPDATE, whose frames every subscriber of the round shares (see
   * {@link FanOut}); the same rules as {@link #send} apply. The default sends {@link
   * FanOut#update()}, encoding it again; a connection that encodes frames should take them from
   * {@link FanOut#frames} instead.
   */
  default void sendFanOut(FanOut fanOut) {
    send(fanOut.update());
  }
}

package dev.lattice.protocol;

/**
 * One protocol message: the content of one binary WebSocket frame, a MessagePack array {@code
 * [type, ...fields]} (see {@code docs/PROTOCOL.md}). One record per {@link MessageType}; each
 * validates its fields when constructed, so a message that exists is well formed (its sizes are
 * checked against {@link ProtocolLimits} by the {@link MessageCodec}).
 *
 * <p>Every message is immutable and thread-safe.
 */
public sealed interface Message
    permits Hello,
        Welcome,
        Subscribe,
        Sync,
        Update,
        Ack,
        Unsubscribe,
        Presence,
        Ping,
        Pong,
        ErrorMessage,
        OwnUpdate {

  /** The message's type. */
  MessageType messageType();

  /** The wire code of the message's type, the first element of its array. */
  default int type() {
    return messageType().code();
  }
}

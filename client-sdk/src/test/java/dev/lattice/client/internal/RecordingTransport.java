package dev.lattice.client.internal;

import dev.lattice.protocol.Message;
import java.util.ArrayList;
import java.util.List;

/** A transport that records what the session asks for. Not thread-safe. */
final class RecordingTransport implements ClientTransport {

  final List<Long> connects = new ArrayList<>();
  final List<Message> sent = new ArrayList<>();
  final List<Integer> closes = new ArrayList<>();

  /** The credentials of each connect, in order (null for none). */
  final List<String> credentials = new ArrayList<>();

  @Override
  public void connect(long generation) {
    connects.add(generation);
  }

  @Override
  public void connect(long generation, String credentials) {
    this.credentials.add(credentials);
    connect(generation);
  }

  @Override
  public void send(long generation, Message message) {
    sent.add(message);
  }

  @Override
  public void close(long generation, int code, String reason) {
    closes.add(code);
  }

  long lastGeneration() {
    return connects.get(connects.size() - 1);
  }

  /** Sent messages of {@code type}, removing every message sent so far from the record. */
  <T extends Message> List<T> drain(Class<T> type) {
    List<T> out = new ArrayList<>();
    for (Message m : sent) {
      if (type.isInstance(m)) {
        out.add(type.cast(m));
      }
    }
    sent.clear();
    return out;
  }
}

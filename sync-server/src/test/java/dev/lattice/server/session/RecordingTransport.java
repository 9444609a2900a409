package dev.lattice.server.session;

import dev.lattice.protocol.Message;
import dev.lattice.protocol.MessageCodec;
import java.util.ArrayList;
import java.util.List;

/** Captures what a session sends and how it closes. */
final class RecordingTransport implements SessionTransport {

  final List<byte[]> frames = new ArrayList<>();
  int closeCount;

  /** Pause and resume calls, in order: true for a pause. */
  final List<Boolean> readingChanges = new ArrayList<>();

  Integer closeCode;
  String closeReason;
  private int read;

  @Override
  public void sendFrame(byte[] frame) {
    if (closeCount > 0) {
      throw new AssertionError("sendFrame after close");
    }
    frames.add(frame);
  }

  @Override
  public void close(int code, String reason) {
    closeCount++;
    closeCode = code;
    closeReason = reason;
  }

  @Override
  public void pauseReading() {
    readingChanges.add(true);
  }

  @Override
  public void resumeReading() {
    readingChanges.add(false);
  }

  /** Every message sent so far, decoded. */
  List<Message> messages() {
    List<Message> out = new ArrayList<>();
    for (byte[] f : frames) {
      out.add(MessageCodec.defaults().decode(f));
    }
    return out;
  }

  /** The messages sent since the last call. */
  List<Message> drain() {
    List<Message> all = messages();
    List<Message> fresh = new ArrayList<>(all.subList(read, all.size()));
    read = all.size();
    return fresh;
  }

  boolean closed() {
    return closeCount > 0;
  }
}

package dev.lattice.server.hub;

import dev.lattice.protocol.Update;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * One round's fan-out UPDATE, as every subscriber of the document receives it: the message and,
 * once the first connection asked for them, its encoded frames. So a round is encoded once and the
 * same bytes go to every subscriber, instead of once per subscriber.
 *
 * <p>The frames are kept for one encoder, named by a key: connections that share the key (every
 * session of one server, which share one codec and one set of limits) share the bytes; a connection
 * with another key encodes for itself. A failure to encode (a delta no frame can carry) is kept as
 * well, so a document with ten thousand subscribers does not try ten thousand times.
 *
 * <p>Callers must not write to the frames: they are read by every subscriber's connection.
 *
 * <p>Thread-safe.
 */
public final class FanOut {

  private final Update update;

  // Guarded by this. Computed on the first request: the hub's fan-out loop, one thread.
  private Object encoderKey;
  private List<byte[]> frames;
  private RuntimeException failure;

  /**
   * @throws IllegalArgumentException if {@code update} carries a request id: fan-out has none
   */
  public FanOut(Update update) {
    this.update = Objects.requireNonNull(update, "update");
    if (update.requestId().isPresent()) {
      throw new IllegalArgumentException("a fan-out UPDATE has no request id: " + update);
    }
  }

  /** The fan-out message. */
  public Update update() {
    return update;
  }

  /**
   * The frames of {@link #update()} as {@code encode} makes them, made once for {@code encoderKey}:
   * later calls with the same key return the same frames (or throw the same failure) without
   * encoding again.
   *
   * @throws RuntimeException what {@code encode} threw, for this and every later call with the key
   */
  public synchronized List<byte[]> frames(
      Object encoderKey, Function<Update, List<byte[]>> encode) {
    Objects.requireNonNull(encoderKey, "encoderKey");
    if (this.encoderKey == null) {
      this.encoderKey = encoderKey;
      try {
        frames = List.copyOf(encode.apply(update));
      } catch (RuntimeException e) {
        failure = e;
      }
    } else if (this.encoderKey != encoderKey) {
      return encode.apply(update);
    }
    if (failure != null) {
      throw failure;
    }
    return frames;
  }

  @Override
  public String toString() {
    return "FanOut[" + update + "]";
  }
}

package dev.lattice.server.hub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.protocol.Update;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class FanOutTest {

  private final Update update =
      Update.fanOut("doc", Document.create("doc").incrementGCounter(ReplicaId.of(7), "n", 1));

  @Test
  void encodesOncePerEncoderAndHandsEveryCallerTheSameBytes() {
    FanOut fanOut = new FanOut(update);
    MessageCodec codec = MessageCodec.defaults();
    AtomicInteger encodes = new AtomicInteger();

    List<List<byte[]>> got =
        java.util.stream.IntStream.range(0, 100)
            .mapToObj(
                i ->
                    fanOut.frames(
                        codec,
                        u -> {
                          encodes.incrementAndGet();
                          return List.of(codec.encode(u));
                        }))
            .toList();

    assertThat(encodes).hasValue(1);
    assertThat(got).allSatisfy(frames -> assertThat(frames.get(0)).isSameAs(got.get(0).get(0)));
    assertThat(codec.decode(got.get(0).get(0))).isEqualTo(update);
  }

  @Test
  void anotherEncoderGetsItsOwnFrames() {
    FanOut fanOut = new FanOut(update);
    byte[] first = fanOut.frames("a", u -> List.of(new byte[] {1})).get(0);
    byte[] other = fanOut.frames("b", u -> List.of(new byte[] {2})).get(0);

    assertThat(other).containsExactly(2);
    assertThat(fanOut.frames("a", u -> List.of(new byte[] {3})).get(0)).isSameAs(first);
  }

  @Test
  void aFailureToEncodeIsKeptAndNotRetriedForEveryCaller() {
    FanOut fanOut = new FanOut(update);
    AtomicInteger encodes = new AtomicInteger();
    for (int i = 0; i < 3; i++) {
      assertThatThrownBy(
              () ->
                  fanOut.frames(
                      "codec",
                      u -> {
                        encodes.incrementAndGet();
                        throw new IllegalArgumentException("frame too large");
                      }))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("frame too large");
    }
    assertThat(encodes).hasValue(1);
  }

  @Test
  void refusesAClientUpdateWithARequestId() {
    assertThatThrownBy(() -> new FanOut(Update.request(1, "doc", update.delta())))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("no request id");
  }
}

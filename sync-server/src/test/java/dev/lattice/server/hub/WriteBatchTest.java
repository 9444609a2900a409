package dev.lattice.server.hub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class WriteBatchTest {

  /** A transport that records whether it was told to hold each frame, and its flushes. */
  private static final class Recorder implements WriteBatch.Flushable {
    final List<String> events = new ArrayList<>();

    void send(String frame) {
      events.add((WriteBatch.join(this) ? "held " : "sent ") + frame);
    }

    @Override
    public void flushBatch() {
      events.add("flush");
    }
  }

  @Test
  void withNoBatchOpenAFrameIsWrittenAtOnce() {
    Recorder r = new Recorder();
    r.send("a");
    assertThat(r.events).containsExactly("sent a");
    assertThat(WriteBatch.isOpen()).isFalse();
  }

  @Test
  void theOutermostCloseFlushesEachTransportOnce() {
    Recorder r = new Recorder();
    Recorder other = new Recorder();
    WriteBatch.open();
    r.send("ack");
    WriteBatch.open();
    r.send("fan-out");
    other.send("fan-out");
    WriteBatch.close();
    assertThat(r.events).containsExactly("held ack", "held fan-out");
    WriteBatch.close();
    assertThat(r.events).containsExactly("held ack", "held fan-out", "flush");
    assertThat(other.events).containsExactly("held fan-out", "flush");
    // The batch is reusable and empty again.
    WriteBatch.open();
    WriteBatch.close();
    assertThat(r.events).hasSize(3);
  }

  @Test
  void aFailingFlushDoesNotStrandTheOthers() {
    Recorder good = new Recorder();
    WriteBatch.Flushable bad =
        () -> {
          throw new IllegalStateException("connection gone");
        };
    WriteBatch.open();
    WriteBatch.join(bad);
    good.send("x");
    WriteBatch.close();
    assertThat(good.events).containsExactly("held x", "flush");
    assertThat(WriteBatch.isOpen()).isFalse();
  }

  @Test
  void whatAFlushSendsIsWrittenAtOnceNotHeldByAClosedBatch() {
    Recorder closing = new Recorder();
    Recorder victim = new Recorder();
    WriteBatch.Flushable failing = () -> victim.send("close frame");
    WriteBatch.open();
    WriteBatch.join(failing);
    closing.send("x");
    WriteBatch.close();
    assertThat(victim.events).containsExactly("sent close frame");
  }

  @Test
  void closingWithoutOpeningIsAnError() {
    assertThatThrownBy(WriteBatch::close).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void aBatchBelongsToItsThread() throws Exception {
    ExecutorService other = Executors.newSingleThreadExecutor();
    try {
      Recorder r = new Recorder();
      WriteBatch.open();
      try {
        other.submit(() -> r.send("elsewhere")).get(10, TimeUnit.SECONDS);
      } finally {
        WriteBatch.close();
      }
      assertThat(r.events).containsExactly("sent elsewhere");
    } finally {
      other.shutdownNow();
    }
  }

  @Test
  void aDocumentDrainFlushesWhatItsTasksHeldWhenItEnds() throws Exception {
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      SerialExecutor serial = new SerialExecutor(pool);
      Recorder r = new Recorder();
      List<String> seenAtEnd = new ArrayList<>();
      CountDownLatch gate = new CountDownLatch(1);
      CountDownLatch done = new CountDownLatch(1);
      // The first task blocks until the next three are queued, so one drain runs all four.
      serial.execute(
          () -> {
            try {
              gate.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          });
      serial.execute(() -> r.send("ack"));
      serial.execute(
          () -> {
            throw new IllegalStateException("a task that fails");
          });
      serial.execute(
          () -> {
            r.send("fan-out");
            seenAtEnd.addAll(r.events);
          });
      gate.countDown();
      pool.submit(done::countDown);
      assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(seenAtEnd).containsExactly("held ack", "held fan-out");
      assertThat(r.events).containsExactly("held ack", "held fan-out", "flush");
    } finally {
      pool.shutdownNow();
    }
  }
}

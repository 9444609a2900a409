package dev.lattice.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.LWWRegister;
import dev.lattice.crdt.Value;
import dev.lattice.hlc.HlcTimestamp;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A register write is stamped after what the field holds, even when the client's clock is too far
 * behind to accept that timestamp (issue 11, bug 3). Offline: no server ever answers here.
 */
class RegisterWriteClockTest {

  /** Nothing listens on port 9 of loopback (discard); the client just keeps trying. */
  private static final URI NOWHERE = URI.create("ws://127.0.0.1:9/v1/sync");

  private static LatticeClient client(Path state, Clock clock) {
    return LatticeClient.builder()
        .serverUri(NOWHERE)
        .stateDirectory(state)
        .clock(clock)
        .backoff(Duration.ofSeconds(5), Duration.ofSeconds(10))
        .build();
  }

  private static HlcTimestamp timestampOf(LatticeDocument doc, String field) {
    LWWRegister register = (LWWRegister) doc.snapshot().field(field).orElseThrow().state();
    return register.timestamp().orElseThrow();
  }

  @Test
  void aClientRestartedWithItsClockADayBehindStillOverwritesWhatItHolds(@TempDir Path state) {
    HlcTimestamp first;
    try (LatticeClient correct = client(state, Clock.systemUTC())) {
      LatticeDocument doc = correct.open("notes");
      doc.register("title").set(Value.of("first"));
      first = timestampOf(doc, "title");
    }

    Clock dayBehind = Clock.offset(Clock.systemUTC(), Duration.ofDays(-1));
    try (LatticeClient behind = client(state, dayBehind)) {
      LatticeDocument doc = behind.open("notes");
      assertThat(doc.register("title").get()).contains(Value.of("first"));

      doc.register("title").set(Value.of("second"));

      assertThat(doc.register("title").get()).contains(Value.of("second"));
      assertThat(timestampOf(doc, "title")).isGreaterThan(first);
      // And the next write of the field steps past that one again.
      doc.register("title").set(Value.of("third"));
      assertThat(doc.register("title").get()).contains(Value.of("third"));
    }
  }

  @Test
  void theFarAheadTimestampDoesNotDragTheClientsOtherWrites(@TempDir Path state) {
    try (LatticeClient correct = client(state, Clock.systemUTC())) {
      correct.open("notes").register("title").set(Value.of("first"));
    }
    Clock dayBehind = Clock.offset(Clock.systemUTC(), Duration.ofDays(-1));
    try (LatticeClient behind = client(state, dayBehind)) {
      LatticeDocument doc = behind.open("notes");
      doc.register("title").set(Value.of("second"));
      doc.register("other").set(Value.of("fresh field"));

      assertThat(timestampOf(doc, "other").physicalMillis())
          .as("a field nobody wrote is stamped by the (corrected) clock, not the day-ahead write")
          .isLessThan(System.currentTimeMillis() - Duration.ofHours(12).toMillis());
    }
  }
}

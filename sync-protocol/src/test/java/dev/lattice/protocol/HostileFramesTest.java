package dev.lattice.protocol;

import static dev.lattice.protocol.Samples.CODEC;
import static dev.lattice.protocol.Samples.bytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Untrusted frames: only ProtocolException may escape, with a message saying what went wrong. */
class HostileFramesTest {

  private static AbstractThrowableAssert<?, ? extends Throwable> assertMalformed(byte[] frame) {
    return assertThatThrownBy(() -> CODEC.decode(frame))
        .isInstanceOf(ProtocolException.class)
        .satisfies(
            e -> assertThat(((ProtocolException) e).code()).isEqualTo(ErrorCode.MALFORMED_MESSAGE));
  }

  private static AbstractThrowableAssert<?, ? extends Throwable> assertMalformed(String hex) {
    return assertMalformed(bytes(hex));
  }

  @Test
  void refusesAnEmptyFrame() {
    assertMalformed(new byte[0]).hasMessageContaining("empty frame");
  }

  @Test
  void refusesAFrameThatIsNotAnArray() {
    assertMalformed("a3666f6f")
        .hasMessage(
            "frame.header: expected a message array [type, ...fields], got fixstr at byte 0");
    assertMalformed("c1").hasMessageContaining("never-used byte 0xc1");
  }

  @Test
  void refusesAForgedArrayLengthBeforeReadingOn() {
    assertMalformed("dd ffffffff 01")
        .hasMessageContaining("declaring 4294967295")
        .hasMessageContaining("only 1 bytes remain");
    assertMalformed("dc ffff 01").hasMessageContaining("declaring 65535");
  }

  @Test
  void refusesAnEmptyArray() {
    assertMalformed("90").hasMessageContaining("empty array");
  }

  @Test
  void refusesAnUnknownTypeNamingIt() {
    assertMalformed("93 0d 01 02")
        .hasMessage(
            "frame.type: expected a message type code from 1 (HELLO) to 11 (ERROR), got unknown"
                + " type 13 at byte 1");
    assertThatThrownBy(() -> CODEC.decode(bytes("93 0d 01 02"), 2))
        .hasMessage(
            "frame.type: expected a message type code from 1 (HELLO) to 12 (UPDATE_OWN), got"
                + " unknown type 13 at byte 1");
    assertMalformed("92 00 01").hasMessageContaining("unknown type 0");
    assertMalformed("92 ff 01").hasMessageContaining("unknown type -1");
    assertMalformed("92 cf ffffffffffffffff 01").hasMessageContaining("past the signed 64-bit");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "type not an int, 93 a106 02 a164, 'frame.type: expected a message type code, got fixstr at byte 1'",
    "request id a string, 93 06 a102 a164, 'ACK.requestId: expected a request id (positive int), got fixstr at byte 2'",
    "request id zero, 93 06 00 a164, 'ACK.requestId: expected a request id (positive int), got 0 at byte 2'",
    "document id an int, 93 06 02 05, 'ACK.documentId: expected a string, got positive fixint at byte 3'",
    "empty document id, 93 06 02 a0, 'ACK.documentId: expected a non-empty document id, got an empty string at byte 3'",
    "nil request id in ACK, 93 06 c0 a164, 'ACK.requestId: expected a request id (positive int), got nil at byte 2'",
    "binary as document id, 93 06 02 c40164, 'ACK.documentId: expected a string, got bin8 at byte 3'",
    "malformed UTF-8, 93 06 02 a2c0af, 'ACK.documentId: expected a string in valid UTF-8, got malformed UTF-8 at byte 3'",
    "UTF-8 surrogate, 93 06 02 a3eda080, 'ACK.documentId: expected a string in valid UTF-8, got malformed UTF-8 at byte 3'",
    "negative timestamp, 93 09 07 ff, 'PING.time: expected a packed HLC timestamp (at least 0), got -1 at byte 3'",
    "version zero, 96 01 00 01 01 c0 c0, 'HELLO.minVersion: expected a protocol version from 1 to 2147483647, got 0 at byte 2'",
    "version range inverted, 96 01 02 01 01 c0 c0, 'HELLO: HELLO.maxVersion must be >= minVersion 2, was 1'",
    "credentials an int, 96 01 01 01 01 05 c0, 'HELLO.credentials: expected a string, got positive fixint at byte 5'",
    "negative ttl, 95 08 a164 01 ff c0, 'PRESENCE.ttlMillis: expected a TTL in milliseconds (at least 0), got -1 at byte 5'",
    "duplicate limit, 96 02 01 0b 00 82 a161 01 a161 02 a0, 'WELCOME.limits: expected distinct limit names, got ''a'' twice at byte 9'",
    "negative limit, 96 02 01 0b 00 81 a161 ff a0, 'WELCOME.limits[''a'']: expected a limit value (at least 0), got -1 at byte 8'",
    "limits an array, 96 02 01 0b 00 90 a0, 'WELCOME.limits: expected a map of limit name to int, got fixarray at byte 5'",
  })
  void refusesWrongFieldTypes(String what, String hex, String message) {
    assertMalformed(hex).hasMessage(message);
  }

  @Test
  void refusesMissingFieldsNamingThem() {
    assertMalformed("92 06 02")
        .hasMessage(
            "ACK.header: expected 2 fields [requestId, documentId] after the type, got 1: missing"
                + " [documentId] at byte 0");
    assertMalformed("91 01").hasMessageContaining("missing [minVersion, maxVersion, replicaId");
  }

  @Test
  void refusesABadEmbeddedPayloadWithTheCodecAsCause() {
    // SUBSCRIBE whose vector has tag 6 (DotSet) instead of 5.
    assertMalformed("94 03 01 a164 93 06 01 90")
        .hasMessageStartingWith("SUBSCRIBE.vector (a payload at byte 5")
        .hasMessageContaining("expected type tag 5")
        .hasCauseInstanceOf(dev.lattice.crdt.codec.CodecException.class);
    // UPDATE whose delta has the sequence number 0.
    assertMalformed("94 05 02 a164 97 08 01 0a 00 a161 02 01")
        .hasMessageStartingWith("UPDATE.delta (a payload at byte 5")
        .hasMessageContaining("at least 1");
  }

  @Test
  void refusesTrailingBytes() {
    assertMalformed("93 06 02 a164 00")
        .hasMessage(
            "ACK.end: expected the message to fill the frame, got 1 trailing bytes at byte 5");
    assertMalformed("93 06 02 a164 93 06 02 a164").hasMessageContaining("trailing bytes");
  }

  @Test
  void ignoresExtraTrailingFields() {
    // ACK with three unknown trailing fields: a nested map, a string, an extension.
    byte[] frame = bytes("96 06 02 a164 81 a178 92 01 c0 a3616263 d4 01 00");
    assertThat(CODEC.decode(frame)).isEqualTo(new Ack(2, "d"));
    // Deep nesting in an ignored field costs no stack.
    byte[] deep = new byte[100_000];
    Arrays.fill(deep, (byte) 0x91);
    deep[deep.length - 1] = (byte) 0xc0;
    assertThat(CODEC.decode(concat(bytes("94 06 02 a164"), deep))).isEqualTo(new Ack(2, "d"));
  }

  @Test
  void refusesForgedLengthsInIgnoredFields() {
    assertMalformed("94 06 02 a164 df 7fffffff")
        .hasMessageContaining("field[3] (unknown, ignored)")
        .hasMessageContaining("declaring 2147483647");
    assertMalformed("94 06 02 a164 db 7fffffff 00").hasMessageContaining("truncated");
    assertMalformed("94 06 02 a164 c1").hasMessageContaining("never-used");
  }

  @Test
  void refusesAnOversizeFrameBeforeParsing() {
    byte[] frame = new byte[(1 << 20) + 1]; // zeros: not even an array
    assertThatThrownBy(() -> CODEC.decode(frame))
        .isInstanceOf(ProtocolException.class)
        .hasMessage("expected a frame of at most 1048576 bytes (maxFrameBytes), got 1048577 bytes")
        .satisfies(
            e -> assertThat(((ProtocolException) e).code()).isEqualTo(ErrorCode.FRAME_TOO_LARGE));
    assertThatThrownBy(() -> CODEC.decode(ByteBuffer.wrap(frame)))
        .isInstanceOf(ProtocolException.class)
        .satisfies(
            e -> assertThat(((ProtocolException) e).code()).isEqualTo(ErrorCode.FRAME_TOO_LARGE));
  }

  @Test
  void refusesOversizeStrings() {
    byte[] id = new byte[513];
    Arrays.fill(id, (byte) 'x');
    assertMalformed(concat(bytes("93 06 02 da 0201"), id))
        .hasMessageContaining("at most 512 (maxDocumentIdBytes bytes)");
    assertMalformed("93 06 02 db ffffffff").hasMessageContaining("declaring 4294967295");
  }

  @Test
  void refusesDeeplyNestedPresenceValues() {
    byte[] deep = new byte[10_000];
    Arrays.fill(deep, (byte) 0x91);
    deep[deep.length - 1] = 0x01;
    assertMalformed(concat(bytes("95 08 a164 01 00"), deep))
        .hasMessageStartingWith("PRESENCE.value (a value at byte 6")
        .hasMessageContaining("maxDepth");
  }

  @Test
  void refusesExtensionTypesInPresenceValues() {
    assertMalformed("95 08 a164 01 00 d4 01 00").hasMessageContaining("extension");
  }

  @Test
  void refusesEveryTruncationOfEveryGoldenFrame() {
    for (var e : Samples.goldens().entrySet()) {
      byte[] frame = e.getValue().frame();
      for (int len = 0; len < frame.length; len++) {
        byte[] prefix = Arrays.copyOf(frame, len);
        try {
          Message m = CODEC.decode(prefix, 2);
          fail(e.getKey() + " prefix of " + len + " bytes decoded as " + m);
        } catch (ProtocolException expected) {
          assertThat(expected.getMessage()).isNotBlank();
        }
      }
    }
  }

  @Test
  void mutatedFramesThrowOnlyProtocolException() {
    long seed = Long.getLong("fuzz.seed", System.nanoTime());
    Random random = new Random(seed);
    List<byte[]> frames = Samples.goldens().values().stream().map(Samples.Golden::frame).toList();
    byte[] interesting = {
      0x00,
      0x7f,
      (byte) 0x80,
      (byte) 0x8f,
      (byte) 0x90,
      (byte) 0x9f,
      (byte) 0xa0,
      (byte) 0xbf,
      (byte) 0xc0,
      (byte) 0xc1,
      (byte) 0xc4,
      (byte) 0xcf,
      (byte) 0xd3,
      (byte) 0xd4,
      (byte) 0xdb,
      (byte) 0xdc,
      (byte) 0xdd,
      (byte) 0xde,
      (byte) 0xdf,
      (byte) 0xff
    };
    int decoded = 0;
    for (int i = 0; i < 10_000; i++) {
      byte[] frame = frames.get(random.nextInt(frames.size())).clone();
      int mutations = 1 + random.nextInt(4);
      for (int m = 0; m < mutations; m++) {
        int op = random.nextInt(4);
        if (op == 0 || frame.length == 0) {
          frame = concat(frame, new byte[] {(byte) random.nextInt(256)});
        } else if (op == 1) {
          frame[random.nextInt(frame.length)] = interesting[random.nextInt(interesting.length)];
        } else if (op == 2) {
          frame[random.nextInt(frame.length)] ^= (byte) (1 << random.nextInt(8));
        } else {
          frame = Arrays.copyOf(frame, random.nextInt(frame.length));
        }
      }
      int version = 1 + random.nextInt(2);
      try {
        Message message = CODEC.decode(frame, version);
        // Whatever decodes must encode again (possibly to a canonical form of the same message).
        assertThat(CODEC.decode(CODEC.encode(message), version)).isEqualTo(message);
        decoded++;
      } catch (ProtocolException expected) {
        // fine
      } catch (Throwable t) {
        throw new AssertionError(
            "case " + i + " with -Dfuzz.seed=" + seed + ": " + Samples.hex(frame), t);
      }
    }
    assertThat(decoded).as("seed %d", seed).isLessThan(10_000);
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] c = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    return c;
  }
}

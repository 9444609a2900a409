package dev.lattice.protocol;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Coverage-guided fuzzing of the frame decoder: whatever the bytes, decoding either yields a
 * message or fails with {@link ProtocolException} (which closes only that connection); any other
 * exception or error, a hang or an out-of-memory is a bug. A decoded message must also encode
 * again, since the server relays what it decodes.
 *
 * <p>In a normal build this runs the checked-in inputs under {@code
 * src/test/resources/dev/lattice/protocol/MessageCodecFuzzTestInputs} (regression mode); the {@code
 * fuzz} Maven execution runs it with {@code JAZZER_FUZZ=1} for a few seconds.
 */
class MessageCodecFuzzTest {

  // Small frames and payloads, so the fuzzer reaches the limits as well as the happy paths.
  private static final MessageCodec SMALL =
      MessageCodec.create(ProtocolLimits.builder().maxFrameBytes(4096).build());

  @FuzzTest(maxDuration = "3s")
  void decodeAcceptsOrRefusesEveryFrame(byte[] frame) {
    for (int version = ProtocolVersion.MIN; version <= ProtocolVersion.MAX; version++) {
      decode(MessageCodec.defaults(), frame, version);
      decode(SMALL, frame, version);
    }
  }

  private static void decode(MessageCodec codec, byte[] frame, int version) {
    Message message;
    try {
      message = codec.decode(frame, version);
    } catch (ProtocolException refused) {
      return;
    }
    try {
      codec.encode(message);
    } catch (IllegalArgumentException tooLarge) {
      // A message can decode within the limits and encode past them: a delta's canonical form
      // may be longer than the bytes it was read from. Never a crash.
    }
    message.toString();
  }
}

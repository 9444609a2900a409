package dev.lattice.protocol;

import static dev.lattice.protocol.Samples.CODEC;
import static dev.lattice.protocol.Samples.hex;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The exact frames of the worked examples in docs/PROTOCOL.md. */
class GoldenFramesTest {

  static Stream<Arguments> goldens() {
    return Samples.goldens().entrySet().stream().map(e -> Arguments.of(e.getKey(), e.getValue()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("goldens")
  void encodesToTheDocumentedBytes(String name, Samples.Golden golden) {
    assertThat(hex(CODEC.encode(golden.message()))).isEqualTo(hex(golden.frame()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("goldens")
  void decodesTheDocumentedBytes(String name, Samples.Golden golden) {
    assertThat(CODEC.decode(golden.frame(), golden.version())).isEqualTo(golden.message());
    // Version 2 reads every frame of version 1 alike.
    assertThat(CODEC.decode(golden.frame(), 2)).isEqualTo(golden.message());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("goldens")
  void encodingIsDeterministic(String name, Samples.Golden golden) {
    Message decoded = CODEC.decode(golden.frame(), golden.version());
    assertThat(hex(CODEC.encode(decoded))).isEqualTo(hex(CODEC.encode(golden.message())));
  }

  /** docs/PROTOCOL.md §2: decoders take any int width; encoders write the shortest. */
  @Test
  void decodersAcceptAnyIntWidth() {
    byte[] wide =
        Samples.bytes(
            "97 0c cd0002 ce00000000 cf0000000000000001 a56c696b6573 02 d30000000000000001");
    Samples.Golden own = Samples.goldens().get("UPDATE_OWN");
    assertThat(CODEC.decode(wide, 2)).isEqualTo(own.message());
    assertThat(hex(CODEC.encode(CODEC.decode(wide, 2)))).isEqualTo(hex(own.frame()));
  }
}

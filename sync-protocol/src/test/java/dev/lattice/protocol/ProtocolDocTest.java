package dev.lattice.protocol;

import static dev.lattice.protocol.Samples.CODEC;
import static dev.lattice.protocol.Samples.hex;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Keeps the worked examples of docs/PROTOCOL.md in step with the codec. */
class ProtocolDocTest {

  @Test
  void annotatedExamplesShowTheEncodedBytes() throws IOException {
    // Surefire runs in the module directory; the page is in the reactor root's docs/.
    String page = Files.readString(Path.of("../docs/PROTOCOL.md"), StandardCharsets.UTF_8);
    for (String name :
        new String[] {
          "HELLO",
          "SUBSCRIBE",
          "UPDATE",
          "ACK",
          "SUBSCRIBE_ALIAS",
          "UPDATE_OWN",
          "UPDATE_OWN_REGISTER",
          "UPDATE_OWN_PN",
          "UPDATE_OR_SET_ADD",
          "UPDATE_OR_SET_REMOVE",
          "UPDATE_MV_REGISTER",
          "UPDATE_OR_MAP"
        }) {
      String hex = hex(CODEC.encode(Samples.goldens().get(name).message()));
      assertThat(page).as(name).contains("hex: " + hex + "\n");
    }
  }

  @Test
  void everyGoldenFrameAppearsOnThePage() throws IOException {
    String page =
        Files.readString(Path.of("../docs/PROTOCOL.md"), StandardCharsets.UTF_8)
            .replaceAll("[ \\t]", "");
    for (var e : Samples.goldens().entrySet()) {
      assertThat(page).as(e.getKey()).contains(e.getValue().hex().replace(" ", ""));
    }
  }

  @Test
  void testVectorTableListsEveryGoldenFrame() throws IOException {
    String page = Files.readString(Path.of("../docs/PROTOCOL.md"), StandardCharsets.UTF_8);
    for (var e : Samples.goldens().entrySet()) {
      String hex = hex(CODEC.encode(e.getValue().message()));
      assertThat(page).as(e.getKey()).contains("| " + e.getKey() + " | `" + hex + "` |");
    }
  }
}

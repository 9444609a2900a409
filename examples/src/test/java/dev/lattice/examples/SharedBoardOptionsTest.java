package dev.lattice.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.examples.SharedBoardApp.Options;
import java.net.URI;
import org.junit.jupiter.api.Test;

class SharedBoardOptionsTest {

  @Test
  void noOptionsMeansAnEmbeddedServerAndTheDefaultBoard() {
    Options o = Options.parse(new String[0]);
    assertThat(o.server()).isNull();
    assertThat(o.document()).isEqualTo(SharedBoardApp.DEFAULT_DOCUMENT);
    assertThat(o.help()).isFalse();
  }

  @Test
  void serverNameAndDocumentAreRead() {
    Options o =
        Options.parse(
            new String[] {
              "--server", "ws://localhost:7070/v1/sync", "--name", "alice", "--document", "d1"
            });
    assertThat(o.server()).isEqualTo(URI.create("ws://localhost:7070/v1/sync"));
    assertThat(o.name()).isEqualTo("alice");
    assertThat(o.document()).isEqualTo("d1");
  }

  @Test
  void anHttpServerUriIsRefusedWithAnExample() {
    assertThatThrownBy(() -> Options.parse(new String[] {"--server", "http://localhost:7070"}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("ws://")
        .hasMessageContaining("http://localhost:7070");
  }

  @Test
  void aMissingValueAndAnUnknownOptionAreNamed() {
    assertThatThrownBy(() -> Options.parse(new String[] {"--server"}))
        .hasMessage("--server needs a value");
    assertThatThrownBy(() -> Options.parse(new String[] {"--colour"}))
        .hasMessage("unknown option '--colour'");
  }
}

package dev.lattice.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every {@code ```java} block of docs/EMBEDDING.md compiles against the real modules, as README's
 * do ({@link ReadmeSnippetsTest}): the extension examples a user copies cannot drift from the API.
 */
class EmbeddingSnippetsTest {

  private static final String IMPORTS =
      String.join(
          "\n",
          "import dev.lattice.crdt.*;",
          "import dev.lattice.server.*;",
          "import dev.lattice.server.spi.*;",
          "import java.net.URI;",
          "import java.time.Duration;",
          "import java.util.*;",
          "import java.util.concurrent.*;");

  @Test
  void everyJavaSnippetInEmbeddingCompiles(@TempDir Path out) throws Exception {
    String doc = Files.readString(Path.of("..", "docs", "EMBEDDING.md"), StandardCharsets.UTF_8);
    List<String> blocks = ReadmeSnippetsTest.javaBlocks(doc);
    // Registering, seeding, reacting to changes, authenticating, the webhook.
    assertThat(blocks).as("java blocks in docs/EMBEDDING.md").hasSizeGreaterThanOrEqualTo(5);
    ReadmeSnippetsTest.assertCompiles(blocks, IMPORTS, "EmbeddingSnippet", out);
  }
}

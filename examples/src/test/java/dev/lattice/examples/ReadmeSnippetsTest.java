package dev.lattice.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.StringWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every {@code ```java} block of README.md compiles against the real modules, so the snippets a new
 * user copies cannot drift from the API. Each block becomes the body of a method of its own class,
 * given the imports a user would add and a {@code serverUri} to connect to.
 */
class ReadmeSnippetsTest {

  private static final Pattern JAVA_BLOCK = Pattern.compile("(?ms)^```java\\n(.*?)^```$");

  private static final String IMPORTS =
      String.join(
          "\n",
          "import dev.lattice.client.*;",
          "import dev.lattice.crdt.*;",
          "import dev.lattice.crdt.codec.*;",
          "import dev.lattice.hlc.*;",
          "import dev.lattice.server.*;",
          "import io.micrometer.core.instrument.MeterRegistry;",
          "import java.net.URI;",
          "import java.nio.file.Path;",
          "import java.util.*;",
          "import java.util.concurrent.*;");

  static List<String> javaBlocks(String markdown) {
    List<String> blocks = new ArrayList<>();
    Matcher m = JAVA_BLOCK.matcher(markdown);
    while (m.find()) {
      blocks.add(m.group(1));
    }
    return blocks;
  }

  @Test
  void findsTheFencedJavaBlocks() {
    assertThat(javaBlocks("text\n```java\nint a = 1;\n```\nmore\n```sh\nls\n```\n"))
        .containsExactly("int a = 1;\n");
  }

  @Test
  void everyJavaSnippetInTheReadmeCompiles(@TempDir Path out) throws Exception {
    String readme = Files.readString(Path.of("..", "README.md"), StandardCharsets.UTF_8);
    List<String> blocks = javaBlocks(readme);
    // Embedding the server, the CRDT layer, the SDK: a README without them is not this one.
    assertThat(blocks).as("java blocks in README.md").hasSizeGreaterThanOrEqualTo(3);
    assertCompiles(blocks, IMPORTS, "ReadmeSnippet", out);
  }

  /**
   * Compiles each block as the body of a method {@code run(URI serverUri)} of a class of its own
   * (so a block may declare local classes), with {@code imports}; fails with javac's report.
   */
  static void assertCompiles(List<String> blocks, String imports, String prefix, Path out) {
    List<JavaFileObject> sources = new ArrayList<>();
    for (int i = 0; i < blocks.size(); i++) {
      String name = prefix + (i + 1);
      String source =
          "package readme;\n"
              + imports
              + "\n@SuppressWarnings(\"unused\")\nclass "
              + name
              + " {\n  static void run(URI serverUri) throws Exception {\n"
              + blocks.get(i)
              + "\n  }\n}\n";
      sources.add(
          new SimpleJavaFileObject(
              URI.create("string:///readme/" + name + ".java"), JavaFileObject.Kind.SOURCE) {
            @Override
            public CharSequence getCharContent(boolean ignoreEncodingErrors) {
              return source;
            }
          });
    }
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
    StringWriter output = new StringWriter();
    // Surefire's class path (a manifest-only jar whose Class-Path javac follows).
    List<String> options =
        List.of(
            "-classpath",
            System.getProperty("java.class.path"),
            "-d",
            out.toString(),
            "--release",
            "17",
            "-proc:none");
    boolean compiled = javac.getTask(output, null, diagnostics, options, null, sources).call();

    StringBuilder report = new StringBuilder();
    diagnostics
        .getDiagnostics()
        .forEach(
            d ->
                report
                    .append(d.getSource() == null ? "" : d.getSource().getName())
                    .append(':')
                    .append(d.getLineNumber())
                    .append(": ")
                    .append(d.getMessage(Locale.ROOT))
                    .append('\n'));
    assertThat(compiled).as("%s snippets compile:\n%s%s", prefix, report, output).isTrue();
  }
}

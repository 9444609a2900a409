package dev.lattice.architecture;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * README.md and docs/*.md are read on their own, by people writing clients in other languages:
 * every link in them must lead somewhere that exists. A relative link must name a file of this
 * repository (nothing outside it, which a reader of a clone cannot open), and a {@code #fragment}
 * must name a heading of that file, as GitHub derives heading anchors.
 */
class DocsLinksTest {

  private static final Path ROOT = findRoot();
  private static final Pattern LINK = Pattern.compile("\\[[^\\]]*\\]\\(([^)\\s]+)\\)");
  private static final Pattern HEADING = Pattern.compile("^#{1,6}\\s+(.*?)\\s*#*\\s*$");

  @Test
  void everyRelativeLinkNamesAFileInTheRepositoryAndAnExistingHeading() {
    List<String> broken = new ArrayList<>();
    int checked = 0;
    for (Path doc : documents()) {
      for (String target : links(doc)) {
        if (target.matches("^[a-zA-Z][a-zA-Z0-9+.-]*:.*")) {
          continue; // http(s) and mailto links leave the repository on purpose
        }
        checked++;
        int hash = target.indexOf('#');
        String file = hash < 0 ? target : target.substring(0, hash);
        String fragment = hash < 0 ? null : target.substring(hash + 1);
        Path resolved = file.isEmpty() ? doc : doc.getParent().resolve(file).normalize();
        if (!resolved.startsWith(ROOT)) {
          broken.add(ROOT.relativize(doc) + ": " + target + " leaves the repository");
          continue;
        }
        if (!Files.exists(resolved)) {
          broken.add(ROOT.relativize(doc) + ": " + target + " names no file");
          continue;
        }
        if (fragment != null
            && resolved.toString().endsWith(".md")
            && !anchors(resolved).contains(fragment)) {
          broken.add(ROOT.relativize(doc) + ": " + target + " names no heading of that file");
        }
      }
    }
    assertThat(broken).as("broken links").isEmpty();
    assertThat(checked).as("relative links checked").isGreaterThan(20);
  }

  @Test
  void anchorsFollowGitHubsRules() {
    assertThat(slug("7. Limits and errors")).isEqualTo("7-limits-and-errors");
    assertThat(slug("UPDATE_OWN (12, client -> server, version 2)"))
        .isEqualTo("update_own-12-client---server-version-2");
    assertThat(slug("Webhook: document changes to an HTTP endpoint"))
        .isEqualTo("webhook-document-changes-to-an-http-endpoint");
    assertThat(slug("`deltaSince`, exactly")).isEqualTo("deltasince-exactly");
  }

  private static List<Path> documents() {
    List<Path> docs = new ArrayList<>();
    docs.add(ROOT.resolve("README.md"));
    try (Stream<Path> files = Files.list(ROOT.resolve("docs"))) {
      files.filter(p -> p.toString().endsWith(".md")).sorted().forEach(docs::add);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return docs;
  }

  /** Link targets outside fenced code blocks. */
  private static List<String> links(Path doc) {
    List<String> targets = new ArrayList<>();
    boolean fenced = false;
    for (String line : lines(doc)) {
      if (line.strip().startsWith("```")) {
        fenced = !fenced;
        continue;
      }
      if (fenced) {
        continue;
      }
      Matcher m = LINK.matcher(line.replaceAll("`[^`]*`", ""));
      while (m.find()) {
        targets.add(m.group(1));
      }
    }
    return targets;
  }

  /** The anchors GitHub gives the headings of {@code doc}, duplicates numbered -1, -2, ... */
  private static Set<String> anchors(Path doc) {
    Set<String> anchors = new HashSet<>();
    Map<String, Integer> seen = new HashMap<>();
    boolean fenced = false;
    for (String line : lines(doc)) {
      if (line.strip().startsWith("```")) {
        fenced = !fenced;
        continue;
      }
      Matcher m = HEADING.matcher(line);
      if (fenced || !m.matches()) {
        continue;
      }
      String base = slug(m.group(1));
      int n = seen.merge(base, 1, Integer::sum) - 1;
      anchors.add(n == 0 ? base : base + "-" + n);
    }
    return anchors;
  }

  /** GitHub's heading anchor: lower case, punctuation but '-' and '_' dropped, spaces to '-'. */
  static String slug(String heading) {
    String text = heading.replaceAll("\\[([^\\]]*)\\]\\([^)]*\\)", "$1");
    StringBuilder out = new StringBuilder();
    for (char c : text.toLowerCase(Locale.ROOT).toCharArray()) {
      if (Character.isLetterOrDigit(c) || c == '-' || c == '_') {
        out.append(c);
      } else if (c == ' ') {
        out.append('-');
      }
    }
    return out.toString();
  }

  private static List<String> lines(Path file) {
    try {
      return Files.readAllLines(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Path findRoot() {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null && !Files.exists(dir.resolve("mvnw"))) {
      dir = dir.getParent();
    }
    if (dir == null) {
      throw new IllegalStateException("no repository root (with mvnw) above the working directory");
    }
    return dir.normalize();
  }
}

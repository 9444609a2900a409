package dev.lattice.server.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class RedisKeysTest {

  private final RedisKeys keys = new RedisKeys("lattice");

  @Test
  void everyNameOfADocumentSharesOneHashTag() {
    assertThat(keys.channel("board")).isEqualTo("lattice:{board}:c");
    assertThat(keys.head("board")).isEqualTo("lattice:{board}:h");
    assertThat(keys.name("board", "l")).isEqualTo("lattice:{board}:l");
  }

  @Test
  void bracesAndPercentInIdsCannotBreakTheTagOrCollide() {
    // Unescaped, "a}:c" would end the tag early and "a" and "a}:h..." could share names.
    assertThat(keys.channel("a}:c")).isEqualTo("lattice:{a%7D:c}:c");
    assertThat(keys.channel("{x}")).isEqualTo("lattice:{%7Bx%7D}:c");
    assertThat(keys.channel("100%")).isEqualTo("lattice:{100%25}:c");
    List<String> ids = List.of("a", "a}", "a%7D", "%", "%25", "{", "}{", "é/ü", "");
    assertThat(ids.stream().map(keys::channel).distinct()).hasSize(ids.size());
    for (String id : ids) {
      assertThat(RedisKeys.unescape(RedisKeys.escape(id))).isEqualTo(id);
      assertThat(keys.documentOfChannel(keys.channel(id))).isEqualTo(id);
      String tag = keys.channel(id).substring("lattice:{".length());
      assertThat(tag.indexOf('}')).isEqualTo(tag.length() - ":c".length() - 1);
    }
  }

  @Test
  void foreignNamesAreNoDocumentsChannels() {
    assertThat(keys.documentOfChannel("other:{a}:c")).isNull();
    assertThat(keys.documentOfChannel("lattice:{a}:h")).isNull();
    assertThat(keys.documentOfChannel("lattice:{a%zz}:c")).isNull();
  }

  @Test
  void storeNamesShareTheChannelsHashTag() {
    assertThat(keys.snapshot("a}b")).isEqualTo("lattice:{a%7Db}:s");
    assertThat(keys.log("a}b")).isEqualTo("lattice:{a%7Db}:l");
    assertThat(keys.folded("a}b")).isEqualTo("lattice:{a%7Db}:f");
    assertThat(keys.head("a}b")).isEqualTo("lattice:{a%7Db}:h");
  }

  @Test
  void headsNameTheirDocuments() {
    List<String> ids = List.of("a", "a}", "a%7D", "%", "{", "}{", "é/ü", "x:{y}:h", "😀");
    for (String id : ids) {
      assertThat(keys.documentOfHead(keys.head(id))).isEqualTo(id);
    }
    assertThat(keys.documentOfHead("lattice:{a}:c")).isNull();
    assertThat(keys.documentOfHead("other:{a}:h")).isNull();
    assertThat(keys.documentOfHead("lattice:{a}:x}:h")).as("a brace inside the tag").isNull();
    assertThat(keys.documentOfHead("lattice:{a%zz}:h")).isNull();
    assertThat(keys.documentOfHead("lattice:{:h")).isNull();
  }

  @Test
  void theHeadPatternEscapesGlobCharactersOfThePrefix() {
    assertThat(keys.headPattern()).isEqualTo("lattice:{*}:h");
    assertThat(new RedisKeys("a*b?[c]\\").headPattern()).isEqualTo("a\\*b\\?\\[c\\]\\\\:{*}:h");
  }

  @Test
  void aPrefixMustNotHoldBraces() {
    assertThatThrownBy(() -> new RedisKeys("a{b")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new RedisKeys("")).isInstanceOf(IllegalArgumentException.class);
  }
}

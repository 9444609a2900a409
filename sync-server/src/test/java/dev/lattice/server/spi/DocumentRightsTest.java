package dev.lattice.server.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class DocumentRightsTest {

  @Test
  void exactIdsAndPrefixesMatchAndWriteImpliesRead() {
    DocumentRights rights = DocumentRights.of(List.of("pub/*", "readme"), List.of("team/a/*"));

    assertThat(rights.accessTo("pub/x")).isEqualTo(Access.READ);
    assertThat(rights.accessTo("pub/")).isEqualTo(Access.READ);
    assertThat(rights.accessTo("readme")).isEqualTo(Access.READ);
    assertThat(rights.accessTo("readme2")).isEqualTo(Access.NONE);
    assertThat(rights.accessTo("pub")).isEqualTo(Access.NONE);
    assertThat(rights.accessTo("team/a/1")).isEqualTo(Access.WRITE);
    assertThat(rights.accessTo("team/a/1").canRead()).isTrue();
    assertThat(rights.accessTo("team/b/1")).isEqualTo(Access.NONE);
  }

  @Test
  void aLoneStarIsEveryDocument() {
    assertThat(DocumentRights.of(List.of("*"), List.of()).accessTo("anything"))
        .isEqualTo(Access.READ);
    assertThat(DocumentRights.all().accessTo("")).isEqualTo(Access.WRITE);
    assertThat(DocumentRights.none().accessTo("x")).isEqualTo(Access.NONE);
  }

  @Test
  void aStarOnlyEndsAPattern() {
    assertThatThrownBy(() -> DocumentRights.of(List.of("a*b"), List.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("a*b");
    assertThatThrownBy(() -> DocumentRights.of(List.of(), List.of("")))
        .isInstanceOf(IllegalArgumentException.class);
  }
}

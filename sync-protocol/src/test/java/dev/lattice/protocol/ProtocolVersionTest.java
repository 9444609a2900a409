package dev.lattice.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.ReplicaId;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ProtocolVersionTest {

  @ParameterizedTest(name = "client [{0}, {1}] server [{2}, {3}] -> {4}")
  @CsvSource(
      nullValues = "none",
      value = {
        // client range, server range, chosen
        "1, 1, 1, 1, 1",
        "1, 3, 1, 1, 1",
        "1, 3, 1, 2, 2",
        "1, 3, 2, 5, 3",
        "2, 5, 1, 3, 3",
        "3, 3, 1, 5, 3",
        "1, 1, 2, 3, none", // client too old
        "4, 6, 1, 3, none", // client too new
        "3, 1, 1, 5, none", // empty client range
        "1, 5, 3, 2, none", // empty server range
        "2147483647, 2147483647, 1, 2147483647, 2147483647",
      })
  void picksTheHighestVersionInBothRanges(
      int clientMin, int clientMax, int serverMin, int serverMax, Integer chosen) {
    assertThat(ProtocolVersion.negotiate(clientMin, clientMax, serverMin, serverMax))
        .isEqualTo(chosen == null ? OptionalInt.empty() : OptionalInt.of(chosen));
  }

  @Test
  void thisBuildSpeaksVersionsOneAndTwo() {
    assertThat(ProtocolVersion.MIN).isEqualTo(1);
    assertThat(ProtocolVersion.MAX).isEqualTo(2);
    assertThat(ProtocolVersion.negotiate(1, 1)).hasValue(1); // a version 1 client keeps version 1
    assertThat(ProtocolVersion.negotiate(1, 7)).hasValue(2);
    assertThat(ProtocolVersion.negotiate(2, 7)).hasValue(2);
    assertThat(ProtocolVersion.negotiate(3, 7)).isEmpty();
    assertThat(Hello.of(ReplicaId.of(1), null, null).maxVersion()).isEqualTo(2);
  }
}

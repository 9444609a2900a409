package dev.lattice.architecture;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.client.LatticeClient;
import dev.lattice.crdt.Document;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.server.LatticeServer;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReference;
import java.nio.file.Path;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Pins what each library module states is API: the packages its {@code module-info} exports. A
 * package added to or dropped from one of those lists is an API change, so it has to change this
 * test too. The descriptors are read from the built classes (or jar) each module's classes come
 * from, since the tests themselves run on the class path.
 */
class ModuleExportsTest {

  @Test
  void hlcClockExportsOnlyItsApi() throws Exception {
    assertExports(HybridLogicalClock.class, "dev.lattice.hlc", "dev.lattice.hlc");
  }

  @Test
  void crdtExportsOnlyItsApi() throws Exception {
    assertExports(Document.class, "dev.lattice.crdt", "dev.lattice.crdt", "dev.lattice.crdt.codec");
  }

  @Test
  void syncProtocolExportsOnlyItsApi() throws Exception {
    assertExports(MessageCodec.class, "dev.lattice.protocol", "dev.lattice.protocol");
  }

  @Test
  void clientSdkExportsOnlyItsApi() throws Exception {
    assertExports(LatticeClient.class, "dev.lattice.client", "dev.lattice.client");
  }

  @Test
  void syncServerExportsOnlyItsApi() throws Exception {
    assertExports(
        LatticeServer.class, "dev.lattice.server", "dev.lattice.server", "dev.lattice.server.spi");
  }

  private static void assertExports(Class<?> anchor, String module, String... packages)
      throws Exception {
    ModuleDescriptor descriptor = builtDescriptor(anchor);

    assertThat(descriptor.name()).isEqualTo(module);
    assertThat(descriptor.exports())
        .allSatisfy(exported -> assertThat(exported.isQualified()).isFalse());
    assertThat(
            descriptor.exports().stream()
                .map(ModuleDescriptor.Exports::source)
                .collect(Collectors.toSet()))
        .containsExactlyInAnyOrder(packages);
    assertThat(descriptor.opens()).isEmpty();
  }

  /** The descriptor compiled beside {@code anchor}: in its target/classes or its jar. */
  private static ModuleDescriptor builtDescriptor(Class<?> anchor) throws Exception {
    Path classes = Path.of(anchor.getProtectionDomain().getCodeSource().getLocation().toURI());
    return ModuleFinder.of(classes).findAll().stream()
        .map(ModuleReference::descriptor)
        .findFirst()
        .orElseThrow(() -> new AssertionError("no module-info.class in " + classes));
  }
}

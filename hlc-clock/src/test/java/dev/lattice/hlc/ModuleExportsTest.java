package dev.lattice.hlc;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReference;
import java.nio.file.Path;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Pins what this module states is API: the packages its {@code module-info} exports. A package
 * added to or dropped from that list is an API change, so it has to change this test too.
 */
class ModuleExportsTest {

  @Test
  void exportsOnlyTheApiPackages() throws Exception {
    ModuleDescriptor descriptor = builtDescriptor();

    assertThat(descriptor.name()).isEqualTo("dev.lattice.hlc");
    assertThat(descriptor.exports())
        .allSatisfy(exported -> assertThat(exported.isQualified()).isFalse());
    assertThat(
            descriptor.exports().stream()
                .map(ModuleDescriptor.Exports::source)
                .collect(Collectors.toSet()))
        .containsExactlyInAnyOrder("dev.lattice.hlc");
    assertThat(descriptor.opens()).isEmpty();
  }

  /** The descriptor compiled into target/classes, found beside this module's own classes. */
  private static ModuleDescriptor builtDescriptor() throws Exception {
    Path classes =
        Path.of(
            HybridLogicalClock.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    return ModuleFinder.of(classes).findAll().stream()
        .map(ModuleReference::descriptor)
        .findFirst()
        .orElseThrow(() -> new AssertionError("no module-info.class in " + classes));
  }
}

package dev.lattice.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.net.URISyntaxException;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Keeps the module arrows of docs/ARCHITECTURE.md: hlc-clock <- crdt <- sync-protocol <-
 * {sync-server, client-sdk}. Modules not yet built have no classes; the rules for them allow that,
 * so they start guarding the moment the first class lands.
 */
class ArchitectureTest {

  private static JavaClasses lattice;

  @BeforeAll
  static void importProductionClasses() {
    lattice =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("dev.lattice");
  }

  @Test
  void hlcClockDependsOnNothingButTheJdk() {
    classes()
        .that()
        .resideInAPackage("dev.lattice.hlc..")
        .should()
        .onlyDependOnClassesThat()
        .resideInAnyPackage("dev.lattice.hlc..", "java..")
        .check(lattice);
  }

  @Test
  void crdtDependsOnlyOnTheClockAndMessagePack() {
    classes()
        .that()
        .resideInAPackage("dev.lattice.crdt..")
        .should()
        .onlyDependOnClassesThat()
        .resideInAnyPackage("dev.lattice.crdt..", "dev.lattice.hlc..", "org.msgpack..", "java..")
        .check(lattice);
  }

  @Test
  void crdtTypesNeverTouchBytes() {
    noClasses()
        .that()
        .resideInAPackage("dev.lattice.crdt")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("org.msgpack..", "dev.lattice.crdt.codec..")
        .check(lattice);
  }

  @Test
  void protocolDependsOnlyOnTheCrdtLayerAndMessagePack() {
    classes()
        .that()
        .resideInAPackage("dev.lattice.protocol..")
        .should()
        .onlyDependOnClassesThat()
        .resideInAnyPackage(
            "dev.lattice.protocol..",
            "dev.lattice.crdt..",
            "dev.lattice.hlc..",
            "org.msgpack..",
            "java..")
        .allowEmptyShould(true)
        .check(lattice);
  }

  @Test
  void protocolKnowsNeitherServerNorClient() {
    noClasses()
        .that()
        .resideInAPackage("dev.lattice.protocol..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("dev.lattice.server..", "dev.lattice.client..")
        .allowEmptyShould(true)
        .check(lattice);
  }

  @Test
  void serverLogicKnowsNoTransportNorCacheNorRedis() {
    // DESIGN: the session, hub and stores are driven directly by tests and simulations; Jetty
    // lives only in the adapter package dev.lattice.server itself.
    noClasses()
        .that()
        .resideInAnyPackage(
            "dev.lattice.server.session..",
            "dev.lattice.server.hub..",
            "dev.lattice.server.store..",
            "dev.lattice.server.spi..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("org.eclipse.jetty..", "com.github.benmanes.caffeine..", "io.lettuce..")
        .check(lattice);
  }

  @Test
  void theServersSpiNamesNoUnexportedPackage() {
    // sync-server's module exports dev.lattice.server and dev.lattice.server.spi only: an spi type
    // that used one of the other packages would hand embedders a type they cannot name.
    noClasses()
        .that()
        .resideInAPackage("dev.lattice.server.spi..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            "dev.lattice.server.session..",
            "dev.lattice.server.hub..",
            "dev.lattice.server.store..",
            "dev.lattice.server.redis..",
            "dev.lattice.server.auth..",
            "dev.lattice.server.extension..")
        .check(lattice);
  }

  @Test
  void serverAndClientDoNotDependOnEachOther() {
    noClasses()
        .that()
        .resideInAPackage("dev.lattice.server..")
        .should()
        .dependOnClassesThat()
        .resideInAPackage("dev.lattice.client..")
        .allowEmptyShould(true)
        .check(lattice);
    noClasses()
        .that()
        .resideInAPackage("dev.lattice.client..")
        .should()
        .dependOnClassesThat()
        .resideInAPackage("dev.lattice.server..")
        .allowEmptyShould(true)
        .check(lattice);
  }

  @Test
  void lowerModulesNeverReachUp() {
    noClasses()
        .that()
        .resideInAnyPackage("dev.lattice.hlc..", "dev.lattice.crdt..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            "dev.lattice.protocol..", "dev.lattice.server..", "dev.lattice.client..")
        .check(lattice);
  }

  @Test
  void propertyTestsStayOutOfTheSdksPackages() throws URISyntaxException {
    // Issue 13: the protocol simulation once lived in dev.lattice.client to reach package-private
    // SDK classes. It now uses the unexported dev.lattice.client.internal through imports; a test
    // class placed in the SDK's packages again would be a split package on the module path and
    // would silently widen what the simulation can touch.
    Path propertyTests =
        Path.of(ArchitectureTest.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    JavaClasses ours = new ClassFileImporter().importPath(propertyTests);
    classes().should().resideOutsideOfPackage("dev.lattice.client..").check(ours);
    // Only the protocol simulation drives the SDK's internals; the other tests use its API.
    noClasses()
        .that()
        .resideOutsideOfPackage("dev.lattice.properties.protocol..")
        .should()
        .dependOnClassesThat()
        .resideInAPackage("dev.lattice.client.internal..")
        .check(ours);
  }
}

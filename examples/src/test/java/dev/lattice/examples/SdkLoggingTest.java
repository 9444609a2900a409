package dev.lattice.examples;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * The example's class path sends the SDK's {@code System.Logger} to SLF4J (and so to logback), as
 * README's "SDK logging" tells applications to do.
 */
class SdkLoggingTest {

  @Test
  void theSdksSystemLoggerIsBackedBySlf4j() {
    System.Logger sdkLogger = System.getLogger("dev.lattice.client.LatticeClient");
    assertThat(System.LoggerFinder.getLoggerFinder().getClass().getName()).startsWith("org.slf4j.");
    assertThat(sdkLogger.getClass().getName()).startsWith("org.slf4j.");
  }
}

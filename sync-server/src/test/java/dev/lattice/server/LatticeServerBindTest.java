package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.server.spi.AuthResult;
import dev.lattice.server.spi.Authenticator;
import dev.lattice.server.spi.Principal;
import org.junit.jupiter.api.Test;

/**
 * The embedded server's address: loopback unless it authenticates, as the runnable jar does. Only
 * builds (nothing binds), so no port is used.
 */
class LatticeServerBindTest {

  private static final Authenticator SOMEONE =
      Authenticator.of(token -> AuthResult.granted(Principal.of("someone")));

  @Test
  void withoutAnAuthenticatorTheServerBindsLoopbackByDefault() {
    assertThat(LatticeServer.builder().inMemory(true).build().bindAddress()).isEqualTo("127.0.0.1");
  }

  @Test
  void withAnAuthenticatorTheServerBindsEveryInterfaceByDefault() {
    assertThat(LatticeServer.builder().inMemory(true).authenticator(SOMEONE).build().bindAddress())
        .isEqualTo("0.0.0.0");
  }

  @Test
  void anotherAddressWithoutAuthenticationNeedsInsecureNoAuth() {
    assertThatThrownBy(() -> LatticeServer.builder().inMemory(true).bindAddress("0.0.0.0").build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("0.0.0.0")
        .hasMessageContaining("insecureNoAuth()");
    assertThat(
            LatticeServer.builder()
                .inMemory(true)
                .bindAddress("0.0.0.0")
                .insecureNoAuth()
                .build()
                .bindAddress())
        .isEqualTo("0.0.0.0");
    assertThat(LatticeServer.builder().inMemory(true).insecureNoAuth().build().bindAddress())
        .isEqualTo("0.0.0.0");
    assertThat(
            LatticeServer.builder()
                .inMemory(true)
                .bindAddress("0.0.0.0")
                .authenticator(SOMEONE)
                .build()
                .bindAddress())
        .isEqualTo("0.0.0.0");
  }

  @Test
  void anyLoopbackAddressNeedsNoAuthentication() {
    for (String loopback : new String[] {"127.0.0.1", "127.0.0.2", "localhost", "::1"}) {
      assertThat(LatticeServer.builder().inMemory(true).bindAddress(loopback).build().bindAddress())
          .isEqualTo(loopback);
    }
  }
}

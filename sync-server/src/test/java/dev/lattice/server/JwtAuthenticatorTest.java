package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpServer;
import dev.lattice.server.auth.Tokens;
import dev.lattice.server.spi.Access;
import dev.lattice.server.spi.AuthResult;
import dev.lattice.server.spi.Principal;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JwtAuthenticatorTest {

  private static final Instant NOW = Instant.parse("2026-01-01T00:00:00Z");
  private static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
  private static final Instant LATER = NOW.plusSeconds(600);

  @TempDir Path dir;

  private static JwtAuthenticator hmac() {
    return JwtAuthenticator.builder().hmacSecret(Tokens.SECRET).clock(CLOCK).build();
  }

  private static AuthResult check(JwtAuthenticator auth, String token) {
    return auth.authenticate(Optional.of(token)).toCompletableFuture().join();
  }

  private static Principal granted(AuthResult result) {
    assertThat(result).isInstanceOf(AuthResult.Granted.class);
    return ((AuthResult.Granted) result).principal();
  }

  private static String refusal(AuthResult result) {
    assertThat(result).isInstanceOf(AuthResult.Refused.class);
    return ((AuthResult.Refused) result).reason();
  }

  private static JWTClaimsSet alice(Instant exp) {
    return Tokens.claims("alice", exp, List.of("pub/*"), List.of("alice/notes")).build();
  }

  @Test
  void anHmacTokenGivesItsSubjectRightsAndExpiryPlusLeeway() {
    Principal alice = granted(check(hmac(), Tokens.hmac(alice(LATER))));

    assertThat(alice.subject()).isEqualTo("alice");
    assertThat(alice.expiresAt()).contains(LATER.plus(JwtAuthenticator.DEFAULT_LEEWAY));
    assertThat(alice.rights().accessTo("alice/notes")).isEqualTo(Access.WRITE);
    assertThat(alice.rights().accessTo("pub/board")).isEqualTo(Access.READ);
    assertThat(alice.rights().accessTo("bob/notes")).isEqualTo(Access.NONE);
  }

  @Test
  void theStageOfLocalKeysIsCompleteWhenReturned() {
    assertThat(
            hmac()
                .authenticate(Optional.of(Tokens.hmac(alice(LATER))))
                .toCompletableFuture()
                .isDone())
        .isTrue();
  }

  @Test
  void rsaAndEcTokensVerifyAgainstAJwksFile() throws IOException {
    RSAKey rsa = Tokens.newRsaKey("rsa-1");
    ECKey ec = Tokens.newEcKey("ec-1");
    Path jwks = dir.resolve("jwks.json");
    Files.writeString(jwks, new JWKSet(List.of(rsa.toPublicJWK(), ec.toPublicJWK())).toString());
    JwtAuthenticator auth = JwtAuthenticator.builder().jwksFile(jwks).clock(CLOCK).build();

    assertThat(granted(check(auth, Tokens.rsa(alice(LATER), rsa))).subject()).isEqualTo("alice");
    assertThat(granted(check(auth, Tokens.ec(alice(LATER), ec))).subject()).isEqualTo("alice");
    RSAKey stranger = Tokens.newRsaKey("rsa-1");
    assertThat(refusal(check(auth, Tokens.rsa(alice(LATER), stranger)))).contains("invalid token");
  }

  @Test
  void expiryIsCheckedWithTheLeeway() {
    JwtAuthenticator auth = hmac();
    assertThat(check(auth, Tokens.hmac(alice(NOW.minusSeconds(20)))))
        .isInstanceOf(AuthResult.Granted.class);
    assertThat(refusal(check(auth, Tokens.hmac(alice(NOW.minusSeconds(31)))))).contains("xpired");
  }

  @Test
  void notBeforeIsCheckedWithTheLeeway() {
    JwtAuthenticator auth = hmac();
    JWTClaimsSet soon =
        Tokens.claims("alice", LATER, List.of(), List.of()).notBeforeTime(d(20)).build();
    JWTClaimsSet later =
        Tokens.claims("alice", LATER, List.of(), List.of()).notBeforeTime(d(120)).build();

    assertThat(check(auth, Tokens.hmac(soon))).isInstanceOf(AuthResult.Granted.class);
    refusal(check(auth, Tokens.hmac(later)));
  }

  @Test
  void aZeroLeewayIsExact() {
    JwtAuthenticator auth =
        JwtAuthenticator.builder()
            .hmacSecret(Tokens.SECRET)
            .leeway(Duration.ZERO)
            .clock(CLOCK)
            .build();
    refusal(check(auth, Tokens.hmac(alice(NOW.minusSeconds(1)))));
    assertThat(granted(check(auth, Tokens.hmac(alice(LATER)))).expiresAt()).contains(LATER);
  }

  @Test
  void issuerAndAudienceAreCheckedWhenConfigured() {
    JwtAuthenticator auth =
        JwtAuthenticator.builder()
            .hmacSecret(Tokens.SECRET)
            .issuer("https://idp.example")
            .audience("lattice")
            .clock(CLOCK)
            .build();
    JWTClaimsSet.Builder base = Tokens.claims("alice", LATER, List.of(), List.of());

    assertThat(
            check(
                auth, Tokens.hmac(base.issuer("https://idp.example").audience("lattice").build())))
        .isInstanceOf(AuthResult.Granted.class);
    refusal(
        check(auth, Tokens.hmac(base.issuer("https://evil.example").audience("lattice").build())));
    refusal(check(auth, Tokens.hmac(base.issuer("https://idp.example").audience("other").build())));
    refusal(check(auth, Tokens.hmac(Tokens.claims("alice", LATER, List.of(), List.of()).build())));
  }

  @Test
  void aTokenSignedWithAnotherSecretIsRefused() {
    byte[] other = "another-secret-another-secret-!!".getBytes(StandardCharsets.US_ASCII);
    assertThat(refusal(check(hmac(), Tokens.hmac(alice(LATER), other)))).contains("invalid token");
  }

  @Test
  void anUnsignedTokenIsRefused() {
    String none = new PlainJWT(alice(LATER)).serialize();
    refusal(check(hmac(), none));
  }

  @Test
  void anHmacTokenKeyedWithTheRsaPublicKeyIsRefused() throws Exception {
    // Algorithm confusion: sign HS256 with the server's public key as the HMAC secret.
    RSAKey rsa = Tokens.newRsaKey("rsa-1");
    Path jwks = dir.resolve("jwks.json");
    Files.writeString(jwks, new JWKSet(rsa.toPublicJWK()).toString());
    JwtAuthenticator auth = JwtAuthenticator.builder().jwksFile(jwks).clock(CLOCK).build();
    byte[] publicKeyBytes = rsa.toPublicJWK().toJSONString().getBytes(StandardCharsets.UTF_8);
    SignedJWT forged =
        new SignedJWT(
            new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("rsa-1").build(), alice(LATER));
    forged.sign(new MACSigner(publicKeyBytes));
    SignedJWT forgedDer =
        new SignedJWT(
            new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("rsa-1").build(), alice(LATER));
    forgedDer.sign(new MACSigner(rsa.toRSAPublicKey().getEncoded()));

    refusal(check(auth, forged.serialize()));
    refusal(check(auth, forgedDer.serialize()));
  }

  @Test
  void aTamperedPayloadIsRefused() {
    String token = Tokens.hmac(alice(LATER));
    String[] parts = token.split("\\.");
    JWTClaimsSet promoted = Tokens.claims("alice", LATER, List.of(), List.of("*")).build();
    String tampered = parts[0] + "." + Base64URL.encode(promoted.toString()) + "." + parts[2];
    refusal(check(hmac(), tampered));
  }

  @Test
  void noMutationOfAValidTokenIsAccepted() {
    // Hostile tokens: every one-character change outside a segment's last character (whose low
    // bits base64url may ignore) must be refused, and never throw.
    long seed = 0x1a77_1ce5L;
    java.util.Random random = new java.util.Random(seed);
    String token = Tokens.hmac(alice(LATER));
    String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=%";
    JwtAuthenticator auth = hmac();
    int tried = 0;
    while (tried < 2000) {
      int at = random.nextInt(token.length());
      boolean segmentEnd = at + 1 == token.length() || token.charAt(at + 1) == '.';
      char replacement = alphabet.charAt(random.nextInt(alphabet.length()));
      if (segmentEnd || token.charAt(at) == '.' || replacement == token.charAt(at)) {
        continue;
      }
      String mutated = token.substring(0, at) + replacement + token.substring(at + 1);
      assertThat(check(auth, mutated))
          .as("seed %d, mutation %d: %s", seed, tried, mutated)
          .isInstanceOf(AuthResult.Refused.class);
      tried++;
    }
  }

  @Test
  void subjectAndExpiryAreRequired() {
    JWTClaimsSet noSubject = new JWTClaimsSet.Builder().expirationTime(Date.from(LATER)).build();
    JWTClaimsSet noExpiry = new JWTClaimsSet.Builder().subject("alice").build();
    refusal(check(hmac(), Tokens.hmac(noSubject)));
    refusal(check(hmac(), Tokens.hmac(noExpiry)));
  }

  @Test
  void malformedRightsClaimsAreRefused() {
    for (Object claim :
        List.of(
            "everything",
            List.of("*"),
            Map.of("read", "doc"),
            Map.of("write", List.of(7)),
            Map.of("read", List.of("a*b")),
            Map.of("read", List.of("")))) {
      JWTClaimsSet claims =
          new JWTClaimsSet.Builder()
              .subject("alice")
              .expirationTime(Date.from(LATER))
              .claim("lattice", claim)
              .build();
      assertThat(refusal(check(hmac(), Tokens.hmac(claims))))
          .as("claim %s", claim)
          .contains("lattice");
    }
  }

  @Test
  void aTokenWithoutTheRightsClaimHasNoRight() {
    JWTClaimsSet claims =
        new JWTClaimsSet.Builder().subject("alice").expirationTime(Date.from(LATER)).build();
    assertThat(granted(check(hmac(), Tokens.hmac(claims))).rights().accessTo("any"))
        .isEqualTo(Access.NONE);
  }

  @Test
  void garbageAndMissingTokensAreRefused() {
    assertThat(refusal(check(hmac(), "not.a.jwt"))).isEqualTo("not a JWT");
    assertThat(refusal(check(hmac(), "%%%"))).isEqualTo("not a JWT");
    assertThat(refusal(hmac().authenticate(Optional.empty()).toCompletableFuture().join()))
        .isEqualTo("no token");
  }

  @Test
  void refusalsAndToStringNeverCarryTheTokenOrSecret() {
    String token = Tokens.hmac(alice(NOW.minusSeconds(3600)));
    JwtAuthenticator auth = hmac();
    assertThat(refusal(check(auth, token))).doesNotContain(token.split("\\.")[2]);
    assertThat(auth.toString())
        .contains("HMAC")
        .doesNotContain(new String(Tokens.SECRET, StandardCharsets.US_ASCII));
  }

  @Test
  void aShortSecretOrNoKeyIsAConfigurationError() {
    assertThatThrownBy(() -> JwtAuthenticator.builder().hmacSecret(new byte[16]))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("32 bytes");
    assertThatThrownBy(() -> JwtAuthenticator.builder().build())
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void keysFromAJwksUrlAreFetchedOffTheCallersThread() throws Exception {
    RSAKey rsa = Tokens.newRsaKey("rsa-1");
    byte[] body = new JWKSet(rsa.toPublicJWK()).toString().getBytes(StandardCharsets.UTF_8);
    HttpServer keys = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    keys.createContext(
        "/jwks.json",
        exchange -> {
          exchange.getResponseHeaders().add("Content-Type", "application/json");
          exchange.sendResponseHeaders(200, body.length);
          exchange.getResponseBody().write(body);
          exchange.close();
        });
    keys.start();
    try {
      JwtAuthenticator auth =
          JwtAuthenticator.builder()
              .jwksUrl(URI.create("http://127.0.0.1:" + keys.getAddress().getPort() + "/jwks.json"))
              .clock(CLOCK)
              .build();
      AuthResult result =
          auth.authenticate(Optional.of(Tokens.rsa(alice(LATER), rsa)))
              .toCompletableFuture()
              .get(10, TimeUnit.SECONDS);
      assertThat(granted(result).subject()).isEqualTo("alice");
    } finally {
      keys.stop(0);
    }
  }

  private static Date d(long secondsFromNow) {
    return Date.from(NOW.plusSeconds(secondsFromNow));
  }
}

package dev.lattice.server;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.KeySourceException;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.source.ImmutableJWKSet;
import com.nimbusds.jose.jwk.source.ImmutableSecret;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.JWSKeySelector;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import dev.lattice.server.spi.AuthResult;
import dev.lattice.server.spi.Authenticator;
import dev.lattice.server.spi.DocumentRights;
import dev.lattice.server.spi.Principal;
import java.io.IOException;
import java.net.URI;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Verifies signed JWTs (with nimbus-jose-jwt) and turns them into principals.
 *
 * <ul>
 *   <li>Keys: an HMAC secret (HS256/384/512, at least 32 bytes) and/or RSA and EC public keys (RS*,
 *       PS*, ES*) from a JWKS file or URL. Each algorithm family only ever meets its own kind of
 *       key, so a token signed "HS256" with an RSA public key as the secret, or {@code alg: none},
 *       is refused.
 *   <li>Time: {@code exp} is required; {@code exp} and {@code nbf} are checked with a leeway of
 *       {@link #DEFAULT_LEEWAY} (30 s) for clock skew. The principal expires at {@code exp} plus
 *       the leeway, when its session is closed with 4007.
 *   <li>Claims: {@code sub} is required (the principal's subject); {@code iss} and {@code aud} are
 *       checked when configured; the rights come from the claim {@code lattice}, {@code {"read":
 *       [...], "write": [...]}} (see {@link DocumentRights}); a token without it has no right on
 *       any document, a malformed one is refused.
 * </ul>
 *
 * <p>Keys from a file or a secret are used in the calling thread and the stage is complete when
 * returned. Keys from a URL are fetched and cached (5 minutes) by nimbus; verification then runs in
 * {@link CompletableFuture#supplyAsync(java.util.function.Supplier) the common pool}, since a cache
 * miss waits for the key server.
 *
 * <p>Immutable and thread-safe.
 */
public final class JwtAuthenticator implements Authenticator {

  /** The clock skew allowed on {@code exp} and {@code nbf}: 30 seconds. */
  public static final Duration DEFAULT_LEEWAY = Duration.ofSeconds(30);

  /** The name of the rights claim. */
  public static final String RIGHTS_CLAIM = "lattice";

  private static final int MIN_SECRET_BYTES = 32;

  private final DefaultJWTProcessor<SecurityContext> processor;
  private final Duration leeway;
  private final boolean remoteKeys;
  private final String description;

  private JwtAuthenticator(Builder b) {
    if (b.secret == null && b.jwks == null) {
      throw new IllegalStateException("a JwtAuthenticator needs an HMAC secret or a JWKS");
    }
    this.leeway = b.leeway;
    this.remoteKeys = b.jwksUrl;
    JWSKeySelector<SecurityContext> hmac =
        b.secret == null
            ? null
            : new JWSVerificationKeySelector<>(
                Set.of(JWSAlgorithm.HS256, JWSAlgorithm.HS384, JWSAlgorithm.HS512),
                new ImmutableSecret<>(b.secret));
    JWSKeySelector<SecurityContext> publicKeys =
        b.jwks == null
            ? null
            : new JWSVerificationKeySelector<>(
                union(JWSAlgorithm.Family.RSA, JWSAlgorithm.Family.EC), b.jwks);
    processor = new DefaultJWTProcessor<>();
    processor.setJWSKeySelector(
        (JWSHeader header, SecurityContext context) -> {
          JWSAlgorithm alg = header.getAlgorithm();
          JWSKeySelector<SecurityContext> selector =
              JWSAlgorithm.Family.HMAC_SHA.contains(alg) ? hmac : publicKeys;
          return selector == null ? List.<Key>of() : selector.selectJWSKeys(header, context);
        });
    Clock clock = b.clock;
    DefaultJWTClaimsVerifier<SecurityContext> claims =
        new DefaultJWTClaimsVerifier<>(
            b.audience == null ? null : Set.of(b.audience),
            b.issuer == null ? null : new JWTClaimsSet.Builder().issuer(b.issuer).build(),
            Set.of("sub", "exp"),
            null) {
          @Override
          protected Date currentTime() {
            return Date.from(clock.instant());
          }
        };
    claims.setMaxClockSkew((int) b.leeway.toSeconds());
    processor.setJWTClaimsSetVerifier(claims);
    this.description =
        "JwtAuthenticator["
            + (b.secret != null ? "HMAC secret" : "")
            + (b.secret != null && b.jwks != null ? " + " : "")
            + (b.jwks != null ? "JWKS " + b.jwksSource : "")
            + (b.issuer != null ? ", issuer " + b.issuer : "")
            + (b.audience != null ? ", audience " + b.audience : "")
            + ", leeway "
            + b.leeway.toSeconds()
            + " s]";
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public CompletionStage<AuthResult> authenticate(Optional<String> token) {
    if (token.isEmpty() || token.get().isBlank()) {
      return CompletableFuture.completedFuture(AuthResult.refused("no token"));
    }
    String jwt = token.get();
    if (remoteKeys) {
      return CompletableFuture.supplyAsync(() -> verify(jwt));
    }
    return CompletableFuture.completedFuture(verify(jwt));
  }

  /** Verifies {@code jwt}; the refusal reasons name what was wrong, never the token. */
  AuthResult verify(String jwt) {
    JWTClaimsSet claims;
    try {
      claims = processor.process(jwt, null);
    } catch (ParseException e) {
      return AuthResult.refused("not a JWT");
    } catch (KeySourceException e) {
      return AuthResult.refused("the signing keys could not be loaded");
    } catch (BadJOSEException | JOSEException e) {
      return AuthResult.refused("invalid token: " + e.getMessage());
    }
    DocumentRights rights;
    try {
      rights = rights(claims);
    } catch (IllegalArgumentException e) {
      return AuthResult.refused("malformed " + RIGHTS_CLAIM + " claim: " + e.getMessage());
    }
    String subject = claims.getSubject();
    if (subject == null || subject.isBlank()) {
      return AuthResult.refused("the token has no subject");
    }
    return AuthResult.granted(
        Principal.of(subject)
            .withRights(rights)
            .expiringAt(claims.getExpirationTime().toInstant().plus(leeway)));
  }

  private static DocumentRights rights(JWTClaimsSet claims) {
    Object claim = claims.getClaim(RIGHTS_CLAIM);
    if (claim == null) {
      return DocumentRights.none();
    }
    if (!(claim instanceof Map<?, ?> map)) {
      throw new IllegalArgumentException("expected an object {\"read\": [...], \"write\": [...]}");
    }
    return DocumentRights.of(
        patterns(map.get("read"), "read"), patterns(map.get("write"), "write"));
  }

  private static List<String> patterns(Object value, String name) {
    if (value == null) {
      return List.of();
    }
    if (!(value instanceof List<?> list)) {
      throw new IllegalArgumentException(name + ": expected an array of strings");
    }
    List<String> patterns = new ArrayList<>(list.size());
    for (Object entry : list) {
      if (!(entry instanceof String s)) {
        throw new IllegalArgumentException(name + ": expected an array of strings");
      }
      patterns.add(s);
    }
    return patterns;
  }

  private static Set<JWSAlgorithm> union(JWSAlgorithm.Family... families) {
    Set<JWSAlgorithm> all = new HashSet<>();
    for (JWSAlgorithm.Family family : families) {
      all.addAll(family);
    }
    return all;
  }

  /** Names the key sources and checks; never a secret. */
  @Override
  public String toString() {
    return description;
  }

  /**
   * Builds a {@link JwtAuthenticator}: at least one of {@link #hmacSecret} and {@link #jwksFile} /
   * {@link #jwksUrl}. Not thread-safe.
   */
  public static final class Builder {
    private byte[] secret;
    private JWKSource<SecurityContext> jwks;
    private boolean jwksUrl;
    private String jwksSource;
    private String issuer;
    private String audience;
    private Duration leeway = DEFAULT_LEEWAY;
    private Clock clock = Clock.systemUTC();

    private Builder() {}

    /** The HMAC secret for HS256/384/512 tokens, at least 32 bytes (256 bits). */
    public Builder hmacSecret(byte[] secret) {
      Objects.requireNonNull(secret, "secret");
      if (secret.length < MIN_SECRET_BYTES) {
        throw new IllegalArgumentException(
            "the HMAC secret must have at least "
                + MIN_SECRET_BYTES
                + " bytes (256 bits), had "
                + secret.length);
      }
      this.secret = secret.clone();
      return this;
    }

    /**
     * The HMAC secret from a file: its bytes, without trailing whitespace (a final newline an
     * editor adds is not part of the secret).
     */
    public Builder hmacSecretFile(Path file) throws IOException {
      String text = Files.readString(file);
      return hmacSecret(text.stripTrailing().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /** RSA and EC public keys from a JWKS document in a file, read now. */
    public Builder jwksFile(Path file) throws IOException {
      try {
        this.jwks = new ImmutableJWKSet<>(JWKSet.load(file.toFile()));
      } catch (ParseException e) {
        throw new IllegalArgumentException("not a JWKS document: " + file + ": " + e.getMessage());
      }
      this.jwksUrl = false;
      this.jwksSource = file.toString();
      return this;
    }

    /** RSA and EC public keys from a JWKS URL, fetched when first needed and cached. */
    public Builder jwksUrl(URI url) {
      URL u;
      try {
        u = url.toURL();
      } catch (java.net.MalformedURLException | IllegalArgumentException e) {
        throw new IllegalArgumentException("not a JWKS URL: " + url);
      }
      this.jwks = JWKSourceBuilder.<SecurityContext>create(u).retrying(true).build();
      this.jwksUrl = true;
      this.jwksSource = url.toString();
      return this;
    }

    /** The {@code iss} every token must carry; default: not checked. */
    public Builder issuer(String issuer) {
      this.issuer = Objects.requireNonNull(issuer, "issuer");
      return this;
    }

    /** An {@code aud} every token must include; default: not checked. */
    public Builder audience(String audience) {
      this.audience = Objects.requireNonNull(audience, "audience");
      return this;
    }

    /** The clock skew allowed on {@code exp} and {@code nbf}, whole seconds; default 30 s. */
    public Builder leeway(Duration leeway) {
      if (leeway.isNegative() || leeway.toSeconds() > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("leeway must be 0 or more seconds, was " + leeway);
      }
      this.leeway = Duration.ofSeconds(leeway.toSeconds());
      return this;
    }

    /** The clock {@code exp} and {@code nbf} are checked against; for tests. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    public JwtAuthenticator build() {
      return new JwtAuthenticator(this);
    }
  }
}

package dev.lattice.server.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;

/** Mints test tokens with nimbus: HMAC, RSA and EC, with whatever claims a test needs. */
public final class Tokens {

  /** A 32-byte HMAC secret. */
  public static final byte[] SECRET =
      "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

  private Tokens() {}

  /** Claims for {@code subject}, valid from {@code now - 60 s} to {@code exp}, with rights. */
  public static JWTClaimsSet.Builder claims(
      String subject, Instant exp, List<String> read, List<String> write) {
    return new JWTClaimsSet.Builder()
        .subject(subject)
        .expirationTime(Date.from(exp))
        .claim("lattice", Map.of("read", read, "write", write));
  }

  public static String hmac(JWTClaimsSet claims) {
    return hmac(claims, SECRET);
  }

  public static String hmac(JWTClaimsSet claims, byte[] secret) {
    try {
      return sign(new MACSigner(secret), JWSAlgorithm.HS256, claims);
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  public static String rsa(JWTClaimsSet claims, RSAKey key) {
    try {
      return sign(new RSASSASigner(key), JWSAlgorithm.RS256, key.getKeyID(), claims);
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  public static String ec(JWTClaimsSet claims, ECKey key) {
    try {
      return sign(new ECDSASigner(key), JWSAlgorithm.ES256, key.getKeyID(), claims);
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  public static RSAKey newRsaKey(String kid) {
    try {
      return new RSAKeyGenerator(2048).keyID(kid).generate();
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  public static ECKey newEcKey(String kid) {
    try {
      return new ECKeyGenerator(Curve.P_256).keyID(kid).generate();
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String sign(JWSSigner signer, JWSAlgorithm alg, JWTClaimsSet claims)
      throws JOSEException {
    return sign(signer, alg, null, claims);
  }

  private static String sign(JWSSigner signer, JWSAlgorithm alg, String kid, JWTClaimsSet claims)
      throws JOSEException {
    SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(alg).keyID(kid).build(), claims);
    jwt.sign(signer);
    return jwt.serialize();
  }
}

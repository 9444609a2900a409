package dev.lattice.server;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A self-signed server key store for TLS tests, made with the JDK's keytool (for 127.0.0.1 and
 * localhost), and an {@link SSLContext} that trusts it.
 */
public final class TestKeyStores {

  /** The key store password the tests use. */
  public static final String PASSWORD = "changeit-lattice";

  private TestKeyStores() {}

  /** Generates {@code dir/server.p12}: an EC key and self-signed certificate, PKCS#12. */
  public static Path serverKeyStore(Path dir) throws IOException, InterruptedException {
    Path store = dir.resolve("server.p12");
    String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
    Process p =
        new ProcessBuilder(
                List.of(
                    keytool,
                    "-genkeypair",
                    "-alias",
                    "lattice",
                    "-keyalg",
                    "EC",
                    "-groupname",
                    "secp256r1",
                    "-dname",
                    "CN=localhost",
                    "-ext",
                    "SAN=ip:127.0.0.1,dns:localhost",
                    "-validity",
                    "2",
                    "-storetype",
                    "PKCS12",
                    "-keystore",
                    store.toString(),
                    "-storepass",
                    PASSWORD,
                    "-keypass",
                    PASSWORD))
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("keytool.log").toFile())
            .start();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor();
      throw new IOException("keytool did not finish in 60 s");
    }
    if (p.exitValue() != 0) {
      throw new IOException("keytool failed: " + Files.readString(dir.resolve("keytool.log")));
    }
    return store;
  }

  /** A TLS context trusting only the certificate of {@code serverKeyStore}. */
  public static SSLContext trusting(Path serverKeyStore) throws Exception {
    KeyStore server = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(serverKeyStore)) {
      server.load(in, PASSWORD.toCharArray());
    }
    Certificate certificate = server.getCertificate("lattice");
    KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
    trust.load(null, null);
    trust.setCertificateEntry("lattice", certificate);
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, tmf.getTrustManagers(), null);
    return context;
  }
}

/**
 * The embeddable sync server. Two packages are API: {@code dev.lattice.server} ({@link
 * dev.lattice.server.LatticeServer} and its builder, {@link dev.lattice.server.JwtAuthenticator},
 * {@link dev.lattice.server.WebhookExtension}) and {@code dev.lattice.server.spi}, what an embedder
 * implements or receives. The session logic, the hub, the stores, Redis, authentication helpers and
 * the extension runner stay in packages that are not exported; an embedder picks a store through
 * the builder ({@code dataDirectory}, {@code inMemory}, {@code redis}) or passes its own {@link
 * dev.lattice.server.spi.DocumentStore}.
 *
 * <p>rocksdbjni declares no module name: it is read as the automatic module named after its file,
 * {@code rocksdbjni}. Lettuce and Micrometer are automatic modules with names from their manifests.
 */
@SuppressWarnings({"requires-transitive-automatic", "requires-automatic"})
module dev.lattice.server {
  requires transitive dev.lattice.protocol;
  requires transitive micrometer.core;
  requires micrometer.registry.prometheus;
  requires org.eclipse.jetty.server;
  requires com.github.benmanes.caffeine;
  requires lettuce.core;
  requires io.netty.common;
  requires rocksdbjni;
  requires com.nimbusds.jose.jwt;
  requires java.net.http;

  exports dev.lattice.server;
  exports dev.lattice.server.spi;
}

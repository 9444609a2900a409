/**
 * What an embedder of the server implements or receives: authentication ({@link
 * dev.lattice.server.spi.Authenticator}, {@link dev.lattice.server.spi.Authorizer} and the {@link
 * dev.lattice.server.spi.Principal} they grant), the durable store ({@link
 * dev.lattice.server.spi.DocumentStore} and its values), replication between servers ({@link
 * dev.lattice.server.spi.Replicator}), extensions ({@link
 * dev.lattice.server.spi.LatticeExtension}), the edits of a server-side change ({@link
 * dev.lattice.server.spi.DocumentEdit}) and the per-connection limits ({@link
 * dev.lattice.server.spi.SessionConfig}). With {@code dev.lattice.server} ({@code LatticeServer}
 * and its builder, {@code JwtAuthenticator}, {@code WebhookExtension}) it is everything the
 * sync-server module exports; the implementations stay in packages it does not export.
 */
package dev.lattice.server.spi;

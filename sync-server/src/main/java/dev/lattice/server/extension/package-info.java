/**
 * Server-side extensions: code an embedder plugs into {@link
 * dev.lattice.server.LatticeServer.Builder#extension} to be told of connections, authentication,
 * document loads, durable changes, appends, unloads and disconnects, as Hocuspocus extensions are.
 * See {@link dev.lattice.server.extension.LatticeExtension} and docs/EMBEDDING.md; {@link
 * dev.lattice.server.extension.WebhookExtension} is one built on it.
 */
package dev.lattice.server.extension;

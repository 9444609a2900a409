/**
 * The server's own authentication parts, not exported: what the interfaces in {@code
 * dev.lattice.server.spi} ({@code Authenticator}, {@code Authorizer}, {@code Principal}) need
 * inside the server, such as the owners of replica ids. {@code dev.lattice.server.JwtAuthenticator}
 * is the JWT implementation with the {@code lattice} rights claim. See docs/SECURITY.md.
 */
package dev.lattice.server.auth;

/**
 * Authentication and authorization: an {@link dev.lattice.server.auth.Authenticator} turns a token
 * into a {@link dev.lattice.server.auth.Principal} (asynchronously), an {@link
 * dev.lattice.server.auth.Authorizer} gives a principal's {@link dev.lattice.server.auth.Access} to
 * a document, and {@link dev.lattice.server.auth.JwtAuthenticator} is the JWT implementation with
 * the {@code lattice} rights claim. See docs/SECURITY.md.
 */
package dev.lattice.server.auth;

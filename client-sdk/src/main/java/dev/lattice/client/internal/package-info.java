/**
 * The SDK's machinery behind {@link dev.lattice.client.LatticeClient}: the session and its wire
 * protocol, the per-document replica state, the local-state stores, the transport, backoff and
 * clock correction. <strong>Not API</strong>: the module does not export this package, names and
 * signatures change without notice, and nothing outside the SDK may depend on it.
 *
 * <p>Its types and the members the API classes call are {@code public} only because Java has no
 * visibility between "package" and "public" across packages: the API package {@code
 * dev.lattice.client} and the protocol simulation in {@code property-tests} (which runs on the
 * class path, so drives the session deterministically without a socket or a thread) reach them. The
 * module boundary is what keeps them out of applications' reach.
 */
package dev.lattice.client.internal;

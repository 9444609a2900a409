/**
 * The Lattice Java client: local replicas of documents that read and write at once, an outbox of
 * unacknowledged edits (durable with a state directory), reconnect with backoff and jitter, clock
 * correction against the server, and change, connection and presence listeners.
 */
package dev.lattice.client;

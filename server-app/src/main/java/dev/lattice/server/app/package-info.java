/**
 * The runnable Lattice server: {@link dev.lattice.server.app.LatticeMain} parses flags (mirrored by
 * LATTICE_* environment variables) and runs a {@link dev.lattice.server.LatticeServer} until
 * SIGTERM. The only module that picks a logging backend (logback).
 */
package dev.lattice.server.app;

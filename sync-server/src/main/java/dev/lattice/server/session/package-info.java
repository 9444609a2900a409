/**
 * The server's per-connection protocol logic, without I/O: {@link
 * dev.lattice.server.session.ServerSession} takes decoded frames and time in and hands frames,
 * closes, hub calls and timers out. The WebSocket endpoint is a thin adapter that feeds it frames
 * and implements {@link dev.lattice.server.session.SessionTransport}; tests and simulations drive
 * it directly with manual time.
 */
package dev.lattice.server.session;

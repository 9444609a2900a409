package dev.lattice.properties.protocol;

/**
 * One step of a {@link SyncSimulation} schedule, as jqwik generates and shrinks it. Indices are
 * taken modulo what exists (clients, documents, deliverable queues), so every step is valid in
 * every world and a shrunk schedule stays meaningful. Each {@code toString} reads as a line of the
 * story jqwik prints for a failing schedule.
 */
sealed interface SimStep {

  /**
   * Fields by index, their type by initial: G-Counters, PN-Counters, LWW-Registers, OR-Sets and an
   * OR-Map whose key {@code "tags"} holds an OR-Set; enough of them that a document outgrows a
   * small frame.
   */
  String[] FIELDS = {
    "g0", "g1", "g2", "g3", "p0", "p1", "p2", "r0", "r1", "r2", "r3", "o0", "o1", "m0"
  };

  /**
   * A local edit: G-Counter increment, PN-Counter add or register set, by the field's type; for a
   * set (top-level or in the map), an add of element {@code amount % 3} when {@code amount >= 0},
   * else a remove of element {@code -amount % 3}: few elements, so adds and removes collide.
   */
  record Edit(int client, int document, int field, int amount) implements SimStep {
    @Override
    public String toString() {
      return "c" + client + " edits d" + document + "." + FIELDS[field] + " (" + amount + ")";
    }
  }

  /**
   * Sets ({@code value > 0}) or clears ({@code value == 0}) the client's presence on a document.
   */
  record SetPresence(int client, int document, int value) implements SimStep {
    @Override
    public String toString() {
      return "c" + client + (value == 0 ? " clears" : " sets") + " presence on d" + document;
    }
  }

  /** Delivers the head of one queue (or opens one pending connection), chosen by {@code pick}. */
  record Deliver(int pick) implements SimStep {
    @Override
    public String toString() {
      return "deliver #" + pick;
    }
  }

  /** The store makes its oldest pending append durable. */
  record Commit() implements SimStep {
    @Override
    public String toString() {
      return "store commits one append";
    }
  }

  /**
   * The client's connection dies: frames in flight are lost, the client is told 1006, and the
   * server either notices at once or keeps a half-open session until its idle timeout.
   */
  record Drop(int client, boolean serverNotices) implements SimStep {
    @Override
    public String toString() {
      return "c"
          + client
          + "'s connection drops"
          + (serverNotices ? "" : " (server does not notice)");
    }
  }

  /** How the server goes down before a new one starts over the same store. */
  enum RestartKind {
    /** Flushes the store and closes every connection with 1001. */
    GRACEFUL,
    /** Loses pending appends; clients see their connections reset (1006). */
    CRASH,
    /** Loses pending appends; clients notice only when their PINGs go unanswered. */
    SILENT_CRASH
  }

  /** The server restarts. */
  record Restart(RestartKind kind) implements SimStep {
    @Override
    public String toString() {
      return "server restarts (" + kind + ")";
    }
  }

  /**
   * The client's process dies and starts again over the same local state (as with a state
   * directory): same replica id, outbox and checkpoint; presence and connection gone. The server
   * sees the socket reset, or keeps a half-open session until its idle timeout.
   */
  record RestartClient(int client, boolean serverNotices) implements SimStep {
    @Override
    public String toString() {
      return "c" + client + " restarts" + (serverNotices ? "" : " (server does not notice)");
    }
  }

  /** A server-side edit ({@code LatticeServer.edit}): the server increments its own counter. */
  record ServerEdit(int document, int amount) implements SimStep {
    @Override
    public String toString() {
      return "server edits d" + document + "." + SERVER_FIELD + " (" + amount + ")";
    }
  }

  /** The G-Counter only the server writes. */
  String SERVER_FIELD = "s0";

  /** Time jumps forward, running every timer that falls due (pings, idle timeouts, backoff). */
  record Advance(long millis) implements SimStep {
    @Override
    public String toString() {
      return "time +" + millis + " ms";
    }
  }

  /** A copy of the client's state directory is taken, as a backup tool would (issue 11). */
  record Backup(int client) implements SimStep {
    @Override
    public String toString() {
      return "c" + client + "'s state is backed up";
    }
  }

  /**
   * The client's process dies and starts again over its last backup (an empty state if none was
   * taken): edits and received state since then are gone from it, the server still holds what it
   * acknowledged. The server sees the socket reset.
   */
  record Restore(int client) implements SimStep {
    @Override
    public String toString() {
      return "c" + client + " is restored from its last backup";
    }
  }

  /** The client's wall clock jumps by {@code millis} (forward or back) and stays there. */
  record ClockJump(int client, long millis) implements SimStep {
    @Override
    public String toString() {
      return "c" + client + "'s clock jumps " + (millis >= 0 ? "+" : "") + millis + " ms";
    }
  }

  /**
   * The server machine's wall clock jumps by {@code millis}: the running server sees it at once,
   * and a server restarted later starts on it (behind what its store holds, when set back).
   */
  record ServerClockJump(long millis) implements SimStep {
    @Override
    public String toString() {
      return "server clock jumps " + (millis >= 0 ? "+" : "") + millis + " ms";
    }
  }
}

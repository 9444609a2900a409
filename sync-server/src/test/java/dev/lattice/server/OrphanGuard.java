package dev.lattice.server;

/**
 * For the {@code main} of a child JVM a test starts: halts the child (status 3) when its stdin
 * closes, which happens when the parent test JVM is gone, so a child is never left running. The
 * parent never writes to it. Shared through the test-jar by every module's child processes.
 *
 * <p>Thread-safe: call once per child; it starts one daemon thread.
 */
public final class OrphanGuard {

  private OrphanGuard() {}

  /** Starts the watcher thread. */
  public static void haltWhenParentGoes() {
    Thread watcher =
        new Thread(
            () -> {
              try {
                while (System.in.read() != -1) {
                  // the parent never writes; EOF means it is gone
                }
              } catch (Exception e) {
                // treat as EOF
              }
              Runtime.getRuntime().halt(3);
            },
            "stdin-watcher");
    watcher.setDaemon(true);
    watcher.start();
  }
}

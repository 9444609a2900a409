package dev.lattice.faults;

/**
 * Jepsen's counter checker over a recorded history of one counter: the value read after healing
 * must lie between the sum of the acknowledged edits plus every unacknowledged decrement and that
 * sum plus every unacknowledged increment (an unacknowledged edit may or may not have taken effect;
 * an acknowledged one must have). Shared by the simulation and the real-process fault test. Not
 * thread-safe: fill it, then check.
 */
public final class CounterCheck {

  private long acknowledged;
  private long down;
  private long up;

  /** Records one attempted edit of {@code amount} and whether the server acknowledged it. */
  public void attempt(long amount, boolean isAcknowledged) {
    if (isAcknowledged) {
      acknowledged += amount;
    } else if (amount < 0) {
      down += amount;
    } else {
      up += amount;
    }
  }

  /** Why {@code actual} breaks the bounds, or null if it lies within them. */
  public String violation(long actual) {
    if (actual >= acknowledged + down && actual <= acknowledged + up) {
      return null;
    }
    return actual
        + ", outside [acknowledged "
        + acknowledged
        + " + unacknowledged decrements "
        + down
        + ", + unacknowledged increments "
        + up
        + "]";
  }
}

package dev.lattice.load;

import java.util.Arrays;

/**
 * A growable array of {@code long} samples. Not thread-safe: one thread adds (a connection's
 * receive thread); another reads only after a happens-before edge (a semaphore or lock that the
 * writer released after its last add).
 */
final class Samples {

  private long[] values = new long[1024];
  private int size;

  void add(long value) {
    if (size == values.length) {
      values = Arrays.copyOf(values, size * 2);
    }
    values[size++] = value;
  }

  int size() {
    return size;
  }

  long[] toArray() {
    return Arrays.copyOf(values, size);
  }

  /** All samples of {@code parts}, concatenated. */
  static long[] concat(Iterable<Samples> parts) {
    int total = 0;
    for (Samples s : parts) {
      total += s.size;
    }
    long[] all = new long[total];
    int at = 0;
    for (Samples s : parts) {
      System.arraycopy(s.values, 0, all, at, s.size);
      at += s.size;
    }
    return all;
  }
}

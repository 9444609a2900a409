package dev.lattice.hlc;

import java.util.function.LongSupplier;

/** A physical clock that only moves when a test moves it, in any direction. */
final class ManualClock implements LongSupplier {

  private volatile long millis;

  ManualClock(long millis) {
    this.millis = millis;
  }

  void set(long millis) {
    this.millis = millis;
  }

  @Override
  public long getAsLong() {
    return millis;
  }
}

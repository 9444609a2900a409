package dev.lattice.server.session;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * One timer for every session of a server: a hashed timing wheel of coarse ticks, instead of one
 * task per session in a {@link java.util.concurrent.ScheduledThreadPoolExecutor}.
 *
 * <p>Why: every session keeps one idle timer armed for all its life, and re-arms it at every PING.
 * In a scheduled executor each arming is a heap insertion, a cancelled timer stays queued (and on
 * the heap) until its time comes, and the timer thread wakes once per due task. Here arming and
 * cancelling are O(1) list operations, a cancelled timer is unlinked at once, and the thread wakes
 * once per tick to run everything that fell due in it, and not at all while no timer is armed.
 *
 * <p>Timing: a task never runs early; it runs at the first tick boundary at or after its due time,
 * so at most one tick late (plus the time the tasks before it take). Ticks are counted from the
 * wheel's creation.
 *
 * <p>Thread-safety: {@link #schedule} and {@link Cancellable#cancel()} may be called from any
 * thread, also from a running task; one lock guards the wheel and is never held while a task runs.
 * Tasks run one at a time, on the wheel's thread (or, in tests, on the thread that calls {@link
 * #advance}); they must not block.
 */
public final class SessionTimerWheel implements SessionScheduler, AutoCloseable {

  private static final System.Logger LOG = System.getLogger(SessionTimerWheel.class.getName());

  private final long tickNanos;
  private final LongSupplier nanoTime;
  private final long origin;
  private final Entry[] buckets;
  private final int mask;
  private final Object lock = new Object();

  // ---- guarded by lock
  /** The first tick not processed yet: every entry due before it has been taken out. */
  private long nextTick;

  private int size;
  private boolean closed;
  private Thread thread;

  /**
   * A wheel that runs its tasks only when {@link #advance} is called; for tests and simulations.
   *
   * @param tickNanos the granularity, at least 1
   * @param bucketCount how many ticks one turn of the wheel spans, a power of two; later timers go
   *     round the wheel and are skipped until their turn
   * @param nanoTime a monotonic clock
   */
  SessionTimerWheel(long tickNanos, int bucketCount, LongSupplier nanoTime) {
    if (tickNanos < 1) {
      throw new IllegalArgumentException("tickNanos must be at least 1, was " + tickNanos);
    }
    if (bucketCount < 1 || Integer.bitCount(bucketCount) != 1) {
      throw new IllegalArgumentException("bucketCount must be a power of two, was " + bucketCount);
    }
    this.tickNanos = tickNanos;
    this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
    this.origin = nanoTime.getAsLong();
    this.buckets = new Entry[bucketCount];
    this.mask = bucketCount - 1;
  }

  /**
   * A wheel of {@code tick} granularity running its tasks on a new daemon thread named {@code
   * threadName}, until {@link #close()}.
   */
  public static SessionTimerWheel start(Duration tick, String threadName) {
    Objects.requireNonNull(tick, "tick");
    Objects.requireNonNull(threadName, "threadName");
    SessionTimerWheel wheel = new SessionTimerWheel(tick.toNanos(), 64, System::nanoTime);
    Thread t = new Thread(wheel::runUntilClosed, threadName);
    t.setDaemon(true);
    synchronized (wheel.lock) {
      wheel.thread = t;
    }
    t.start();
    return wheel;
  }

  @Override
  public Cancellable schedule(Runnable task, long delayNanos) {
    Objects.requireNonNull(task, "task");
    long due = nanoTime.getAsLong() + Math.max(0, delayNanos);
    // The first tick boundary at or after the due time: never early.
    long tick = ceilDiv(due - origin, tickNanos);
    Entry entry = new Entry(task);
    synchronized (lock) {
      if (closed) {
        return entry; // never runs; cancelling it is a no-op
      }
      entry.tick = Math.max(tick, nextTick);
      link(entry);
      if (++size == 1) {
        lock.notifyAll(); // the thread waits without a deadline while the wheel is empty
      }
    }
    return entry;
  }

  /** Timers armed and not yet run or cancelled. */
  int size() {
    synchronized (lock) {
      return size;
    }
  }

  /**
   * Runs, on the calling thread and in due order by tick, every task due at or before the tick that
   * contains {@code nowNanos}.
   *
   * @return how many tasks ran
   */
  int advance(long nowNanos) {
    List<Runnable> due = new ArrayList<>();
    synchronized (lock) {
      long last = Math.floorDiv(nowNanos - origin, tickNanos);
      while (nextTick <= last && size > 0) {
        Entry e = buckets[(int) (nextTick & mask)];
        while (e != null) {
          Entry next = e.next;
          if (e.tick <= nextTick) {
            unlink(e);
            size--;
            due.add(e.task);
          }
          e = next;
        }
        nextTick++;
      }
      // Ticks with nothing armed need no visit.
      nextTick = Math.max(nextTick, last + 1);
    }
    for (Runnable task : due) {
      try {
        task.run();
      } catch (RuntimeException e) {
        LOG.log(System.Logger.Level.ERROR, "a session timer task failed", e);
      }
    }
    return due.size();
  }

  /** Stops the thread, if any; armed timers never run. Idempotent. */
  @Override
  public void close() {
    Thread t;
    synchronized (lock) {
      closed = true;
      t = thread;
      lock.notifyAll();
    }
    if (t != null && t != Thread.currentThread()) {
      try {
        t.join(TimeUnit.SECONDS.toMillis(5));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void runUntilClosed() {
    while (true) {
      advance(nanoTime.getAsLong());
      synchronized (lock) {
        if (closed) {
          return;
        }
        try {
          if (size == 0) {
            lock.wait(); // woken by the next schedule or by close
          } else {
            long wait = origin + nextTick * tickNanos - nanoTime.getAsLong();
            if (wait > 0) {
              TimeUnit.NANOSECONDS.timedWait(lock, wait);
            }
          }
        } catch (InterruptedException e) {
          return;
        }
      }
    }
  }

  private void link(Entry e) {
    int i = (int) (e.tick & mask);
    Entry head = buckets[i];
    e.next = head;
    if (head != null) {
      head.prev = e;
    }
    buckets[i] = e;
    e.linked = true;
  }

  private void unlink(Entry e) {
    if (e.prev != null) {
      e.prev.next = e.next;
    } else {
      buckets[(int) (e.tick & mask)] = e.next;
    }
    if (e.next != null) {
      e.next.prev = e.prev;
    }
    e.prev = null;
    e.next = null;
    e.linked = false;
  }

  private static long ceilDiv(long x, long y) {
    return -Math.floorDiv(-x, y);
  }

  /** One armed timer: a node of its bucket's list. Guarded by the wheel's lock. */
  private final class Entry implements Cancellable {
    final Runnable task;
    long tick;
    Entry prev;
    Entry next;
    boolean linked;

    Entry(Runnable task) {
      this.task = task;
    }

    @Override
    public void cancel() {
      synchronized (lock) {
        if (linked) {
          unlink(this);
          size--;
        }
      }
    }
  }
}

package dev.lattice.load;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.ReplicaId;
import java.net.URI;
import java.net.http.HttpClient;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadFactory;

/** Helpers shared by the scenarios. Stateless; thread-safe. */
final class Runs {

  /** Documents one verifying connection subscribes to, well below the default limit of 100. */
  private static final int DOCUMENTS_PER_VERIFIER = 50;

  private Runs() {}

  /** A fresh prefix for document ids, so runs against one long-lived server never overlap. */
  static String documentPrefix() {
    byte[] bytes = new byte[4];
    new SecureRandom().nextBytes(bytes);
    return "load-" + HexFormat.of().formatHex(bytes) + "-";
  }

  static ThreadFactory daemonThreads(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  /**
   * The server's value of counter {@code field}, summed over {@code documentIds}, read through
   * fresh connections that subscribe with an empty vector: exactly what the server holds, as any
   * new replica would see it.
   */
  static long serverCounterSum(
      HttpClient http, URI uri, List<String> documentIds, String field, Duration timeout) {
    long total = 0;
    for (int from = 0; from < documentIds.size(); from += DOCUMENTS_PER_VERIFIER) {
      List<String> chunk =
          documentIds.subList(from, Math.min(documentIds.size(), from + DOCUMENTS_PER_VERIFIER));
      try (ProtocolConnection verifier =
          ProtocolConnection.open(http, uri, ReplicaId.random(), (m, t) -> {}, timeout)) {
        long request = 1;
        for (String id : chunk) {
          Document copy = Document.create(id);
          copy.merge(verifier.subscribe(request++, id).delta());
          total = Math.addExact(total, copy.counterValue(field));
        }
      }
    }
    return total;
  }

  /**
   * Checks the times every bounded scenario takes (the options of the same names).
   *
   * @throws IllegalArgumentException if one is null, the warm-up negative, or the duration or the
   *     timeout not positive
   */
  static void checkTimes(Duration warmup, Duration duration, Duration timeout) {
    Objects.requireNonNull(warmup, "warmup");
    Objects.requireNonNull(duration, "duration");
    Objects.requireNonNull(timeout, "timeout");
    if (warmup.isNegative()) {
      throw new IllegalArgumentException("warmup must not be negative, was " + warmup);
    }
    if (duration.isNegative() || duration.isZero()) {
      throw new IllegalArgumentException("duration must be positive, was " + duration);
    }
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive, was " + timeout);
    }
  }

  /** Waits for {@code threads}, at most until {@code deadlineNanos}. */
  static void joinAll(List<Thread> threads, long deadlineNanos) throws InterruptedException {
    for (Thread t : threads) {
      long left = deadlineNanos - System.nanoTime();
      if (left > 0) {
        t.join(Math.max(1, left / 1_000_000));
      }
      if (t.isAlive()) {
        throw new LoadException(t.getName() + " did not finish in time");
      }
    }
  }
}

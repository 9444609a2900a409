package dev.lattice.load;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The {@code saturation} scenario: the open-loop workload at per-client rates R0, R0 x step, R0 x
 * step^2, ... (fresh documents and connections each step, one warm-up before the first) until the
 * fan-out p99 passes the limit (50 ms), a step fails, the acked rate falls below 90% of the offered
 * one, the rate passes the maximum or the step count is spent. The knee is the highest offered load
 * (updates/s over all clients) whose step passed: p99 at or below the limit and at least 90% of the
 * offered updates/s acknowledged.
 *
 * <p>Not thread-safe: {@link #run} blocks its one calling thread.
 */
final class SaturationScenario {

  /**
   * A step passes only if it acked at least this share of the offered load: a server (or generator)
   * that falls behind has not carried that load, whatever the p99 of a short step.
   */
  static final double KEPT_UP = 0.9;

  /**
   * What to run.
   *
   * @param workload clients, documents, updates per client per step, warm-up and timeout; its rate
   *     is ignored
   * @param startRate R0, updates/s per client
   * @param step factor between steps, above 1
   * @param maxRate no step above this rate per client
   * @param maxSteps at most this many steps
   * @param p99LimitMs the fan-out p99 that ends the run once passed
   */
  record Config(
      WorkloadScenario.Config workload,
      double startRate,
      double step,
      double maxRate,
      int maxSteps,
      double p99LimitMs) {

    Config {
      Objects.requireNonNull(workload, "workload");
      if (!(startRate > 0)) {
        throw new IllegalArgumentException("start rate must be positive, was " + startRate);
      }
      if (!(step > 1)) {
        throw new IllegalArgumentException("step must be above 1, was " + step);
      }
      if (!(maxRate >= startRate)) {
        throw new IllegalArgumentException(
            "max rate must be at least the start rate " + startRate + ", was " + maxRate);
      }
      if (maxSteps < 1 || maxSteps > 100) {
        throw new IllegalArgumentException("steps must be between 1 and 100, was " + maxSteps);
      }
      if (!(p99LimitMs > 0)) {
        throw new IllegalArgumentException("p99 limit must be positive, was " + p99LimitMs);
      }
    }

    /** The per-client rates the run tries, in order, before any stop condition. */
    List<Double> rates() {
      List<Double> rates = new ArrayList<>();
      double r = startRate;
      for (int i = 0; i < maxSteps && r <= maxRate * (1 + 1e-9); i++) {
        rates.add(r);
        r *= step;
      }
      return rates;
    }
  }

  /** One step's outcome. */
  record Step(double ratePerClient, WorkloadScenario.Result result) {
    double offered() {
      return result.config().offeredPerSecond();
    }

    double p99Ms() {
      return Report.at(result.fanout(), 99) / 1e6;
    }

    double p50Ms() {
      return Report.at(result.fanout(), 50) / 1e6;
    }

    /** Acked at least {@link #KEPT_UP} of the offered updates/s. */
    boolean keptUp() {
      return result.ackedPerSecond() >= KEPT_UP * offered();
    }

    boolean passed(double limitMs) {
      return result.ok() && keptUp() && p99Ms() <= limitMs;
    }
  }

  /**
   * The steps run and why the run stopped.
   *
   * @param stopReason "p99 limit passed", "step failed", "acked fell below...", or "max rate/steps
   *     reached"
   */
  record Result(Config config, double warmupSeconds, List<Step> steps, String stopReason) {

    /** The highest offered load of a step that passed, or -1 when none did. */
    double kneeOffered() {
      double knee = -1;
      for (Step s : steps) {
        if (s.passed(config.p99LimitMs())) {
          knee = Math.max(knee, s.offered());
        }
      }
      return knee;
    }

    /** At least one step passed: there is a knee to report. */
    boolean ok() {
      return kneeOffered() >= 0;
    }
  }

  private SaturationScenario() {}

  /** Runs the steps; {@code progress} gets each step as it ends. */
  static Result run(List<URI> targets, Config config, java.util.function.Consumer<Step> progress)
      throws InterruptedException {
    double warm = WorkloadScenario.warmUp(targets, config.workload());
    List<Step> steps = new ArrayList<>();
    String stop = "max rate/steps reached";
    for (double rate : config.rates()) {
      WorkloadScenario.Result r =
          WorkloadScenario.measure(
              targets, config.workload().withRate(rate), config.workload().warmupUpdates(), warm);
      Step step = new Step(rate, r);
      steps.add(step);
      progress.accept(step);
      if (!r.ok()) {
        stop = "step failed: " + String.join("; ", WorkloadScenario.describe(r));
        break;
      }
      if (step.p99Ms() > config.p99LimitMs()) {
        stop = "p99 limit passed";
        break;
      }
      if (!step.keptUp()) {
        stop = "acked fell below " + Math.round(KEPT_UP * 100) + "% of offered";
        break;
      }
    }
    return new Result(config, warm, List.copyOf(steps), stop);
  }
}

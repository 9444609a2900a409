package dev.lattice.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SaturationScenarioTest {

  private static final WorkloadScenario.Config WORKLOAD =
      new WorkloadScenario.Config(4, 2, 10, 1, 0, Duration.ofSeconds(20));

  @Test
  void ratesGrowByTheStepUpToTheMaximumAndTheStepCount() {
    assertThat(new SaturationScenario.Config(WORKLOAD, 10, 1.5, 40, 10, 50).rates())
        .containsExactly(10.0, 15.0, 22.5, 33.75);
    assertThat(new SaturationScenario.Config(WORKLOAD, 10, 2, 1e9, 3, 50).rates())
        .containsExactly(10.0, 20.0, 40.0);
    assertThatThrownBy(() -> new SaturationScenario.Config(WORKLOAD, 10, 1, 40, 10, 50))
        .hasMessageContaining("step must be above 1");
  }

  @Test
  void runsBoundedStepsAndReportsAKnee() throws Exception {
    List<SaturationScenario.Step> seen = new ArrayList<>();
    try (Target target = Target.inProcess(true)) {
      // 4 clients at 50 and 100/s, 10 updates each: 0.2 s and 0.1 s of schedule. A generous p99
      // limit (5 s): this checks the bookkeeping, not the machine.
      SaturationScenario.Result r =
          SaturationScenario.run(
              List.of(target.uri()),
              new SaturationScenario.Config(WORKLOAD, 50, 2, 100, 5, 5_000),
              seen::add);

      assertThat(seen).hasSize(r.steps().size()).isNotEmpty();
      assertThat(r.steps().size()).isLessThanOrEqualTo(2);
      assertThat(r.steps().get(0).offered()).isEqualTo(200);
      for (SaturationScenario.Step s : r.steps()) {
        assertThat(s.result().ok()).as(WorkloadScenario.describe(s.result()).toString()).isTrue();
        assertThat(s.result().acked()).isEqualTo(40);
      }
      // Short steps on a busy machine may ack below 90% of the offered rate; a knee, when there
      // is one, is an offered load of a step that passed.
      if (r.ok()) {
        assertThat(r.kneeOffered()).isIn(200.0, 400.0);
      }
    }
  }
}

package dev.lattice.load;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class WorkloadPlanTest {

  @Test
  void clientGJoinsDocumentGModD() {
    assertThat(WorkloadPlan.documentOf(0, 3)).isZero();
    assertThat(WorkloadPlan.documentOf(4, 3)).isEqualTo(1);
    assertThat(WorkloadPlan.documentOf(5, 3)).isEqualTo(2);
    assertThat(WorkloadPlan.documentOf(7, 1)).isZero();
  }

  @Test
  void clientGConnectsToServerFloorGOverDModS() {
    // D = 2, S = 3: clients 0,1 -> server 0; 2,3 -> 1; 4,5 -> 2; 6,7 -> 0 again.
    int[] expected = {0, 0, 1, 1, 2, 2, 0, 0};
    for (int g = 0; g < expected.length; g++) {
      assertThat(WorkloadPlan.serverOf(g, 2, 3)).as("client %d", g).isEqualTo(expected[g]);
    }
    // So the members of one document (g = 0, 2, 4, 6 of document 0) spread over the servers.
    assertThat(WorkloadPlan.serverOf(4, 2, 3)).isNotEqualTo(WorkloadPlan.serverOf(2, 2, 3));
    // One server: everyone on it.
    for (int g = 0; g < 10; g++) {
      assertThat(WorkloadPlan.serverOf(g, 3, 1)).isZero();
    }
  }

  @Test
  void membersAndPositionsCoverEveryClientOnce() {
    int clients = 10;
    int docs = 4;
    int total = 0;
    for (int d = 0; d < docs; d++) {
      total += WorkloadPlan.membersOf(d, clients, docs);
    }
    assertThat(total).isEqualTo(clients);
    assertThat(WorkloadPlan.membersOf(0, clients, docs)).isEqualTo(3); // 0, 4, 8
    assertThat(WorkloadPlan.membersOf(3, clients, docs)).isEqualTo(2); // 3, 7
    assertThat(WorkloadPlan.positionOf(8, docs)).isEqualTo(2);
    assertThat(WorkloadPlan.membersOf(5, 3, 6)).isZero();
  }

  @Test
  void openLoopScheduleIsT0PlusGOverNOverRPlusKMinusOneOverR() {
    // N = 4, R = 10/s: client g's k-th send at (g/4 + k - 1) / 10 s.
    assertThat(WorkloadPlan.openLoopOffsetNanos(0, 4, 1, 10)).isZero();
    assertThat(WorkloadPlan.openLoopOffsetNanos(1, 4, 1, 10)).isEqualTo(25_000_000L);
    assertThat(WorkloadPlan.openLoopOffsetNanos(3, 4, 1, 10)).isEqualTo(75_000_000L);
    assertThat(WorkloadPlan.openLoopOffsetNanos(0, 4, 2, 10)).isEqualTo(100_000_000L);
    assertThat(WorkloadPlan.openLoopOffsetNanos(2, 4, 3, 10)).isEqualTo(250_000_000L);
    // Sorted by time the schedule is send i = (k - 1) * N + g: strictly increasing in that order.
    long previous = -1;
    for (int k = 1; k <= 5; k++) {
      for (int g = 0; g < 4; g++) {
        long t = WorkloadPlan.openLoopOffsetNanos(g, 4, k, 10);
        assertThat(t).isGreaterThan(previous);
        previous = t;
      }
    }
  }

  @Test
  void clientFramesCarrySixBytesOfHeaderAndMaskWhenSmall() {
    assertThat(WorkloadPlan.clientFrameBytes(40)).isEqualTo(46);
    assertThat(WorkloadPlan.clientFrameBytes(125)).isEqualTo(131);
    assertThat(WorkloadPlan.clientFrameBytes(126)).isEqualTo(134);
    assertThat(WorkloadPlan.clientFrameBytes(65_536)).isEqualTo(65_550);
  }
}

package dev.lattice.load;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import java.util.Map;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

/** The "observing a later count observes the earlier ones" bookkeeping, without a server. */
class WorkloadLedgerTest {

  // 3 clients, one document, 3 updates each.
  private final ReplicaId r0 = ReplicaId.of(100);
  private final ReplicaId r1 = ReplicaId.of(101);
  private final ReplicaId r2 = ReplicaId.of(102);
  private final WorkloadLedger ledger = new WorkloadLedger(3, 1, 3, Map.of(r0, 0, r1, 1, r2, 2));
  private final Document doc0 = Document.create("d");
  private final Document doc1 = Document.create("d");
  private final Document doc2 = Document.create("d");

  @Test
  void aJoinedDeltaOfSeveralSendersAndTheReceiversOwnUpdateMarksEveryEarlierCount() {
    // Client 1 sends 1, 2, 3 at t = 10, 20, 30; client 2 sends 1 at t = 15; client 0 sends 1.
    ledger.sent(1, 1, 10);
    ledger.sent(1, 2, 20);
    ledger.sent(1, 3, 30);
    ledger.sent(2, 1, 15);
    ledger.sent(0, 1, 12);
    DocumentDelta joined =
        doc1.incrementGCounter(r1, "c1", 1)
            .join(doc1.incrementGCounter(r1, "c1", 1))
            .join(doc1.incrementGCounter(r1, "c1", 1))
            .join(doc2.incrementGCounter(r2, "c2", 1))
            .join(doc0.incrementGCounter(r0, "c0", 1));

    // Receiver 0 gets all of it in one frame at t = 100: 3 of client 1, 1 of client 2, not its own.
    assertThat(ledger.observe(0, joined, 100)).isEqualTo(4);
    assertThat(ledger.highestObserved(0, 1)).isEqualTo(3);
    assertThat(ledger.highestObserved(0, 2)).isEqualTo(1);
    assertThat(ledger.view(0, 1)).isEqualTo(1 + 3 + 1);
    // The same frame again shows nothing new.
    assertThat(ledger.observe(0, joined, 110)).isZero();

    // Only receiver 0 has seen them: no update has been observed by all others yet.
    assertThat(ledger.fanoutLatency().getTotalCount()).isZero();

    // Receiver 2 sees client 1 at count 2 only, then at 3 (separately), at t = 200 and 300.
    DocumentDelta upTo2 = Document.create("d").incrementGCounter(r1, "c1", 2);
    assertThat(ledger.observe(2, upTo2, 200)).isEqualTo(2);
    assertThat(ledger.observe(2, joined, 300)).isEqualTo(2); // client 1's count 3 and client 0's 1

    // Client 1's updates 1..3 are now observed by both others (0 at 100, 2 at 200/200/300).
    Histogram h = ledger.fanoutLatency();
    assertThat(h.getTotalCount()).isEqualTo(3);
    assertThat(h.getMinValue()).isEqualTo(h.lowestEquivalentValue(200 - 20));
    assertThat(h.getMaxValue()).isEqualTo(h.highestEquivalentValue(300 - 30));
    assertThat(h.valuesAreEquivalent(h.getValueAtPercentile(100), 270)).isTrue();
  }

  @Test
  void theLastReceiverDecidesEvenWhenItsFrameWasDecodedFirst() {
    ledger.sent(0, 1, 1_000);
    // Receiver 2 received at 5,000 but its thread got to the bookkeeping first.
    ledger.observe(2, 0, 1, 5_000);
    ledger.observe(1, 0, 1, 3_000);
    Histogram h = ledger.fanoutLatency();
    assertThat(h.getTotalCount()).isEqualTo(1);
    assertThat(h.valuesAreEquivalent(h.getMaxValue(), 4_000)).isTrue();
  }

  @Test
  void viewsAndExpectedObservationsFollowTheDocumentsMembers() {
    assertThat(ledger.expectedObservations()).isEqualTo(3 * 2 * 3);
    assertThat(ledger.expectedView(0)).isEqualTo(9);
    assertThat(ledger.view(1, 3)).isEqualTo(3);
    for (int sender : new int[] {0, 2}) {
      ledger.observe(1, sender, 3, 50);
    }
    assertThat(ledger.view(1, 3)).isEqualTo(9);
    // A count above K is capped: it cannot stand for updates never sent.
    assertThat(ledger.observe(0, 1, 7, 60)).isEqualTo(3);
  }

  @Test
  void otherDocumentsAndUnknownReplicasAreIgnored() {
    // 4 clients, 2 documents: 0 and 2 in document 0, 1 and 3 in document 1.
    ReplicaId[] ids = {ReplicaId.of(1), ReplicaId.of(2), ReplicaId.of(3), ReplicaId.of(4)};
    WorkloadLedger two =
        new WorkloadLedger(4, 2, 1, Map.of(ids[0], 0, ids[1], 1, ids[2], 2, ids[3], 3));
    DocumentDelta d =
        Document.create("x")
            .incrementGCounter(ids[1], "c1", 1)
            .join(Document.create("x").incrementGCounter(ReplicaId.of(99), "v", 1))
            .join(Document.create("x").incrementGCounter(ids[2], "c2", 1));
    assertThat(two.observe(0, d, 10)).isEqualTo(1); // only client 2, its fellow member
    assertThat(two.expectedObservations()).isEqualTo(4);
  }
}

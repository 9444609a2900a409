package dev.lattice.server.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.ReplicaId;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ReplicaOwnersTest {

  private static final ReplicaId R = ReplicaId.of(7);

  private final AtomicInteger storeCalls = new AtomicInteger();
  private final ReplicaOwners store = ReplicaOwners.inMemory();
  private final ReplicaOwners counted =
      (replica, subject) -> {
        storeCalls.incrementAndGet();
        return store.claim(replica, subject);
      };

  private static String owner(ReplicaOwners owners, String subject) {
    return owners.claim(R, subject).toCompletableFuture().join();
  }

  @Test
  void aRememberedOwnerAnswersWithoutTheStoreForItsOwnerAndForOthers() {
    ReplicaOwners owners = ReplicaOwners.remembering(counted, 10);

    assertThat(owner(owners, "alice")).isEqualTo("alice");
    assertThat(owner(owners, "alice")).isEqualTo("alice");
    assertThat(owner(owners, "mallory")).isEqualTo("alice");

    assertThat(storeCalls).hasValue(1);
  }

  @Test
  void aClaimLostToAnotherServerIsRememberedAsTheOtherOwner() {
    store.claim(R, "bob"); // claimed elsewhere, through the shared store
    ReplicaOwners owners = ReplicaOwners.remembering(counted, 10);

    assertThat(owner(owners, "alice")).isEqualTo("bob");
    assertThat(owner(owners, "bob")).isEqualTo("bob");
    assertThat(storeCalls).hasValue(1);
  }

  @Test
  void aFailedClaimIsNotRememberedSoTheNextHelloAsksAgain() {
    AtomicInteger calls = new AtomicInteger();
    ReplicaOwners flaky =
        (replica, subject) ->
            calls.incrementAndGet() == 1
                ? CompletableFuture.failedFuture(new IllegalStateException("store down"))
                : CompletableFuture.completedFuture(subject);
    ReplicaOwners owners = ReplicaOwners.remembering(flaky, 10);

    assertThat(owners.claim(R, "alice").toCompletableFuture()).isCompletedExceptionally();
    assertThat(owner(owners, "alice")).isEqualTo("alice");
    assertThat(calls).hasValue(2);
  }

  @Test
  void theBoundMustBePositive() {
    assertThatThrownBy(() -> ReplicaOwners.remembering(counted, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxEntries");
  }
}

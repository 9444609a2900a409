package dev.lattice.server.extension;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.server.spi.AuthResult;
import dev.lattice.server.spi.LatticeExtension;
import dev.lattice.server.spi.Principal;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link ExtensionRunner}: order, isolation, deadlines and the failure counter. */
class ExtensionRunnerTest {

  private static final ReplicaId REPLICA = ReplicaId.of(0xA);

  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private ExtensionRunner runner;

  @AfterEach
  void close() {
    if (runner != null) {
      runner.close();
    }
  }

  private ExtensionRunner runner(Duration timeout, LatticeExtension... extensions) {
    runner = new ExtensionRunner(List.of(extensions), timeout, registry);
    return runner;
  }

  private static LatticeExtension.Change change(String documentId, String field) {
    DocumentDelta delta = Document.create(documentId).incrementGCounter(REPLICA, field, 1);
    return new LatticeExtension.Change(
        documentId, delta, REPLICA, Optional.empty(), LatticeExtension.Source.CLIENT);
  }

  /** Records the changes it is told, as "extension:document:n". */
  private static LatticeExtension recorder(String name, BlockingQueue<String> seen) {
    return new LatticeExtension() {
      @Override
      public CompletionStage<Void> onChange(Change change) {
        seen.add(name + ":" + change.documentId() + ":" + String.join(",", change.fields()));
        return CompletableFuture.completedFuture(null);
      }
    };
  }

  private static String poll(BlockingQueue<String> q) throws InterruptedException {
    String s = q.poll(10, TimeUnit.SECONDS);
    assertThat(s).as("an event within 10 s").isNotNull();
    return s;
  }

  @Test
  void eachEventReachesEveryExtensionInOrderAndEventsOfADocumentStayInOrder() throws Exception {
    BlockingQueue<String> seen = new LinkedBlockingQueue<>();
    runner(Duration.ofSeconds(5), recorder("first", seen), recorder("second", seen));

    for (String field : List.of("a", "b", "c")) {
      runner.changed(change("d", field));
    }

    assertThat(List.of(poll(seen), poll(seen), poll(seen), poll(seen), poll(seen), poll(seen)))
        .containsExactly(
            "first:d:a", "second:d:a", "first:d:b", "second:d:b", "first:d:c", "second:d:c");
  }

  @Test
  void aThrowingAndATimedOutNotificationAreCountedAndTheNextExtensionStillHearsIt()
      throws Exception {
    BlockingQueue<String> seen = new LinkedBlockingQueue<>();
    LatticeExtension throwing =
        new LatticeExtension() {
          @Override
          public CompletionStage<Void> onChange(Change change) {
            throw new IllegalStateException("boom");
          }
        };
    LatticeExtension never =
        new LatticeExtension() {
          @Override
          public CompletionStage<Void> onChange(Change change) {
            return new CompletableFuture<>();
          }

          @Override
          public CompletionStage<Void> onUnloadDocument(UnloadDocument unload) {
            return null; // no stage at all
          }
        };
    runner(Duration.ofMillis(300), throwing, never, recorder("last", seen));

    runner.changed(change("d", "n"));
    runner.unloaded("d");

    assertThat(poll(seen)).isEqualTo("last:d:n");
    // The failures are counted before the next extension is called.
    assertThat(runner.failures("onChange")).isEqualTo(2);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (runner.failures("onUnloadDocument") < 1 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertThat(runner.failures("onUnloadDocument")).isEqualTo(1);
    assertThat(registry.counter("lattice.extension.failures", "hook", "onChange").count())
        .isEqualTo(2);
  }

  @Test
  void aFailedOrTimedOutConnectHookFailsTheConnect() {
    LatticeExtension failing =
        new LatticeExtension() {
          @Override
          public CompletionStage<Void> onConnect(Connect connect) {
            return connect.protocolVersion() == 1
                ? CompletableFuture.failedFuture(new IllegalStateException("closed today"))
                : new CompletableFuture<>();
          }
        };
    runner(Duration.ofMillis(300), failing);

    assertThatThrownBy(() -> runner.connecting("s-1", REPLICA, 1).toCompletableFuture().get())
        .isInstanceOf(ExecutionException.class)
        .hasRootCauseMessage("closed today");
    assertThatThrownBy(() -> runner.connecting("s-2", REPLICA, 2).toCompletableFuture().get())
        .isInstanceOf(ExecutionException.class)
        .hasRootCauseInstanceOf(java.util.concurrent.TimeoutException.class);
    assertThat(runner.failures("onConnect")).isEqualTo(2);
  }

  @Test
  void authenticationPassesThePrincipalAlongAndARefusalStopsTheChain() throws Exception {
    List<String> asked = new CopyOnWriteArrayList<>();
    LatticeExtension renaming =
        new LatticeExtension() {
          @Override
          public CompletionStage<AuthResult> onAuthenticate(Authenticate auth) {
            asked.add("renaming " + auth.principal().subject());
            return CompletableFuture.completedFuture(
                AuthResult.granted(Principal.of(auth.principal().subject() + "+")));
          }
        };
    LatticeExtension refusingBob =
        new LatticeExtension() {
          @Override
          public CompletionStage<AuthResult> onAuthenticate(Authenticate auth) {
            asked.add("refusing " + auth.principal().subject());
            return CompletableFuture.completedFuture(
                auth.token().equals(Optional.of("bob"))
                    ? AuthResult.refused("bob is away")
                    : AuthResult.granted(auth.principal()));
          }
        };
    LatticeExtension last =
        new LatticeExtension() {
          @Override
          public CompletionStage<AuthResult> onAuthenticate(Authenticate auth) {
            asked.add("last " + auth.principal().subject());
            return CompletableFuture.completedFuture(AuthResult.granted(auth.principal()));
          }
        };
    runner(Duration.ofSeconds(5), renaming, refusingBob, last);

    AuthResult alice =
        runner
            .authenticated("s-1", REPLICA, Optional.of("alice"), Principal.of("alice"))
            .toCompletableFuture()
            .get(10, TimeUnit.SECONDS);
    AuthResult bob =
        runner
            .authenticated("s-2", REPLICA, Optional.of("bob"), Principal.of("bob"))
            .toCompletableFuture()
            .get(10, TimeUnit.SECONDS);

    assertThat(alice).isEqualTo(AuthResult.granted(Principal.of("alice+")));
    assertThat(bob).isEqualTo(AuthResult.refused("bob is away"));
    assertThat(asked)
        .containsExactly(
            "renaming alice", "refusing alice+", "last alice+", "renaming bob", "refusing bob+");
  }

  @Test
  void loadCollectsEverySeedInOrderAndAFailureFailsTheLoad() throws Exception {
    LatticeExtension title =
        new LatticeExtension() {
          @Override
          public CompletionStage<Seed> onLoadDocument(LoadDocument load) {
            return CompletableFuture.completedFuture(
                load.documentId().equals("broken")
                    ? null
                    : Seed.of(e -> e.set("title", dev.lattice.crdt.Value.of("x"))));
          }
        };
    LatticeExtension none = new LatticeExtension() {};
    LatticeExtension failing =
        new LatticeExtension() {
          @Override
          public CompletionStage<Seed> onLoadDocument(LoadDocument load) {
            if (load.documentId().equals("down")) {
              throw new IllegalStateException("seed service down");
            }
            return CompletableFuture.completedFuture(Seed.of(e -> e.increment("n", 1)));
          }
        };
    runner(Duration.ofSeconds(5), title, none, failing);

    assertThat(runner.loading("doc", true).toCompletableFuture().get(10, TimeUnit.SECONDS))
        .hasSize(2);
    assertThat(runner.loading("broken", true).toCompletableFuture().get(10, TimeUnit.SECONDS))
        .hasSize(1); // a null seed is no seed
    assertThatThrownBy(() -> runner.loading("down", true).toCompletableFuture().get())
        .hasRootCauseMessage("seed service down");
    assertThat(runner.failures("onLoadDocument")).isEqualTo(1);
  }

  @Test
  void closeWaitsForQueuedNotificationsThenStopsExtensionsLastFirst() {
    List<String> calls = new CopyOnWriteArrayList<>();
    LatticeExtension a =
        new LatticeExtension() {
          @Override
          public CompletionStage<Void> onDisconnect(Disconnect disconnect) {
            calls.add("a " + disconnect.closeCode() + " " + disconnect.reason());
            return CompletableFuture.completedFuture(null);
          }

          @Override
          public void onStop() {
            calls.add("a stop");
          }
        };
    LatticeExtension b =
        new LatticeExtension() {
          @Override
          public void onStop() {
            calls.add("b stop");
          }
        };
    runner(Duration.ofSeconds(5), a, b);

    runner.disconnected("s-1", REPLICA, null, 4004, "idle");
    runner.close();
    runner.changed(change("d", "n")); // after close: dropped quietly

    assertThat(calls).containsExactly("a 4004 idle", "b stop", "a stop");
  }

  @Test
  void eventsBeyondTheBoundAreDroppedAndCountedNotQueued() throws Exception {
    CompletableFuture<Void> stuck = new CompletableFuture<>();
    BlockingQueue<String> seen = new LinkedBlockingQueue<>();
    LatticeExtension stalling =
        new LatticeExtension() {
          @Override
          public CompletionStage<Void> onChange(Change change) {
            return stuck;
          }
        };
    runner(Duration.ofMinutes(5), stalling, recorder("after", seen));

    LatticeExtension.Change change = change("d", "n");
    for (int i = 0; i < ExtensionRunner.MAX_PENDING_NOTIFICATIONS + 3; i++) {
      runner.changed(change);
    }

    assertThat(registry.counter("lattice.extension.dropped").count()).isEqualTo(3);
    stuck.complete(null);
    for (int i = 0; i < ExtensionRunner.MAX_PENDING_NOTIFICATIONS; i++) {
      poll(seen);
    }
    // Drained: the queue takes events again.
    runner.changed(change("d", "again"));
    String last;
    do {
      last = poll(seen);
    } while (!last.equals("after:d:again"));
    assertThat(registry.counter("lattice.extension.dropped").count()).isEqualTo(3);
  }
}

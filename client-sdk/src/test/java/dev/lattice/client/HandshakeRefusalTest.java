package dev.lattice.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.lattice.client.ConnectionStatus.State;
import dev.lattice.server.LatticeServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A WebSocket upgrade answered with an HTTP status is reported with that status, and statuses that
 * retrying cannot change stop the client with {@link State#FAILED} instead of a retry loop.
 */
class HandshakeRefusalTest {

  /** Waits for the first FAILED status and returns it. */
  private static ConnectionStatus awaitFailed(LatticeClient client) throws Exception {
    CompletableFuture<ConnectionStatus> failed = new CompletableFuture<>();
    try (Registration r =
        client.onConnectionState(
            s -> {
              if (s.state() == State.FAILED) {
                failed.complete(s);
              }
            })) {
      if (client.connectionState().state() == State.FAILED) {
        return client.connectionState();
      }
      return failed.get(10, TimeUnit.SECONDS);
    }
  }

  private static LatticeClient client(URI uri) {
    return LatticeClient.builder()
        .serverUri(uri)
        .backoff(Duration.ofMillis(10), Duration.ofMillis(50))
        .build();
  }

  @Test
  void aWrongPathFailsWith404AndStopsRetrying() throws Exception {
    try (LatticeServer server =
        LatticeServer.builder().bindAddress("127.0.0.1").port(0).inMemory(true).build().start()) {
      URI wrong = URI.create("ws://127.0.0.1:" + server.port() + "/v1/wrong");
      List<ConnectionStatus> seen = new CopyOnWriteArrayList<>();
      try (LatticeClient client = client(wrong)) {
        client.onConnectionState(seen::add);
        ConnectionStatus failed = awaitFailed(client);
        assertThat(failed.httpStatus()).hasValue(404);
        assertThat(failed.closeCode()).isEmpty();
        assertThat(failed.reason().orElseThrow())
            .contains("HTTP 404")
            .contains("/v1/wrong")
            .contains("not retrying");
        // Tried once, then stopped: no CONNECTING after the failure.
        int atFailure = seen.indexOf(failed);
        assertThat(seen.subList(atFailure, seen.size()))
            .extracting(ConnectionStatus::state)
            .containsOnly(State.FAILED);
      }
    }
  }

  @Test
  void refusedCredentialsStatusesFailWithTheirStatusAndTheQueryIsNotShown() throws Exception {
    for (int status : new int[] {401, 403}) {
      AtomicInteger requests = new AtomicInteger();
      HttpServer http =
          HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
      http.createContext(
          "/",
          exchange -> {
            requests.incrementAndGet();
            exchange.sendResponseHeaders(status, -1);
            exchange.close();
          });
      http.start();
      try (LatticeClient client =
          client(
              URI.create(
                  "ws://127.0.0.1:" + http.getAddress().getPort() + "/v1/sync?token=secret"))) {
        ConnectionStatus failed = awaitFailed(client);
        assertThat(failed.httpStatus()).hasValue(status);
        assertThat(failed.reason().orElseThrow())
            .contains("HTTP " + status)
            .contains("/v1/sync")
            .doesNotContain("secret");
        assertThat(requests.get()).isEqualTo(1);
      } finally {
        http.stop(0);
      }
    }
  }

  /**
   * A 503 with {@code Retry-After: 2} over a real socket: the transport hands the header to the
   * session, so the second attempt comes no sooner than 2 s after the first refusal, where the
   * backoff alone (at most 50 ms here) would have retried at once. Only a lower bound is asserted.
   */
  @Test
  void retryAfterOnA503DelaysTheNextUpgrade() throws Exception {
    List<Long> arrivals = new CopyOnWriteArrayList<>();
    CompletableFuture<Void> second = new CompletableFuture<>();
    HttpServer http =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    http.createContext(
        "/",
        exchange -> {
          arrivals.add(System.nanoTime());
          exchange.getResponseHeaders().add("Retry-After", "2");
          exchange.sendResponseHeaders(503, -1);
          exchange.close();
          if (arrivals.size() >= 2) {
            second.complete(null);
          }
        });
    http.start();
    try (LatticeClient client =
        client(URI.create("ws://127.0.0.1:" + http.getAddress().getPort() + "/v1/sync"))) {
      second.get(20, TimeUnit.SECONDS);
      long waitedMillis = TimeUnit.NANOSECONDS.toMillis(arrivals.get(1) - arrivals.get(0));
      assertThat(waitedMillis).isGreaterThanOrEqualTo(2_000);
      assertThat(client.connectionState().state()).isEqualTo(State.CONNECTING);
    } finally {
      http.stop(0);
    }
  }
}

package dev.lattice.examples;

import static dev.lattice.examples.EdtAwaits.call;
import static dev.lattice.examples.EdtAwaits.run;
import static dev.lattice.examples.EdtAwaits.until;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.client.LatticeClient;
import dev.lattice.client.LatticeDocument;
import dev.lattice.crdt.Value;
import dev.lattice.server.LatticeServer;
import java.awt.Color;
import java.awt.GraphicsEnvironment;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import javax.swing.SwingUtilities;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two board panels bound to two clients of one real server on 127.0.0.1, headless. */
class BoardPanelTest {

  private static final String DOC = "board-test";

  private final List<LatticeClient> clients = new ArrayList<>();
  private final List<BoardPanel> panels = new ArrayList<>();
  private LatticeServer server;

  @BeforeEach
  void startServer() {
    assertThat(GraphicsEnvironment.isHeadless()).as("tests run headless").isTrue();
    server =
        LatticeServer.builder().bindAddress("127.0.0.1").port(0).inMemory(true).build().start();
  }

  @AfterEach
  void closeAll() throws Exception {
    run(() -> panels.forEach(BoardPanel::unbind));
    clients.forEach(LatticeClient::close);
    if (server != null) {
      server.close();
    }
  }

  @Test
  void plusOnOneWindowShowsOnTheOtherAndMinusComesBack() throws Exception {
    Board a = board("window 1", server.uri());
    Board b = board("window 2", server.uri());

    run(() -> a.panel.plusButton().doClick());
    // Local edits show at once, before any round trip.
    assertThat(call(() -> a.panel.counterLabel().getText())).isEqualTo("1");
    awaitCounter(b, "1");

    run(
        () -> {
          b.panel.minusButton().doClick();
          b.panel.minusButton().doClick();
        });
    awaitCounter(a, "-1");
    assertThat(b.document.pnCounter(BoardPanel.COUNTER_FIELD).value()).isEqualTo(-1);
  }

  @Test
  void aTitleEnteredInOneWindowShowsInTheOther() throws Exception {
    Board a = board("window 1", server.uri());
    Board b = board("window 2", server.uri());

    run(
        () -> {
          a.panel.titleField().setText("Roadmap Q3");
          a.panel.titleField().postActionEvent(); // Enter
        });
    assertThat(a.document.register(BoardPanel.TITLE_FIELD).get())
        .isEqualTo(Optional.of(Value.of("Roadmap Q3")));
    until(
        b.client,
        b.document,
        () -> b.panel.titleField().getText().equals("Roadmap Q3"),
        () -> b.panel.titleField().getText(),
        "window 2's title field shows 'Roadmap Q3'");
  }

  @Test
  void pendingChangesDropToZeroOnceTheServerAcknowledges() throws Exception {
    Board a = board("window 1", server.uri());
    awaitStatus(a, "ONLINE");

    run(() -> a.panel.plusButton().doClick());
    // The panel's own flush waiter was registered by the click, before this one: both complete
    // on the EDT in that order, so when this one has, the label has been refreshed.
    a.document.flush().get(EdtAwaits.TIMEOUT_SECONDS, TimeUnit.SECONDS);
    assertThat(call(() -> a.panel.pendingLabel().getText())).isEqualTo("0 changes pending");
  }

  @Test
  void eachWindowSeesTheOtherInItsPresenceLine() throws Exception {
    Board a = board("window 1", server.uri());
    Board b = board("window 2", server.uri());

    until(
        a.client,
        a.document,
        () -> a.panel.presenceLabel().getText().equals("also here: window 2"),
        () -> a.panel.presenceLabel().getText(),
        "window 1 sees window 2");
    until(
        b.client,
        b.document,
        () -> b.panel.presenceLabel().getText().equals("also here: window 1"),
        () -> b.panel.presenceLabel().getText(),
        "window 2 sees window 1");
  }

  @Test
  void theStateLabelShowsOnlineThenReconnectingWithTheReasonWhenTheServerStops() throws Exception {
    Board a = board("window 1", server.uri());
    awaitStatus(a, "ONLINE");
    Color online = call(() -> a.panel.statusLabel().getForeground());
    assertThat(call(() -> a.panel.reasonLabel().getText())).isBlank();

    server.close();
    // The reason is read in the same check as the state: the next reconnect attempt may clear it.
    java.util.concurrent.atomic.AtomicReference<String> reason =
        new java.util.concurrent.atomic.AtomicReference<>();
    until(
        a.client,
        a.document,
        () -> {
          String state = a.panel.statusLabel().getText();
          String why = a.panel.reasonLabel().getText();
          boolean shown = (state.equals("CONNECTING") || state.equals("OFFLINE")) && !why.isBlank();
          if (shown) {
            reason.compareAndSet(null, why);
          }
          return shown;
        },
        () -> a.panel.statusLabel().getText() + " / " + a.panel.reasonLabel().getText(),
        "the state label shows CONNECTING or OFFLINE, and a reason");
    // The server said why it closed (1001, shutting down) or the reconnect said why it failed.
    assertThat(reason.get()).matches(".*(1001|1006).*");
    assertThat(call(() -> a.panel.statusLabel().getForeground())).isNotEqualTo(online);
  }

  @Test
  void editsMadeWhileTheEmbeddedServerIsStoppedArriveAfterItRestarts(@TempDir Path dir)
      throws Exception {
    try (EmbeddedServer embedded = new EmbeddedServer(dir.resolve("data"), 0)) {
      embedded.start();
      Board a = board("window 1", embedded.uri());
      Board b = board("window 2", embedded.uri());
      run(() -> a.panel.plusButton().doClick());
      awaitCounter(b, "1");

      embedded.stop();
      awaitStatus(a, "CONNECTING");
      run(
          () -> {
            a.panel.plusButton().doClick();
            a.panel.titleField().setText("written offline");
            a.panel.titleField().postActionEvent();
          });
      assertThat(call(() -> a.panel.counterLabel().getText())).isEqualTo("2");
      assertThat(call(() -> a.panel.pendingLabel().getText())).isEqualTo("2 changes pending");

      embedded.start(); // same port, same data directory
      awaitCounter(b, "2");
      until(
          b.client,
          b.document,
          () -> b.panel.titleField().getText().equals("written offline"),
          () -> b.panel.titleField().getText(),
          "window 2 shows the title written offline");
      a.document.flush().get(EdtAwaits.TIMEOUT_SECONDS, TimeUnit.SECONDS);
      assertThat(call(() -> a.panel.pendingLabel().getText())).isEqualTo("0 changes pending");
    }
  }

  @Test
  void aTagAddedInOneWindowShowsAsAChipInTheOtherWhoseClickRemovesIt() throws Exception {
    Board a = board("window 1", server.uri());
    Board b = board("window 2", server.uri());

    run(
        () -> {
          a.panel.tagField().setText("urgent");
          a.panel.addTagButton().doClick();
        });
    assertThat(call(() -> a.panel.chipTags())).containsExactly("urgent");
    assertThat(call(() -> a.panel.tagField().getText())).isEmpty();
    awaitChips(b, List.of("urgent"));

    run(() -> b.panel.chip("urgent").doClick());
    assertThat(call(() -> b.panel.chipTags())).isEmpty();
    awaitChips(a, List.of());
  }

  @Test
  void aTagRemovedInOneWindowWhileTheOtherAddsItOfflineStays(@TempDir Path dir) throws Exception {
    try (EmbeddedServer embedded = new EmbeddedServer(dir.resolve("data"), 0)) {
      embedded.start();
      Board a = board("window 1", embedded.uri());
      Board b = board("window 2", embedded.uri());
      run(
          () -> {
            a.panel.tagField().setText("x");
            a.panel.tagField().postActionEvent(); // Enter
          });
      awaitChips(b, List.of("x"));

      embedded.stop();
      awaitStatus(a, "CONNECTING");
      awaitStatus(b, "CONNECTING");
      // Concurrent and offline: window 1 removes x; window 2 adds x again, and y.
      run(
          () -> {
            a.panel.chip("x").doClick();
            b.panel.tagField().setText("x");
            b.panel.addTagButton().doClick();
            b.panel.tagField().setText("y");
            b.panel.addTagButton().doClick();
          });
      assertThat(call(() -> a.panel.chipTags())).isEmpty();
      assertThat(call(() -> b.panel.chipTags())).containsExactly("x", "y");

      embedded.start();
      // Add-wins: window 2's add of x was not seen by window 1's remove.
      awaitChips(a, List.of("x", "y"));
      awaitChips(b, List.of("x", "y"));
    }
  }

  @Test
  void aCounterOfAnotherTypeIsReportedAndNothingIsApplied() throws Exception {
    // Another program made "counter" a grow-only counter: the board's PN-Counter edits must be
    // refused with the reason shown, not applied, and nothing queued.
    LatticeClient other = client(server.uri());
    LatticeDocument otherDoc = other.open(DOC);
    otherDoc.counter(BoardPanel.COUNTER_FIELD).increment(5);
    otherDoc.flush().get(EdtAwaits.TIMEOUT_SECONDS, TimeUnit.SECONDS);
    Board a = board("window 1", server.uri());
    // The SDK reads any counter's value through a PN-Counter handle; only writes check the type.
    awaitCounter(a, "5");

    run(() -> a.panel.plusButton().doClick());
    assertThat(call(() -> a.panel.messageLabel().getText()))
        .contains(BoardPanel.COUNTER_FIELD)
        .containsIgnoringCase("type");
    assertThat(call(() -> a.panel.pendingLabel().getText())).isEqualTo("0 changes pending");
    assertThat(call(() -> a.panel.counterLabel().getText())).isEqualTo("5");
    assertThat(a.document.counter(BoardPanel.COUNTER_FIELD).value()).isEqualTo(5);
  }

  @Test
  void buildingAPanelOffTheEventDispatchThreadIsRefused() {
    LatticeClient client = client(server.uri());
    LatticeDocument doc = client.open(DOC);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> new BoardPanel("x", client, doc))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("event dispatch thread");
  }

  // ------------------------------------------------------------------ helpers

  private record Board(LatticeClient client, LatticeDocument document, BoardPanel panel) {}

  private Board board(String name, URI uri) throws Exception {
    LatticeClient client = client(uri);
    LatticeDocument document = client.open(DOC);
    BoardPanel panel = call(() -> new BoardPanel(name, client, document));
    panels.add(panel);
    return new Board(client, document, panel);
  }

  private LatticeClient client(URI uri) {
    LatticeClient client =
        LatticeClient.builder()
            .serverUri(uri)
            .callbackExecutor(SwingUtilities::invokeLater)
            // Reconnect quickly after a restart: the test waits on it.
            .backoff(Duration.ofMillis(20), Duration.ofMillis(300))
            .build();
    clients.add(client);
    return client;
  }

  private static void awaitCounter(Board board, String expected) throws Exception {
    until(
        board.client,
        board.document,
        () -> board.panel.counterLabel().getText().equals(expected),
        () -> board.panel.counterLabel().getText(),
        board.panel.getName() + "'s counter shows " + expected);
  }

  private static void awaitChips(Board board, List<String> expected) throws Exception {
    until(
        board.client,
        board.document,
        () -> board.panel.chipTags().equals(expected),
        () -> board.panel.chipTags().toString(),
        board.panel.getName() + "'s tag chips are " + expected);
  }

  private static void awaitStatus(Board board, String prefix) throws Exception {
    until(
        board.client,
        board.document,
        () -> board.panel.statusLabel().getText().startsWith(prefix),
        () -> board.panel.statusLabel().getText(),
        board.panel.getName() + "'s state label starts with " + prefix);
  }
}

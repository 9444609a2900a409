package dev.lattice.examples;

import dev.lattice.client.LatticeClient;
import java.awt.BorderLayout;
import java.awt.EventQueue;
import java.awt.GraphicsEnvironment;
import java.awt.event.WindowAdapter;
import java.awt.event.WindowEvent;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import javax.swing.JButton;
import javax.swing.JFrame;
import javax.swing.JLabel;
import javax.swing.JPanel;
import javax.swing.SwingUtilities;
import javax.swing.WindowConstants;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The shared board: a Swing program in which several windows share a counter and a title through
 * Lattice.
 *
 * <p>With no option it starts a durable embedded server on 127.0.0.1 (in a temporary directory
 * deleted on exit) and opens two windows, each with its own client, replica and state directory;
 * the first window can stop and start the server to show offline edits and the catch-up after
 * reconnecting. With {@code --server ws://host:port/v1/sync} it opens one window on that server, so
 * several processes can share one board.
 *
 * <p>Not meant to be embedded: it owns the process (it exits when a window closes).
 */
public final class SharedBoardApp {

  private static final Logger LOG = LoggerFactory.getLogger(SharedBoardApp.class);

  static final String DEFAULT_DOCUMENT = "shared-board";

  /** Short enough that "Start server" is followed by a reconnect within about two seconds. */
  private static final Duration BACKOFF_BASE = Duration.ofMillis(200);

  private static final Duration BACKOFF_CAP = Duration.ofSeconds(2);

  private final List<LatticeClient> clients = new ArrayList<>();
  private final List<JFrame> frames = new ArrayList<>();
  private final AtomicBoolean shutDown = new AtomicBoolean();
  private EmbeddedServer server;
  private Path tempDirectory;

  private SharedBoardApp() {}

  /** Runs the program; {@code --help} lists the options. */
  public static void main(String[] args) {
    Options options;
    try {
      options = Options.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("shared board: " + e.getMessage());
      Options.usage(System.err);
      System.exit(2);
      return;
    }
    if (options.help()) {
      Options.usage(System.out);
      return;
    }
    if (GraphicsEnvironment.isHeadless()) {
      // Said before anything starts, instead of a HeadlessException from the first JFrame.
      System.err.println(
          "shared board: no display (headless JVM or no DISPLAY set); on a machine without one,"
              + " try: xvfb-run -a java -jar examples/target/lattice-examples.jar");
      System.exit(1);
      return;
    }
    SharedBoardApp app = new SharedBoardApp();
    Runtime.getRuntime().addShutdownHook(new Thread(app::shutDown, "shared-board-shutdown"));
    try {
      if (options.server() == null) {
        app.startEmbedded(options.document());
      } else {
        app.startJoined(options.server(), options.document(), options.name());
      }
    } catch (RuntimeException | IOException e) {
      LOG.error("the shared board could not start: {}", e.getMessage(), e);
      app.shutDown();
      System.exit(1);
    }
  }

  private void startEmbedded(String documentId) throws IOException {
    tempDirectory = Files.createTempDirectory("lattice-board-");
    server = new EmbeddedServer(tempDirectory.resolve("server-data"), 0);
    server.start();
    LOG.info("embedded server at {}, data in {}", server.uri(), tempDirectory);
    List<LatticeClient> mine = new ArrayList<>();
    for (int i = 1; i <= 2; i++) {
      mine.add(client(server.uri(), tempDirectory.resolve("window-" + i)));
    }
    onEdt(
        () -> {
          BoardPanel one = panel("window 1", mine.get(0), documentId);
          addServerToggle(one);
          JFrame first = show(one, 0);
          show(panel("window 2", mine.get(1), documentId), first.getWidth() + 16);
        });
  }

  private void startJoined(URI serverUri, String documentId, String name) {
    LatticeClient client = client(serverUri, null);
    LOG.info("joining {} as {}", serverUri, name);
    // One window per process: two processes placing theirs at one spot would hide each other.
    onEdt(() -> show(panel(name, client, documentId), BY_PLATFORM));
  }

  private LatticeClient client(URI serverUri, Path stateDirectory) {
    LatticeClient client =
        LatticeClient.builder()
            .serverUri(serverUri)
            .stateDirectory(stateDirectory)
            .callbackExecutor(SwingUtilities::invokeLater)
            .backoff(BACKOFF_BASE, BACKOFF_CAP)
            .clientName("lattice-shared-board")
            .build();
    synchronized (clients) {
      clients.add(client);
    }
    return client;
  }

  private static BoardPanel panel(String name, LatticeClient client, String documentId) {
    return new BoardPanel(name, client, client.open(documentId));
  }

  /** {@link #show}'s x that lets the window system place the window. */
  private static final int BY_PLATFORM = -1;

  /**
   * A window showing {@code panel}, {@code x} pixels right of the first one, or where the window
   * system puts a new window ({@link #BY_PLATFORM}).
   */
  private JFrame show(BoardPanel panel, int x) {
    JFrame frame = new JFrame("Lattice shared board: " + panel.getName());
    frame.setDefaultCloseOperation(WindowConstants.DO_NOTHING_ON_CLOSE);
    frame.addWindowListener(
        new WindowAdapter() {
          @Override
          public void windowClosing(WindowEvent e) {
            exitSoon();
          }
        });
    frame.getContentPane().add(panel);
    frame.pack();
    if (x == BY_PLATFORM) {
      frame.setLocationByPlatform(true);
    } else {
      frame.setLocation(40 + x, 40);
    }
    frame.setVisible(true);
    frames.add(frame);
    return frame;
  }

  /** The first window's "Stop server" / "Start server" button, with its own error line. */
  private void addServerToggle(BoardPanel panel) {
    JButton toggle = new JButton("Stop server");
    JLabel serverState = new JLabel("server running at " + server.uri());
    toggle.addActionListener(
        e -> {
          boolean stopping = server.isRunning();
          toggle.setEnabled(false);
          serverState.setText(stopping ? "stopping the server..." : "starting the server...");
          // Closing waits for the connections to end: never on the EDT.
          Thread worker =
              new Thread(
                  () -> {
                    String outcome;
                    try {
                      if (stopping) {
                        server.stop();
                        outcome = "server stopped: edits wait in the outbox";
                      } else {
                        server.start();
                        outcome = "server running at " + server.uri();
                      }
                    } catch (RuntimeException failure) {
                      LOG.warn("server toggle failed", failure);
                      outcome = "failed: " + failure.getMessage();
                    }
                    String shown = outcome;
                    SwingUtilities.invokeLater(
                        () -> {
                          toggle.setText(server.isRunning() ? "Stop server" : "Start server");
                          serverState.setText(shown);
                          toggle.setEnabled(true);
                        });
                  },
                  "shared-board-server-toggle");
          worker.setDaemon(true);
          worker.start();
        });
    // BorderLayout, not FlowLayout: a longer message is cut short instead of wrapping out of sight.
    JPanel row = new JPanel(new BorderLayout(8, 0));
    row.add(toggle, BorderLayout.WEST);
    row.add(serverState, BorderLayout.CENTER);
    panel.addControl(row);
  }

  private void exitSoon() {
    for (JFrame frame : frames) {
      frame.setVisible(false);
    }
    // Closing clients and the server blocks for a moment: off the EDT, then leave.
    Thread exit =
        new Thread(
            () -> {
              shutDown();
              System.exit(0);
            },
            "shared-board-exit");
    exit.start();
  }

  /** Closes the clients, then the server, then deletes the temporary directory. Idempotent. */
  private void shutDown() {
    if (!shutDown.compareAndSet(false, true)) {
      return;
    }
    List<LatticeClient> toClose;
    synchronized (clients) {
      toClose = List.copyOf(clients);
    }
    for (LatticeClient client : toClose) {
      client.close();
    }
    if (server != null) {
      try {
        server.close();
      } catch (RuntimeException e) {
        LOG.warn("the embedded server did not close cleanly", e);
      }
    }
    if (tempDirectory != null) {
      deleteTree(tempDirectory);
    }
  }

  static void deleteTree(Path root) {
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException | UncheckedIOException e) {
      LOG.warn("could not delete {}: {}", root, e.getMessage());
    }
  }

  private static void onEdt(Runnable task) {
    try {
      EventQueue.invokeAndWait(task);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while opening the windows", e);
    } catch (java.lang.reflect.InvocationTargetException e) {
      Throwable cause = e.getCause();
      throw cause instanceof RuntimeException r
          ? r
          : new IllegalStateException("could not open the windows", cause);
    }
  }

  /**
   * The command line.
   *
   * @param server the server to join; null to start an embedded one and open two windows
   * @param document the board's document id
   * @param name the window's name shown to the others (joined mode)
   * @param help whether to print the usage and stop
   */
  record Options(URI server, String document, String name, boolean help) {

    static Options parse(String[] args) {
      URI server = null;
      String document = DEFAULT_DOCUMENT;
      String name = "process " + ProcessHandle.current().pid();
      boolean help = false;
      for (int i = 0; i < args.length; i++) {
        String arg = args[i];
        switch (arg) {
          case "--help", "-h" -> help = true;
          case "--server" -> server = serverUri(value(args, ++i, arg));
          case "--document" -> document = value(args, ++i, arg);
          case "--name" -> name = value(args, ++i, arg);
          default -> throw new IllegalArgumentException("unknown option '" + arg + "'");
        }
      }
      return new Options(server, document, name, help);
    }

    private static String value(String[] args, int i, String option) {
      if (i >= args.length || args[i].isBlank()) {
        throw new IllegalArgumentException(option + " needs a value");
      }
      return args[i];
    }

    private static URI serverUri(String text) {
      URI uri;
      try {
        uri = URI.create(text);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--server: not a URI: '" + text + "'");
      }
      if (!"ws".equalsIgnoreCase(uri.getScheme()) && !"wss".equalsIgnoreCase(uri.getScheme())) {
        throw new IllegalArgumentException(
            "--server must be a ws:// or wss:// URI such as ws://localhost:7070/v1/sync, was '"
                + text
                + "'");
      }
      return uri;
    }

    static void usage(PrintStream out) {
      out.println(
          """
          Usage: java -jar lattice-examples.jar [--server ws://host:port/v1/sync] [--name NAME]
                                                [--document ID]
            (no --server)  start an embedded server on 127.0.0.1 and open two windows
            --server URI   join that server and open one window (run it in several processes)
            --name NAME    this window's name, shown to the others (joined mode; default: the pid)
            --document ID  the board's document id (default: shared-board)\
          """);
    }
  }
}

package dev.lattice.examples;

import dev.lattice.client.ChangeEvent;
import dev.lattice.client.ConnectionStatus;
import dev.lattice.client.LatticeClient;
import dev.lattice.client.LatticeDocument;
import dev.lattice.client.PNCounterField;
import dev.lattice.client.RegisterField;
import dev.lattice.client.Registration;
import dev.lattice.client.SetField;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import java.awt.Color;
import java.awt.FlowLayout;
import java.awt.Font;
import java.awt.GridBagConstraints;
import java.awt.GridBagLayout;
import java.awt.Insets;
import java.awt.event.FocusAdapter;
import java.awt.event.FocusEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeSet;
import javax.swing.BorderFactory;
import javax.swing.JButton;
import javax.swing.JComponent;
import javax.swing.JLabel;
import javax.swing.JPanel;
import javax.swing.JTextField;
import javax.swing.SwingConstants;
import javax.swing.SwingUtilities;

/**
 * One view of the shared board: a PN-Counter with +1 / -1 buttons, a title held in an LWW-Register,
 * tags held in an OR-Set (chips that remove their tag when clicked, and a field to add one), the
 * client's connection state, its pending (unacknowledged) changes and who else has the board open.
 * Everything it shows comes from the bound {@link LatticeDocument} and {@link LatticeClient}; it
 * never caches a value the document could contradict.
 *
 * <p>The client must be built with {@code callbackExecutor(SwingUtilities::invokeLater)}, so that
 * every listener this panel registers runs on the event dispatch thread. Not thread-safe, like all
 * Swing components: create it, use it and {@link #unbind()} it on the event dispatch thread.
 */
public final class BoardPanel extends JPanel {

  /** The PN-Counter field every view increments and decrements. */
  public static final String COUNTER_FIELD = "counter";

  /** The LWW-Register field holding the title, a string. */
  public static final String TITLE_FIELD = "title";

  /** The OR-Set field of the board's tags, strings: a concurrent add beats a remove. */
  public static final String TAGS_FIELD = "tags";

  /** The presence entry carrying a view's display name. */
  static final Value PRESENCE_NAME = Value.of("name");

  private static final Color ONLINE = new Color(0x1B7F3B);
  private static final Color CONNECTING = new Color(0xB36B00);
  private static final Color OFFLINE = new Color(0xB00020);

  private final LatticeClient client;
  private final LatticeDocument document;
  private final PNCounterField counter;
  private final RegisterField title;
  private final SetField tags;
  private final List<Registration> registrations = new ArrayList<>();

  private final JLabel counterLabel = new JLabel("0", SwingConstants.CENTER);
  private final JButton plusButton = new JButton("+1");
  private final JButton minusButton = new JButton("-1");
  private final JTextField titleField = new JTextField(24);
  private final JLabel statusLabel = new JLabel();
  private final JLabel reasonLabel = new JLabel(" ");
  private final JLabel pendingLabel = new JLabel();
  private final JLabel presenceLabel = new JLabel();
  private final JLabel messageLabel = new JLabel(" ");
  private final JTextField tagField = new JTextField(12);
  private final JButton addTagButton = new JButton("Add tag");
  private final JPanel tagChips = new JPanel(new FlowLayout(FlowLayout.LEFT, 4, 0));

  /** The title text last put into the field from the register or committed from it. */
  private String shownTitle = "";

  /** Rows taken by {@link #addControl}. */
  private int controls;

  /**
   * Binds a new panel to {@code document} of {@code client}, announcing {@code name} as this view's
   * presence on the document.
   *
   * @throws IllegalStateException if not called on the event dispatch thread
   */
  public BoardPanel(String name, LatticeClient client, LatticeDocument document) {
    super(new GridBagLayout());
    requireEdt();
    this.client = Objects.requireNonNull(client, "client");
    this.document = Objects.requireNonNull(document, "document");
    Objects.requireNonNull(name, "name");
    this.counter = document.pnCounter(COUNTER_FIELD);
    this.title = document.register(TITLE_FIELD);
    this.tags = document.set(TAGS_FIELD);
    setName(name);
    layOut(name);

    plusButton.addActionListener(e -> edit(counter::increment));
    minusButton.addActionListener(e -> edit(counter::decrement));
    titleField.addActionListener(e -> commitTitle());
    addTagButton.addActionListener(e -> addTag());
    tagField.addActionListener(e -> addTag());
    titleField.addFocusListener(
        new FocusAdapter() {
          @Override
          public void focusLost(FocusEvent e) {
            commitTitle();
          }
        });

    registrations.add(document.onChange(this::changed));
    registrations.add(client.onConnectionState(this::showStatus));
    registrations.add(document.onPresence(e -> showPresence()));
    registrations.add(
        document.onRejected(
            e -> {
              showMessage("the server refused a change: " + e.getMessage());
              showPending();
            }));
    document.setPresence(Value.map(Map.of(PRESENCE_NAME, Value.of(name))));

    showCounter();
    showTitleFromRegister();
    showTags();
    showStatus(client.connectionState());
    showPending();
    showPresence();
  }

  /**
   * Stops following the document and the client (the client itself stays open). Idempotent.
   *
   * @throws IllegalStateException if not called on the event dispatch thread
   */
  public void unbind() {
    requireEdt();
    for (Registration r : registrations) {
      r.close();
    }
    registrations.clear();
  }

  // ------------------------------------------------------------------ for tests

  JButton plusButton() {
    return plusButton;
  }

  JButton minusButton() {
    return minusButton;
  }

  JTextField titleField() {
    return titleField;
  }

  JLabel counterLabel() {
    return counterLabel;
  }

  JLabel statusLabel() {
    return statusLabel;
  }

  JLabel reasonLabel() {
    return reasonLabel;
  }

  JLabel pendingLabel() {
    return pendingLabel;
  }

  JLabel presenceLabel() {
    return presenceLabel;
  }

  JLabel messageLabel() {
    return messageLabel;
  }

  JTextField tagField() {
    return tagField;
  }

  JButton addTagButton() {
    return addTagButton;
  }

  /** The tags shown as chips, in order. */
  List<String> chipTags() {
    List<String> out = new ArrayList<>();
    for (java.awt.Component c : tagChips.getComponents()) {
      out.add(c.getName());
    }
    return out;
  }

  /** The chip of {@code tag}: clicking it removes the tag; null if not shown. */
  JButton chip(String tag) {
    for (java.awt.Component c : tagChips.getComponents()) {
      if (tag.equals(c.getName())) {
        return (JButton) c;
      }
    }
    return null;
  }

  // ------------------------------------------------------------------ behaviour

  /** Applies {@code change}; false, with the reason shown, if it was refused (nothing applied). */
  private boolean edit(Runnable change) {
    try {
      change.run();
      showMessage(" ");
    } catch (RuntimeException e) {
      // A field of another type, a title too large for a frame, a closed client: say why.
      showMessage(e.getMessage());
      return false;
    }
    showPending();
    // No event marks an acknowledgement: the flush completing (on the EDT) is the moment the
    // count drops. It waits while offline and completes after the reconnect's catch-up.
    document.flush().whenComplete((ok, failure) -> showPending());
    return true;
  }

  private void commitTitle() {
    String text = titleField.getText();
    if (text.equals(currentTitle())) {
      shownTitle = text;
      return;
    }
    if (edit(() -> title.set(Value.of(text)))) {
      shownTitle = text;
    }
    // Refused: the text stays in the field, next to the reason, for the user to fix.
  }

  private void addTag() {
    String text = tagField.getText().strip();
    if (text.isEmpty()) {
      return;
    }
    if (edit(() -> tags.add(Value.of(text)))) {
      tagField.setText("");
    }
  }

  private void changed(ChangeEvent event) {
    if (event.fields().contains(TAGS_FIELD)) {
      // Rebuilt whole from the set: the event's FieldChange says which tags came and went, but
      // the set itself is the one truth the chips must match.
      showTags();
    }
    if (event.fields().contains(COUNTER_FIELD)) {
      showCounter();
    }
    if (event.fields().contains(TITLE_FIELD)) {
      showTitleFromRegister();
    }
    showPending();
  }

  private void showCounter() {
    try {
      counterLabel.setText(Long.toString(counter.value()));
    } catch (RuntimeException e) {
      counterLabel.setText("?");
      showMessage(e.getMessage());
    }
  }

  private void showTags() {
    List<String> shown = new ArrayList<>();
    try {
      for (Value v : tags.elements()) {
        shown.add(text(v));
      }
    } catch (RuntimeException e) {
      showMessage(e.getMessage());
    }
    if (shown.equals(chipTags())) {
      return;
    }
    tagChips.removeAll();
    for (String tag : shown) {
      JButton chip = new JButton(tag + " \u00d7");
      chip.setName(tag);
      chip.setToolTipText("Remove the tag '" + tag + "' (a concurrent add elsewhere keeps it)");
      chip.addActionListener(e -> edit(() -> tags.remove(Value.of(tag))));
      tagChips.add(chip);
    }
    tagChips.revalidate();
    tagChips.repaint();
  }

  private void showTitleFromRegister() {
    if (isTyping()) {
      // The user's text wins locally until Enter or focus loss commits it (a later write).
      return;
    }
    String current = currentTitle();
    shownTitle = current;
    if (!titleField.getText().equals(current)) {
      titleField.setText(current);
    }
  }

  /** True while the field has focus and holds text that was neither shown nor committed. */
  boolean isTyping() {
    return titleField.isFocusOwner() && !titleField.getText().equals(shownTitle);
  }

  private String currentTitle() {
    try {
      Optional<Value> value = title.get();
      return value.map(BoardPanel::text).orElse("");
    } catch (RuntimeException e) {
      showMessage(e.getMessage());
      return "";
    }
  }

  private void showStatus(ConnectionStatus status) {
    statusLabel.setText(status.state().name());
    // The reason can be long (a close code and an exception): its own line, whole in the tooltip.
    String reason =
        status.state() == ConnectionStatus.State.ONLINE ? "" : status.reason().orElse("");
    reasonLabel.setText(reason.isEmpty() ? " " : reason);
    reasonLabel.setToolTipText(reason.isEmpty() ? null : reason);
    statusLabel.setForeground(
        switch (status.state()) {
          case ONLINE -> ONLINE;
          case CONNECTING -> CONNECTING;
          case OFFLINE, FAILED -> OFFLINE;
        });
    showPending();
  }

  private void showPending() {
    int pending = document.pendingChanges();
    pendingLabel.setText(pending == 1 ? "1 change pending" : pending + " changes pending");
  }

  private void showPresence() {
    TreeSet<String> names = new TreeSet<>();
    for (Map.Entry<ReplicaId, Value> e : document.presences().entrySet()) {
      names.add(nameOf(e.getKey(), e.getValue()));
    }
    presenceLabel.setText(
        names.isEmpty() ? "nobody else here" : "also here: " + String.join(", ", names));
  }

  private void showMessage(String message) {
    messageLabel.setText(message == null || message.isEmpty() ? " " : message);
  }

  private static String nameOf(ReplicaId replica, Value presence) {
    if (presence instanceof Value.MapValue map
        && map.entries().get(PRESENCE_NAME) instanceof Value.StringValue name) {
      return name.value();
    }
    return replica.toString();
  }

  private static String text(Value value) {
    return value instanceof Value.StringValue s ? s.value() : value.toString();
  }

  private static void requireEdt() {
    if (!SwingUtilities.isEventDispatchThread()) {
      throw new IllegalStateException("BoardPanel must be used on the event dispatch thread");
    }
  }

  // ------------------------------------------------------------------ layout

  private void layOut(String name) {
    setBorder(BorderFactory.createEmptyBorder(12, 12, 12, 12));
    counterLabel.setFont(counterLabel.getFont().deriveFont(Font.BOLD, 40f));
    statusLabel.setFont(statusLabel.getFont().deriveFont(Font.BOLD));
    messageLabel.setForeground(OFFLINE);
    reasonLabel.setFont(reasonLabel.getFont().deriveFont(Font.PLAIN, 11f));
    reasonLabel.setForeground(Color.DARK_GRAY);
    titleField.setToolTipText("Enter or leaving the field shares the title");

    JLabel heading = new JLabel(name);
    heading.setFont(heading.getFont().deriveFont(Font.BOLD, 16f));
    add(heading, cell(0, 0, 3));

    add(new JLabel("Title"), cell(0, 1, 1));
    add(titleField, cell(1, 1, 2));

    add(new JLabel("Counter"), cell(0, 2, 1));
    add(counterLabel, cell(1, 2, 2));
    JPanel buttons = new JPanel();
    buttons.add(minusButton);
    buttons.add(plusButton);
    add(buttons, cell(1, 3, 2));

    add(new JLabel("Tags"), cell(0, 4, 1));
    add(tagChips, cell(1, 4, 2));
    JPanel addTag = new JPanel(new FlowLayout(FlowLayout.LEFT, 4, 0));
    addTag.add(tagField);
    addTag.add(addTagButton);
    add(addTag, cell(1, 5, 2));

    add(new JLabel("Connection"), cell(0, 6, 1));
    add(statusLabel, cell(1, 6, 2));
    add(reasonLabel, cell(1, 7, 2));
    add(new JLabel("Outbox"), cell(0, 8, 1));
    add(pendingLabel, cell(1, 8, 2));
    add(new JLabel("Presence"), cell(0, 9, 1));
    add(presenceLabel, cell(1, 9, 2));
    add(messageLabel, cell(0, 10, 3));
  }

  private static GridBagConstraints cell(int x, int y, int width) {
    GridBagConstraints c = new GridBagConstraints();
    c.gridx = x;
    c.gridy = y;
    c.gridwidth = width;
    c.insets = new Insets(4, 4, 4, 4);
    c.anchor = GridBagConstraints.WEST;
    c.fill = x == 0 ? GridBagConstraints.NONE : GridBagConstraints.HORIZONTAL;
    c.weightx = x == 0 ? 0 : 1;
    return c;
  }

  /** Adds {@code control} (such as a server toggle) under the board. */
  public void addControl(JComponent control) {
    requireEdt();
    GridBagConstraints c = cell(0, 11 + controls++, 3);
    add(control, c);
    revalidate();
  }
}

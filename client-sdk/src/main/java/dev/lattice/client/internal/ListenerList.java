package dev.lattice.client.internal;

import dev.lattice.client.Registration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Registered listeners of one kind. Thread-safe (copy on write: listeners change rarely, events are
 * frequent).
 */
public final class ListenerList<E> {

  private final CopyOnWriteArrayList<Consumer<? super E>> listeners = new CopyOnWriteArrayList<>();

  public Registration add(Consumer<? super E> listener) {
    Objects.requireNonNull(listener, "listener");
    // A wrapper per registration, so that registering one lambda twice gives two registrations.
    Consumer<? super E> entry = listener::accept;
    listeners.add(entry);
    return () -> listeners.remove(entry);
  }

  public List<Consumer<? super E>> snapshot() {
    return listeners;
  }
}

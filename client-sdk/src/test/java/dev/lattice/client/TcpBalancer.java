package dev.lattice.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP load balancer for tests, as a team would put in front of several servers: each accepted
 * connection goes to the next backend in turn, skipping backends that refuse it (a dead server),
 * and its bytes are copied both ways until either side closes. Clients point at {@link #uri} and
 * land on a live server whenever they reconnect.
 *
 * <p>Two threads per connection; for the handful of connections of a test. Thread-safe.
 */
final class TcpBalancer implements AutoCloseable {

  private final ServerSocket listener;
  private final List<Integer> backends;
  private final AtomicInteger next = new AtomicInteger();
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private final Thread acceptor;
  private volatile boolean closed;

  /** Listens on an ephemeral loopback port, balancing over the loopback {@code backendPorts}. */
  TcpBalancer(List<Integer> backendPorts) throws IOException {
    this.backends = List.copyOf(backendPorts);
    this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    this.acceptor = new Thread(this::acceptLoop, "balancer-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** The sync endpoint behind the balancer. */
  URI uri() {
    return URI.create("ws://127.0.0.1:" + listener.getLocalPort() + "/v1/sync");
  }

  private void acceptLoop() {
    while (!closed) {
      Socket client;
      try {
        client = listener.accept();
      } catch (IOException e) {
        return; // closed
      }
      Socket backend = connectToALiveBackend();
      if (backend == null) {
        closeQuietly(client);
        continue;
      }
      open.add(client);
      open.add(backend);
      pipe(client, backend);
      pipe(backend, client);
    }
  }

  private Socket connectToALiveBackend() {
    for (int tried = 0; tried < backends.size(); tried++) {
      int port = backends.get(Math.floorMod(next.getAndIncrement(), backends.size()));
      Socket s = new Socket();
      try {
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 2_000);
        s.setTcpNoDelay(true);
        return s;
      } catch (IOException refused) {
        closeQuietly(s);
      }
    }
    return null;
  }

  private void pipe(Socket from, Socket to) {
    Thread t =
        new Thread(
            () -> {
              byte[] buffer = new byte[16 * 1024];
              try (InputStream in = from.getInputStream();
                  OutputStream out = to.getOutputStream()) {
                for (int n; (n = in.read(buffer)) != -1; ) {
                  out.write(buffer, 0, n);
                }
              } catch (IOException e) {
                // One side went away: end both, as a balancer does.
              } finally {
                closeQuietly(from);
                closeQuietly(to);
                open.remove(from);
                open.remove(to);
              }
            },
            "balancer-pipe");
    t.setDaemon(true);
    t.start();
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // closing anyway
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    listener.close();
    for (Socket s : open) {
      closeQuietly(s);
    }
  }
}

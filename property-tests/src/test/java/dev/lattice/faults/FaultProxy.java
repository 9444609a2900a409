package dev.lattice.faults;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP proxy on 127.0.0.1 between one client and the server, with faults: a delay on every chunk
 * forwarded, a pause (nothing forwarded either way, as a frozen network; connections stay open),
 * and a cut (every open connection reset at once). The target port can change, for a server that
 * restarts on another port; new connections go to the new one.
 *
 * <p>Thread-safe: faults may be set from any thread. Each connection uses two daemon threads.
 */
final class FaultProxy implements AutoCloseable {

  private final ServerSocket listener;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private final Object gate = new Object();
  private volatile int targetPort;
  private volatile long delayMillis;
  private volatile boolean paused;
  private volatile boolean closed;

  FaultProxy(int targetPort) throws IOException {
    this.targetPort = targetPort;
    listener = new ServerSocket();
    listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    Thread acceptor = new Thread(this::accept, "fault-proxy-accept-" + listener.getLocalPort());
    acceptor.setDaemon(true);
    acceptor.start();
  }

  int port() {
    return listener.getLocalPort();
  }

  void retarget(int port) {
    targetPort = port;
  }

  void delay(long millis) {
    delayMillis = millis;
  }

  /** Stops forwarding (true) or resumes (false). */
  void pause(boolean on) {
    synchronized (gate) {
      paused = on;
      gate.notifyAll();
    }
  }

  /** Resets every open connection; the proxy keeps accepting new ones. */
  int cut() {
    int n = 0;
    for (Socket s : open) {
      closeQuietly(s);
      n++;
    }
    open.clear();
    return n;
  }

  private void accept() {
    while (!closed) {
      Socket client;
      try {
        client = listener.accept();
      } catch (IOException e) {
        return;
      }
      Socket server = new Socket();
      try {
        server.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort), 2_000);
      } catch (IOException e) {
        closeQuietly(client); // the server is down: the client sees the connection fail
        closeQuietly(server);
        continue;
      }
      open.add(client);
      open.add(server);
      pump(client, server, "up");
      pump(server, client, "down");
    }
  }

  private void pump(Socket from, Socket to, String direction) {
    Thread t =
        new Thread(
            () -> {
              byte[] buffer = new byte[16 * 1024];
              try (InputStream in = from.getInputStream();
                  OutputStream out = to.getOutputStream()) {
                int n;
                while ((n = in.read(buffer)) >= 0) {
                  awaitResume();
                  long delay = delayMillis;
                  if (delay > 0) {
                    Thread.sleep(delay);
                  }
                  out.write(buffer, 0, n);
                  out.flush();
                }
              } catch (IOException | InterruptedException e) {
                // the connection is gone, or cut
              } finally {
                closeQuietly(from);
                closeQuietly(to);
                open.remove(from);
                open.remove(to);
              }
            },
            "fault-proxy-" + direction);
    t.setDaemon(true);
    t.start();
  }

  private void awaitResume() throws InterruptedException {
    synchronized (gate) {
      // Bounded: close() resumes, and a pause is always lifted by the test (in finally).
      while (paused && !closed) {
        gate.wait(100);
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    pause(false);
    closeQuietly(listener);
    cut();
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception e) {
      // closing anyway
    }
  }
}

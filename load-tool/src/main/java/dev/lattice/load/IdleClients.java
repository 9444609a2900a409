package dev.lattice.load;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HybridLogicalClock;
import dev.lattice.protocol.ErrorMessage;
import dev.lattice.protocol.Hello;
import dev.lattice.protocol.Message;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.protocol.Ping;
import dev.lattice.protocol.Pong;
import dev.lattice.protocol.Subscribe;
import dev.lattice.protocol.Sync;
import dev.lattice.protocol.Welcome;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Many idle, subscribed raw-protocol connections, for the {@code idle} scenario. Not the JDK
 * WebSocket: that one can neither bind a local address nor stay small per connection, and idle runs
 * need tens of thousands of connections. Each connection here is a {@link SocketChannel} bound to a
 * loopback source address 127.0.0.x ({@link #sourceAddress}), so that no (source, destination) pair
 * runs out of ephemeral ports (about 28,000 on Linux by default); it does a minimal RFC 6455 client
 * handshake, HELLO and SUBSCRIBE with blocking I/O, then one selector thread holds all of them,
 * answering the server's PINGs (protocol PING with PONG, WebSocket ping with pong).
 *
 * <p>Thread-safety: {@link #open} blocks its caller; the counters may be read from any thread;
 * {@link #close} once, from one thread.
 */
final class IdleClients implements AutoCloseable {

  /** Connections per loopback source address, below the ~28,000 ephemeral ports of each. */
  static final int PER_SOURCE_ADDRESS = 25_000;

  private static final MessageCodec CODEC = MessageCodec.defaults();
  private static final int OP_CONTINUATION = 0x0;
  private static final int OP_BINARY = 0x2;
  private static final int OP_CLOSE = 0x8;
  private static final int OP_PING = 0x9;
  private static final int OP_PONG = 0xA;

  private final List<Conn> connections = Collections.synchronizedList(new ArrayList<>());
  private final AtomicLong pongs = new AtomicLong();
  private final AtomicInteger closedByServer = new AtomicInteger();
  private final HybridLogicalClock clock = new HybridLogicalClock();
  private Selector selector;
  private Thread holder;
  private volatile boolean closing;

  private IdleClients() {}

  /**
   * The loopback source address of global connection {@code j}: 127.0.0.1 for the first {@value
   * #PER_SOURCE_ADDRESS}, then 127.0.0.2, and so on; null (let the kernel choose) when the server
   * is not on a loopback address.
   */
  static InetAddress sourceAddress(int j, InetAddress server) {
    if (!server.isLoopbackAddress() || !(server.getAddress().length == 4)) {
      return null;
    }
    int host = 1 + j / PER_SOURCE_ADDRESS;
    if (host > 254) {
      throw new IllegalArgumentException("too many connections for 127.0.0.x: " + j);
    }
    try {
      return InetAddress.getByAddress(new byte[] {127, 0, 0, (byte) host});
    } catch (UnknownHostException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Opens connections {@code from} to {@code from + count - 1} (global indices: source address and
   * document {@code prefix + (j mod docs)}) on {@code threads} threads, each within {@code
   * timeout}, then holds them on one selector thread.
   *
   * @throws LoadException if any fails to connect, handshake or subscribe
   */
  static IdleClients open(
      URI uri, int from, int count, int docs, String prefix, Duration timeout, int threads)
      throws InterruptedException {
    IdleClients group = new IdleClients();
    InetAddress serverAddress;
    try {
      serverAddress = InetAddress.getByName(uri.getHost());
    } catch (UnknownHostException e) {
      throw new LoadException("unknown host " + uri.getHost(), e);
    }
    InetSocketAddress server =
        new InetSocketAddress(serverAddress, uri.getPort() > 0 ? uri.getPort() : 80);
    ExecutorService pool = Executors.newFixedThreadPool(threads, Runs.daemonThreads("idle-open"));
    ScheduledExecutorService watchdog =
        Executors.newSingleThreadScheduledExecutor(Runs.daemonThreads("idle-watchdog"));
    try {
      List<Future<?>> opening = new ArrayList<>();
      AtomicInteger next = new AtomicInteger(from);
      for (int t = 0; t < threads; t++) {
        opening.add(
            pool.submit(
                () -> {
                  for (int j = next.getAndIncrement();
                      j < from + count;
                      j = next.getAndIncrement()) {
                    String doc = prefix + WorkloadPlan.documentOf(j, docs);
                    Conn c = new Conn(group);
                    ScheduledFuture<?> guard =
                        watchdog.schedule(
                            c::closeQuietly, timeout.toMillis(), TimeUnit.MILLISECONDS);
                    try {
                      c.handshake(uri, server, sourceAddress(j, serverAddress), doc);
                    } catch (IOException | RuntimeException e) {
                      c.closeQuietly();
                      throw new LoadException(
                          "connection " + j + " failed (within " + timeout + "): " + e, e);
                    } finally {
                      guard.cancel(false);
                    }
                    group.connections.add(c);
                  }
                  return null;
                }));
      }
      for (Future<?> f : opening) {
        try {
          f.get(timeout.toMillis() * (count / Math.max(1, threads) + 2), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
          next.set(Integer.MAX_VALUE); // stop the other threads
          throw e.getCause() instanceof LoadException le
              ? le
              : new LoadException(e.getCause().toString(), e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
          next.set(Integer.MAX_VALUE);
          throw new LoadException("connecting took too long", e);
        }
      }
      group.hold();
      return group;
    } catch (RuntimeException | InterruptedException e) {
      group.close();
      throw e;
    } finally {
      pool.shutdownNow();
      watchdog.shutdownNow();
    }
  }

  /** Connections open. */
  int connected() {
    return connections.size();
  }

  /** PONGs sent in answer to the server's PINGs (protocol and WebSocket). */
  long pongs() {
    return pongs.get();
  }

  /** Connections the server closed, or that failed, while held. */
  int closedByServer() {
    return closedByServer.get();
  }

  private void hold() {
    try {
      selector = Selector.open();
      synchronized (connections) {
        for (Conn c : connections) {
          c.channel.configureBlocking(false);
          c.channel.register(selector, SelectionKey.OP_READ, c);
        }
      }
    } catch (IOException e) {
      throw new LoadException("could not start holding the connections: " + e, e);
    }
    holder = Runs.daemonThreads("idle-holder").newThread(this::selectLoop);
    holder.start();
  }

  private void selectLoop() {
    while (!closing) {
      try {
        selector.select(500);
      } catch (IOException | java.nio.channels.ClosedSelectorException e) {
        return;
      }
      for (SelectionKey key : selector.selectedKeys()) {
        Conn c = (Conn) key.attachment();
        try {
          if (c.channel.read(c.in) < 0) {
            throw new IOException("end of stream");
          }
          c.drainFrames();
        } catch (IOException | RuntimeException e) {
          if (!closing) {
            closedByServer.incrementAndGet();
          }
          key.cancel();
          c.closeQuietly();
        }
      }
      selector.selectedKeys().clear();
    }
  }

  /** Sends every connection a close frame, then closes the sockets and the selector thread. */
  @Override
  public void close() {
    closing = true;
    List<Conn> all;
    synchronized (connections) {
      all = new ArrayList<>(connections);
    }
    for (Conn c : all) {
      try {
        c.write(OP_CLOSE, new byte[] {0x03, (byte) 0xE8}); // 1000
      } catch (IOException | RuntimeException e) {
        // closing anyway
      }
      c.closeQuietly();
    }
    if (selector != null) {
      try {
        selector.close();
      } catch (IOException e) {
        // nothing left to do
      }
    }
    if (holder != null) {
      try {
        holder.join(2_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** One connection. Blocking during its handshake, then read by the selector thread only. */
  private static final class Conn {
    final IdleClients group;
    SocketChannel channel;
    ByteBuffer in = ByteBuffer.allocate(1024); // write mode
    final java.io.ByteArrayOutputStream fragments = new java.io.ByteArrayOutputStream();

    Conn(IdleClients group) {
      this.group = group;
    }

    void handshake(URI uri, InetSocketAddress server, InetAddress source, String doc)
        throws IOException {
      channel = SocketChannel.open();
      if (source != null) {
        channel.bind(new InetSocketAddress(source, 0));
      }
      channel.connect(server);
      byte[] key = new byte[16];
      new SecureRandom().nextBytes(key);
      String request =
          "GET "
              + (uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath())
              + " HTTP/1.1\r\nHost: "
              + uri.getHost()
              + ":"
              + server.getPort()
              + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
              + Base64.getEncoder().encodeToString(key)
              + "\r\nSec-WebSocket-Version: 13\r\n"
              + UpgradeToken.get().map(t -> "Authorization: Bearer " + t + "\r\n").orElse("")
              + "\r\n";
      writeFully(ByteBuffer.wrap(request.getBytes(StandardCharsets.US_ASCII)));
      String status = readHeaders();
      if (!status.startsWith("HTTP/1.1 101")) {
        throw new IOException("upgrade refused: " + status);
      }
      send(Hello.of(ReplicaId.random(), null, "lattice-load-idle"));
      awaitMessage(Welcome.class);
      send(new Subscribe(1, doc, VersionVector.empty()));
      awaitMessage(Sync.class);
    }

    private String readHeaders() throws IOException {
      while (true) {
        ByteBuffer view = in.duplicate().flip();
        byte[] bytes = new byte[view.remaining()];
        view.get(bytes);
        String text = new String(bytes, StandardCharsets.ISO_8859_1);
        int end = text.indexOf("\r\n\r\n");
        if (end >= 0) {
          int rest = end + 4;
          in.clear();
          in.put(bytes, rest, bytes.length - rest);
          return text.substring(0, text.indexOf("\r\n"));
        }
        readMore();
      }
    }

    private void readMore() throws IOException {
      if (!in.hasRemaining()) {
        in = ByteBuffer.allocate(in.capacity() * 2).put(in.flip());
      }
      if (channel.read(in) < 0) {
        throw new IOException("the server closed the connection");
      }
    }

    private <T extends Message> void awaitMessage(Class<T> type) throws IOException {
      for (int frames = 0; frames < 10_000; frames++) {
        Message m;
        while ((m = nextMessage()) == null) {
          readMore();
        }
        if (type.isInstance(m)) {
          return;
        }
        if (m instanceof ErrorMessage e) {
          throw new IOException("ERROR " + e.code() + ": " + e.message());
        }
      }
      throw new IOException("no " + type.getSimpleName() + " in 10,000 frames");
    }

    /** Handles every complete frame in the buffer (selector thread). */
    void drainFrames() throws IOException {
      while (nextMessage() != null) {
        // handled inside: PINGs answered, the rest ignored
      }
      if (!in.hasRemaining()) {
        in = ByteBuffer.allocate(in.capacity() * 2).put(in.flip());
      }
    }

    /**
     * The next complete protocol message in the buffer, answering PINGs on the way; null when the
     * buffer holds no complete data message.
     */
    private Message nextMessage() throws IOException {
      while (true) {
        in.flip();
        try {
          if (in.remaining() < 2) {
            return null;
          }
          int start = in.position();
          int b0 = in.get(start) & 0xFF;
          int b1 = in.get(start + 1) & 0xFF;
          long length = b1 & 0x7F;
          int header = 2;
          if (length == 126) {
            if (in.remaining() < 4) {
              return null;
            }
            length = in.getShort(start + 2) & 0xFFFF;
            header = 4;
          } else if (length == 127) {
            if (in.remaining() < 10) {
              return null;
            }
            length = in.getLong(start + 2);
            header = 10;
          }
          if ((b1 & 0x80) != 0) {
            throw new IOException("the server sent a masked frame");
          }
          if (length > 16 * 1024 * 1024) {
            throw new IOException("frame of " + length + " bytes");
          }
          if (in.remaining() < header + length) {
            if (in.capacity() < header + length) {
              ByteBuffer bigger = ByteBuffer.allocate((int) (header + length));
              bigger.put(in);
              in = bigger.flip();
            }
            return null;
          }
          byte[] payload = new byte[(int) length];
          in.position(start + header);
          in.get(payload);
          boolean fin = (b0 & 0x80) != 0;
          int opcode = b0 & 0x0F;
          Message message = null;
          switch (opcode) {
            case OP_PING -> {
              write(OP_PONG, payload);
              group.pongs.incrementAndGet();
            }
            case OP_CLOSE -> throw new IOException("the server closed the connection");
            case OP_BINARY, OP_CONTINUATION -> {
              fragments.writeBytes(payload);
              if (fin) {
                message = CODEC.decode(fragments.toByteArray());
                fragments.reset();
              }
            }
            default -> {
              // text or pong: ignored
            }
          }
          if (message instanceof Ping ping) {
            send(new Pong(ping.nonce(), group.clock.now()));
            group.pongs.incrementAndGet();
          } else if (message != null) {
            return message;
          }
        } finally {
          in.compact();
        }
      }
    }

    void send(Message message) throws IOException {
      write(OP_BINARY, CODEC.encode(message));
    }

    /** Writes one masked client frame (RFC 6455 §5.2). */
    synchronized void write(int opcode, byte[] payload) throws IOException {
      int n = payload.length;
      int extra = n < 126 ? 0 : n < 65_536 ? 2 : 8;
      ByteBuffer frame = ByteBuffer.allocate(2 + extra + 4 + n);
      frame.put((byte) (0x80 | opcode));
      if (extra == 0) {
        frame.put((byte) (0x80 | n));
      } else if (extra == 2) {
        frame.put((byte) (0x80 | 126)).putShort((short) n);
      } else {
        frame.put((byte) (0x80 | 127)).putLong(n);
      }
      byte[] mask = new byte[4];
      ThreadLocalRandom.current().nextBytes(mask);
      frame.put(mask);
      for (int i = 0; i < n; i++) {
        frame.put((byte) (payload[i] ^ mask[i & 3]));
      }
      writeFully(frame.flip());
    }

    private void writeFully(ByteBuffer buffer) throws IOException {
      // Idle frames are tiny; a non-blocking socket takes them at once. Bounded, never spins long.
      for (int attempt = 0; buffer.hasRemaining(); attempt++) {
        if (channel.write(buffer) == 0) {
          if (attempt > 1_000) {
            throw new IOException("the socket does not take a small frame");
          }
          Thread.onSpinWait();
        }
      }
    }

    void closeQuietly() {
      try {
        if (channel != null) {
          channel.close();
        }
      } catch (IOException e) {
        // closed either way
      }
    }
  }
}

package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.ReplicaId;
import dev.lattice.protocol.CloseCodes;
import dev.lattice.protocol.Hello;
import dev.lattice.protocol.MessageCodec;
import dev.lattice.protocol.Welcome;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The server's own RFC 6455 framing and upgrade, over raw sockets: frames written byte by byte as a
 * test wants them, masked or not, whole, split or packed together, and the server's frames read
 * back unparsed by any WebSocket library.
 */
class WebSocketFramingIT {

  private static final MessageCodec CODEC = MessageCodec.defaults();
  private static final int MAX_FRAME = 1_048_576;
  private static LatticeServer server;

  @BeforeAll
  static void start() {
    server =
        LatticeServer.builder()
            .bindAddress("127.0.0.1")
            .port(0)
            .inMemory(true)
            .replicaId(ReplicaId.of(0x5e))
            .build()
            .start();
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  // ------------------------------------------------------------------ the upgrade

  @Test
  void theUpgradeIsAcceptedWithTheKeysHashAndNoExtension() throws Exception {
    try (Peer peer = new Peer()) {
      String key = Base64.getEncoder().encodeToString(new byte[16]);
      Response response =
          peer.upgrade(
              "Sec-WebSocket-Key: "
                  + key
                  + "\r\nSec-WebSocket-Version: 13\r\n"
                  + "Sec-WebSocket-Extensions: permessage-deflate\r\n"
                  + "Sec-WebSocket-Protocol: other, lattice\r\n");
      assertThat(response.status).isEqualTo(101);
      // RFC 6455 section 1.3's example key and answer.
      assertThat(WebSocketUpgrade.accept("dGhlIHNhbXBsZSBub25jZQ=="))
          .isEqualTo("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
      assertThat(response.headers.get("sec-websocket-accept"))
          .isEqualTo(WebSocketUpgrade.accept(key));
      assertThat(response.headers.get("upgrade")).isEqualToIgnoringCase("websocket");
      assertThat(response.headers).doesNotContainKey("sec-websocket-extensions");
      assertThat(response.headers.get("sec-websocket-protocol")).isEqualTo("lattice");
      peer.hello();
    }
  }

  @Test
  void anotherVersionIsRefusedWith426NamingVersion13() throws Exception {
    try (Peer peer = new Peer()) {
      Response response =
          peer.upgrade("Sec-WebSocket-Key: " + key() + "\r\nSec-WebSocket-Version: 8\r\n");
      assertThat(response.status).isEqualTo(426);
      assertThat(response.headers.get("sec-websocket-version")).isEqualTo("13");
    }
  }

  @Test
  void aMissingOrMalformedKeyIsRefusedWith400() throws Exception {
    try (Peer peer = new Peer()) {
      assertThat(peer.upgrade("Sec-WebSocket-Version: 13\r\n").status).isEqualTo(400);
    }
    try (Peer peer = new Peer()) {
      assertThat(
              peer.upgrade("Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n").status)
          .isEqualTo(400);
    }
  }

  @Test
  void aRequestWithoutUpgradeHeadersIsTold426ByThePlainEndpoint() throws Exception {
    try (Peer peer = new Peer()) {
      peer.write(
          ("GET /v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      Response response = peer.readResponse();
      assertThat(response.status).isEqualTo(426);
      assertThat(response.headers.get("upgrade")).isEqualTo("websocket");
    }
  }

  // ------------------------------------------------------------------ framing

  @Test
  void manyFramesInOneWriteAreEachHandled() throws Exception {
    try (Peer peer = Peer.open()) {
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      all.write(frame(true, 0x9, "one".getBytes(StandardCharsets.UTF_8), true));
      all.write(frame(true, 0x2, CODEC.encode(Hello.of(ReplicaId.of(0xa), null, "it")), true));
      all.write(frame(true, 0x9, "two".getBytes(StandardCharsets.UTF_8), true));
      peer.write(all.toByteArray());
      assertThat(peer.readFrame())
          .isEqualTo(new Frame(0xA, "one".getBytes(StandardCharsets.UTF_8)));
      assertThat(CODEC.decode(peer.readFrame().payload)).isInstanceOf(Welcome.class);
      assertThat(peer.readFrame())
          .isEqualTo(new Frame(0xA, "two".getBytes(StandardCharsets.UTF_8)));
    }
  }

  @Test
  void aFrameWrittenByteByByteIsParsedWhole() throws Exception {
    try (Peer peer = Peer.open()) {
      byte[] hello = frame(true, 0x2, CODEC.encode(Hello.of(ReplicaId.of(0xa), null, "it")), true);
      for (byte b : hello) {
        peer.write(new byte[] {b});
      }
      assertThat(CODEC.decode(peer.readFrame().payload)).isInstanceOf(Welcome.class);
    }
  }

  @Test
  void aLargeFrameWithA64BitLengthIsParsed() throws Exception {
    try (Peer peer = Peer.open()) {
      byte[] payload = new byte[70_000];
      Arrays.fill(payload, (byte) 'x');
      peer.write(frame(true, 0x9, Arrays.copyOf(payload, 125), true));
      assertThat(peer.readFrame().payload).hasSize(125);
      // A binary frame the protocol cannot decode closes with 4000, after all of it was read.
      peer.write(frame(true, 0x2, payload, true));
      assertThat(peer.readClose()).isEqualTo(CloseCodes.MALFORMED_FRAME);
    }
  }

  @Test
  void aFragmentedMessageIsJoinedAndControlFramesMayComeBetweenFragments() throws Exception {
    try (Peer peer = Peer.open()) {
      byte[] hello = CODEC.encode(Hello.of(ReplicaId.of(0xa), null, "fragmented"));
      int third = hello.length / 3;
      peer.write(frame(false, 0x2, Arrays.copyOfRange(hello, 0, third), true));
      peer.write(frame(true, 0x9, new byte[] {7}, true));
      peer.write(frame(false, 0x0, Arrays.copyOfRange(hello, third, 2 * third), true));
      peer.write(frame(true, 0x0, Arrays.copyOfRange(hello, 2 * third, hello.length), true));
      assertThat(peer.readFrame()).isEqualTo(new Frame(0xA, new byte[] {7}));
      assertThat(CODEC.decode(peer.readFrame().payload)).isInstanceOf(Welcome.class);
    }
  }

  @Test
  void anUnmaskedFrameClosesWith1002() throws Exception {
    try (Peer peer = Peer.open()) {
      peer.write(frame(true, 0x2, new byte[] {1, 2, 3}, false));
      assertThat(peer.readClose()).isEqualTo(1002);
      peer.answerCloseAndAwaitEnd();
    }
  }

  @Test
  void anUnknownOpcodeClosesWith1002() throws Exception {
    try (Peer peer = Peer.open()) {
      peer.write(frame(true, 0x3, new byte[] {1}, true));
      assertThat(peer.readClose()).isEqualTo(1002);
      peer.answerCloseAndAwaitEnd();
    }
  }

  @Test
  void aContinuationWithNoMessageClosesWith1002() throws Exception {
    try (Peer peer = Peer.open()) {
      peer.write(frame(true, 0x0, new byte[] {1}, true));
      assertThat(peer.readClose()).isEqualTo(1002);
    }
  }

  @Test
  void aFragmentedOrLongControlFrameClosesWith1002() throws Exception {
    try (Peer peer = Peer.open()) {
      peer.write(frame(false, 0x9, new byte[] {1}, true));
      assertThat(peer.readClose()).isEqualTo(1002);
    }
    try (Peer peer = Peer.open()) {
      peer.write(frame(true, 0x9, new byte[126], true));
      assertThat(peer.readClose()).isEqualTo(1002);
    }
  }

  @Test
  void aFrameOverTheBoundClosesWith1009AtItsHeader() throws Exception {
    try (Peer peer = Peer.open()) {
      // Only the header: the server refuses before any of the payload arrives.
      peer.write(
          ByteBuffer.allocate(14)
              .put((byte) 0x82)
              .put((byte) (0x80 | 127))
              .putLong(MAX_FRAME + 1L)
              .putInt(0)
              .array());
      assertThat(peer.readClose()).isEqualTo(CloseCodes.TOO_BIG);
    }
  }

  @Test
  void fragmentsAddingUpPastTheBoundCloseWith1009() throws Exception {
    try (Peer peer = Peer.open()) {
      byte[] half = new byte[MAX_FRAME / 2 + 1];
      peer.write(frame(false, 0x2, half, true));
      peer.write(frame(true, 0x0, half, true));
      assertThat(peer.readClose()).isEqualTo(CloseCodes.TOO_BIG);
      peer.answerCloseAndAwaitEnd();
    }
  }

  @Test
  void aPingIsAnsweredWithItsPayloadAndAPongIsIgnored() throws Exception {
    try (Peer peer = Peer.open()) {
      peer.write(frame(true, 0xA, new byte[] {9}, true));
      peer.write(frame(true, 0x9, new byte[] {1, 2, 3}, true));
      assertThat(peer.readFrame()).isEqualTo(new Frame(0xA, new byte[] {1, 2, 3}));
      peer.write(frame(true, 0x9, new byte[0], true));
      assertThat(peer.readFrame()).isEqualTo(new Frame(0xA, new byte[0]));
    }
  }

  @Test
  void aCloseFromThePeerIsAnsweredWithItsCodeAndTheSocketClosed() throws Exception {
    try (Peer peer = Peer.open()) {
      peer.hello();
      peer.write(frame(true, 0x8, closePayload(1000, "bye"), true));
      assertThat(peer.readClose()).isEqualTo(1000);
      assertThat(peer.in.read()).isEqualTo(-1);
    }
  }

  @Test
  void aCloseOfTheServersIsCompletedByThePeersAnswer() throws Exception {
    try (Peer peer = Peer.open()) {
      peer.hello();
      // A text frame is not part of the protocol: the server closes with 4000.
      peer.write(frame(true, 0x1, "hi".getBytes(StandardCharsets.UTF_8), true));
      assertThat(peer.readClose()).isEqualTo(CloseCodes.MALFORMED_FRAME);
      peer.answerCloseAndAwaitEnd();
    }
  }

  @Test
  void anInvalidOrTruncatedCloseCodeClosesWith1002() throws Exception {
    try (Peer peer = Peer.open()) {
      peer.write(frame(true, 0x8, closePayload(1005, ""), true));
      assertThat(peer.readClose()).isEqualTo(1002);
    }
    try (Peer peer = Peer.open()) {
      peer.write(frame(true, 0x8, new byte[] {0x03}, true)); // a code needs two bytes
      assertThat(peer.readClose()).isEqualTo(1002);
    }
  }

  // ------------------------------------------------------------------ a raw peer

  private static String key() {
    return Base64.getEncoder()
        .encodeToString("0123456789abcdef".getBytes(StandardCharsets.US_ASCII));
  }

  private static byte[] closePayload(int code, String reason) {
    byte[] text = reason.getBytes(StandardCharsets.UTF_8);
    byte[] p = new byte[2 + text.length];
    p[0] = (byte) (code >>> 8);
    p[1] = (byte) code;
    System.arraycopy(text, 0, p, 2, text.length);
    return p;
  }

  /** A client frame; masked with a fixed key unless {@code masked} is false. */
  static byte[] frame(boolean fin, int opcode, byte[] payload, boolean masked) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write((fin ? 0x80 : 0) | opcode);
    int maskBit = masked ? 0x80 : 0;
    if (payload.length < 126) {
      out.write(maskBit | payload.length);
    } else if (payload.length <= 0xFFFF) {
      out.write(maskBit | 126);
      out.write(payload.length >>> 8);
      out.write(payload.length);
    } else {
      out.write(maskBit | 127);
      byte[] length = ByteBuffer.allocate(8).putLong(payload.length).array();
      out.write(length, 0, 8);
    }
    byte[] mask = {0x11, 0x22, 0x33, 0x44};
    if (masked) {
      out.write(mask, 0, 4);
    }
    for (int i = 0; i < payload.length; i++) {
      out.write(masked ? payload[i] ^ mask[i & 3] : payload[i]);
    }
    return out.toByteArray();
  }

  record Response(int status, Map<String, String> headers) {}

  record Frame(int opcode, byte[] payload) {
    @Override
    public boolean equals(Object o) {
      return o instanceof Frame f && f.opcode == opcode && Arrays.equals(f.payload, payload);
    }

    @Override
    public int hashCode() {
      return opcode * 31 + Arrays.hashCode(payload);
    }

    @Override
    public String toString() {
      return "Frame[" + opcode + ", " + Arrays.toString(payload) + "]";
    }
  }

  /** One TCP connection to the server; reads time out after 5 s rather than hang a test. */
  static final class Peer implements AutoCloseable {
    final Socket socket;
    final DataInputStream in;
    final OutputStream out;

    Peer() throws IOException {
      socket = new Socket("127.0.0.1", server.port());
      socket.setTcpNoDelay(true);
      socket.setSoTimeout(5_000);
      in = new DataInputStream(socket.getInputStream());
      out = socket.getOutputStream();
    }

    /** A connection upgraded to a WebSocket. */
    static Peer open() throws IOException {
      Peer peer = new Peer();
      Response response =
          peer.upgrade("Sec-WebSocket-Key: " + key() + "\r\nSec-WebSocket-Version: 13\r\n");
      assertThat(response.status).isEqualTo(101);
      return peer;
    }

    Response upgrade(String moreHeaders) throws IOException {
      write(
          ("GET /v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  + "Connection: keep-alive, Upgrade\r\n"
                  + moreHeaders
                  + "\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      return readResponse();
    }

    Response readResponse() throws IOException {
      String status = line();
      Map<String, String> headers = new LinkedHashMap<>();
      for (String l = line(); !l.isEmpty(); l = line()) {
        int colon = l.indexOf(':');
        headers.put(
            l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim());
      }
      int status3 = Integer.parseInt(status.split(" ")[1]);
      if (status3 != 101 && headers.containsKey("content-length")) {
        in.readNBytes(Integer.parseInt(headers.get("content-length")));
      }
      return new Response(status3, headers);
    }

    private String line() throws IOException {
      StringBuilder s = new StringBuilder();
      for (int c = in.read(); c != '\n'; c = in.read()) {
        if (c < 0) {
          throw new EOFException("the server closed during the response");
        }
        if (c != '\r') {
          s.append((char) c);
        }
      }
      return s.toString();
    }

    void write(byte[] bytes) throws IOException {
      out.write(bytes);
      out.flush();
    }

    void hello() throws IOException {
      write(frame(true, 0x2, CODEC.encode(Hello.of(ReplicaId.of(0xa), null, "it")), true));
      assertThat(CODEC.decode(readFrame().payload)).isInstanceOf(Welcome.class);
    }

    /** The next server frame, which must be unmasked and whole. */
    Frame readFrame() throws IOException {
      int b0 = in.readUnsignedByte();
      int b1 = in.readUnsignedByte();
      assertThat(b0 & 0x80).as("FIN").isNotZero();
      assertThat(b1 & 0x80).as("server frames are unmasked").isZero();
      long length = b1 & 0x7F;
      if (length == 126) {
        length = in.readUnsignedShort();
      } else if (length == 127) {
        length = in.readLong();
      }
      byte[] payload = new byte[(int) length];
      in.readFully(payload);
      return new Frame(b0 & 0x0F, payload);
    }

    /** Reads frames up to a close; returns its code. */
    int readClose() throws IOException {
      while (true) {
        Frame f = readFrame();
        if (f.opcode == 0x8) {
          return ((f.payload[0] & 0xFF) << 8) | (f.payload[1] & 0xFF);
        }
      }
    }

    /** Answers the server's close and sees the server end the TCP connection. */
    void answerCloseAndAwaitEnd() throws IOException {
      write(frame(true, 0x8, closePayload(1000, ""), true));
      assertThat(in.read()).isEqualTo(-1);
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }
}

package dev.lattice.protocol;

import static dev.lattice.protocol.Samples.A;
import static dev.lattice.protocol.Samples.CODEC;
import static dev.lattice.protocol.Samples.R;
import static dev.lattice.protocol.Samples.T1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import dev.lattice.hlc.HlcTimestamp;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class MessageRoundTripTest {

  private static final ReplicaId ALL_ONES = ReplicaId.of(-1L);
  private static final ReplicaId MIN = ReplicaId.of(Long.MIN_VALUE);
  private static final HlcTimestamp T_MAX = HlcTimestamp.fromLong(Long.MAX_VALUE);
  private static final String UNICODE_ID = "doc/ünï/日本語/😀";

  static Stream<Message> messages() {
    Document big = Document.create("big");
    for (int i = 0; i < 2_000; i++) {
      big.incrementGCounter(ReplicaId.of(i * 0x9E3779B97F4A7C15L), "field-" + i, i + 1);
    }
    DocumentDelta bigDelta = big.deltaSince(VersionVector.empty());
    Document registers = Document.create("r");
    DocumentDelta register = registers.setRegister(MIN, "title", Value.of("ünï"), T1);
    TreeMap<String, Long> allLimits = new TreeMap<>();
    allLimits.put(Welcome.LIMIT_MAX_FRAME_BYTES, 1L << 20);
    allLimits.put(Welcome.LIMIT_MAX_DOCUMENTS_PER_CONNECTION, 100L);
    allLimits.put(Welcome.LIMIT_MAX_FIELDS_PER_DOCUMENT, 10_000L);
    allLimits.put(Welcome.LIMIT_UPDATES_PER_SECOND, 50L);
    allLimits.put(Welcome.LIMIT_UPDATE_BURST, 200L);
    allLimits.put(Welcome.LIMIT_IDLE_TIMEOUT_MILLIS, 60_000L);
    allLimits.put(Welcome.LIMIT_MAX_PRESENCE_BYTES, 4096L);
    allLimits.put(Welcome.LIMIT_PRESENCE_TTL_MILLIS, 30_000L);
    allLimits.put("someFutureLimit", Long.MAX_VALUE);
    return Stream.of(
        Hello.of(R, "secret", "js/1"),
        Hello.of(ALL_ONES, null, null),
        new Hello(1, Integer.MAX_VALUE, MIN, Optional.of(""), Optional.of("ünï")),
        new Welcome(1, ALL_ONES, HlcTimestamp.ZERO, new TreeMap<>(), ""),
        new Welcome(Integer.MAX_VALUE, MIN, T_MAX, allLimits, "session-😀"),
        new Subscribe(1, UNICODE_ID, VersionVector.empty()),
        new Subscribe(
            Long.MAX_VALUE,
            "x".repeat(512),
            VersionVector.of(Map.of(A, 5L, ALL_ONES, 7L, MIN, 1L))),
        new Sync(1, "d", DocumentDelta.empty(), VersionVector.empty()),
        new Sync(9, "big", bigDelta, big.versionVector()),
        Update.request(Long.MAX_VALUE, UNICODE_ID, register),
        Update.fanOut("big", bigDelta),
        new Ack(1, UNICODE_ID),
        new Unsubscribe(Long.MAX_VALUE, "d"),
        new Presence(
            "d",
            ALL_ONES,
            Long.MAX_VALUE,
            Optional.of(
                Value.map(
                    Map.of(
                        Value.of("cursor"),
                        Value.array(Value.of(1L), Value.of(-2.5), Value.of(new byte[] {1, 2})),
                        Value.of(true),
                        Value.of(Double.NaN))))),
        Presence.leave(UNICODE_ID, MIN),
        new Ping(Long.MIN_VALUE, HlcTimestamp.ZERO),
        new Ping(-1, T_MAX),
        new Pong(Long.MAX_VALUE, T1),
        ErrorMessage.of(OptionalLong.empty(), ErrorCode.INTERNAL, ""),
        new ErrorMessage(OptionalLong.of(5), 999, "a code from the future ünï"),
        // Version 2.
        Subscribe.withAlias(Long.MAX_VALUE, UNICODE_ID, VersionVector.empty(), Integer.MAX_VALUE),
        Subscribe.withAlias(1, "d", VersionVector.of(Map.of(A, 5L)), 0),
        new OwnUpdate(1, 0, 1, "g", new OwnUpdate.GCount(1)),
        new OwnUpdate(
            Long.MAX_VALUE, Integer.MAX_VALUE, Long.MAX_VALUE, "", new OwnUpdate.GCount(0)),
        new OwnUpdate(7, 3, 1 << 20, "ünï", new OwnUpdate.PNCount(Long.MAX_VALUE, 0)),
        new OwnUpdate(7, 3, 9, "t", new OwnUpdate.RegisterWrite(Value.of(-2.5), T_MAX)),
        new OwnUpdate(7, 3, 9, "t", new OwnUpdate.EmptyRegister()));
  }

  @ParameterizedTest
  @MethodSource("messages")
  void roundTripsThroughBytes(Message message) {
    byte[] frame = CODEC.encode(message);
    assertThat(CODEC.decode(frame, 2)).isEqualTo(message);
    assertThat(CODEC.encode(CODEC.decode(frame, 2))).isEqualTo(frame);
  }

  @ParameterizedTest
  @MethodSource("messages")
  void roundTripsThroughByteBuffers(Message message) {
    byte[] frame = CODEC.encode(message);
    ByteBuffer buffer = ByteBuffer.allocate(frame.length + 4);
    buffer.put(new byte[] {9, 9}).put(frame).put(new byte[] {9, 9});
    buffer.position(2).limit(2 + frame.length);
    assertThat(CODEC.decode(buffer, 2)).isEqualTo(message);
    assertThat(buffer.position()).isEqualTo(2);
    assertThat(CODEC.decode(ByteBuffer.wrap(frame).asReadOnlyBuffer(), 2)).isEqualTo(message);
  }

  @Test
  void typeCodesAreTheDocumentedOnes() {
    assertThat(messages().map(m -> m.messageType().name() + "=" + m.type()).distinct())
        .containsExactlyInAnyOrder(
            "HELLO=1",
            "WELCOME=2",
            "SUBSCRIBE=3",
            "SYNC=4",
            "UPDATE=5",
            "ACK=6",
            "UNSUBSCRIBE=7",
            "PRESENCE=8",
            "PING=9",
            "PONG=10",
            "ERROR=11",
            "UPDATE_OWN=12");
    assertThat(MessageType.fromCode(0)).isEmpty();
    assertThat(MessageType.fromCode(13)).isEmpty();
    assertThat(MessageType.UPDATE_OWN.sinceVersion()).isEqualTo(2);
    assertThat(MessageType.UPDATE.sinceVersion()).isEqualTo(1);
    assertThat(MessageType.fromCode(4)).contains(MessageType.SYNC);
  }

  @Test
  void errorCodesAreTheDocumentedOnes() {
    // Codes may leave gaps (ranges reserved for parallel work): each maps back to itself.
    assertThat(Arrays.stream(ErrorCode.values()).map(ErrorCode::code)).doesNotHaveDuplicates();
    for (ErrorCode c : ErrorCode.values()) {
      assertThat(ErrorCode.fromCode(c.code())).contains(c);
      assertThat(c.meaning()).isNotBlank();
    }
    assertThat(ErrorCode.DUPLICATE_REQUEST_ID.code()).isEqualTo(14);
    assertThat(ErrorCode.ALIAS_IN_USE.code()).isEqualTo(15);
    assertThat(ErrorCode.FORBIDDEN.code()).isEqualTo(16);
    assertThat(ErrorCode.TOKEN_EXPIRED.code()).isEqualTo(17);
    assertThat(ErrorCode.REPLICA_MISMATCH.code()).isEqualTo(18);
    assertThat(ErrorCode.STALE_REPLICA.code()).isEqualTo(19);
    assertThat(ErrorCode.COUNTER_OVERFLOW.code()).isEqualTo(20);
    assertThat(ErrorCode.FIELD_TOO_LARGE.code()).isEqualTo(21);
    assertThat(ErrorCode.REPLICA_OWNED.code()).isEqualTo(22);
    // Codes are reserved in ranges; a gap in the table reads as a code this version does not know.
    assertThat(ErrorCode.fromCode(24)).isEmpty();
    assertThat(ErrorCode.fromCode(0)).isEmpty();
    assertThat(ErrorCode.fromCode(1000)).isEmpty();
    assertThat(new ErrorMessage(OptionalLong.empty(), 24, "").errorCode()).isEmpty();
  }

  @Test
  void closeCodesSayWhetherToReconnect() {
    assertThat(List.of(1001, 1011, 4003, 4004, 4005, 4006, 4007, 1006))
        .allMatch(CloseCodes::shouldReconnect);
    assertThat(List.of(1000, 1008, 1009, 4000, 4001, 4002, 4008, 4999))
        .noneMatch(CloseCodes::shouldReconnect);
    assertThat(CloseCodes.name(4003)).isEqualTo("SLOW_CONSUMER");
    assertThat(CloseCodes.name(4007)).isEqualTo("TOKEN_EXPIRED");
    assertThat(CloseCodes.name(4008)).isEqualTo("REPLICA_OWNED");
    assertThat(CloseCodes.name(4321)).isEqualTo("UNKNOWN");
  }

  @Test
  void presenceOfTheNilValueIsALeave() {
    Presence p = new Presence("d", R, 5, Optional.of(Value.nil()));
    assertThat(p.isLeave()).isTrue();
    assertThat(p.value()).isEmpty();
  }

  @Test
  void helloHidesCredentialsWhenPrinted() {
    assertThat(Hello.of(R, "secret-token", "js/1").toString())
        .doesNotContain("secret-token")
        .contains("<hidden>");
  }

  @Test
  void welcomeLimitsAreImmutableAndSorted() {
    TreeMap<String, Long> limits = new TreeMap<>(java.util.Comparator.reverseOrder());
    limits.put("b", 1L);
    limits.put("a", 2L);
    Welcome w = new Welcome(1, R, T1, limits, "s");
    assertThat(w.limits().keySet()).containsExactly("a", "b");
    assertThatThrownBy(() -> w.limits().put("c", 3L))
        .isInstanceOf(UnsupportedOperationException.class);
  }

  @Test
  void recordsRefuseBadValuesNamingThem() {
    assertThatThrownBy(() -> new Subscribe(0, "d", VersionVector.empty()))
        .hasMessage("SUBSCRIBE.requestId must be positive, was 0");
    assertThatThrownBy(() -> new Ack(1, "")).hasMessage("ACK.documentId must not be empty");
    assertThatThrownBy(() -> new Hello(2, 1, R, Optional.empty(), Optional.empty()))
        .hasMessage("HELLO.maxVersion must be >= minVersion 2, was 1");
    assertThatThrownBy(() -> new Hello(0, 1, R, Optional.empty(), Optional.empty()))
        .hasMessage("HELLO.minVersion must be >= 1, was 0");
    assertThatThrownBy(() -> new Update(OptionalLong.of(-5), "d", DocumentDelta.empty()))
        .hasMessage("UPDATE.requestId must be positive, was -5");
    assertThatThrownBy(() -> new Presence("d", R, -1, Optional.empty()))
        .hasMessage("PRESENCE.ttlMillis must be >= 0, was -1");
    assertThatThrownBy(() -> new ErrorMessage(OptionalLong.empty(), 0, ""))
        .hasMessage("ERROR.code must be >= 1, was 0");
    assertThatThrownBy(() -> Welcome.of(1, R, T1, Map.of("x", -1L), "s"))
        .hasMessage("WELCOME.limits['x'] must be >= 0, was -1");
    assertThatThrownBy(() -> new Sync(1, "d", null, VersionVector.empty()))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("SYNC.delta");
  }

  @Test
  void encodingRefusesWhatAPeerWouldRefuse() {
    assertThatThrownBy(() -> CODEC.encode(new Ack(1, "x".repeat(513))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("ACK.documentId")
        .hasMessageContaining("513");
    assertThatThrownBy(() -> CODEC.encode(new Ack(1, "bad\uD800")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unpaired surrogate");
    MessageCodec small = MessageCodec.create(ProtocolLimits.builder().maxFrameBytes(64).build());
    assertThatThrownBy(
            () -> small.encode(new ErrorMessage(OptionalLong.empty(), 1, "x".repeat(100))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxFrameBytes 64");
  }

  @Test
  void limitsCapPayloadsAtTheFrameSize() {
    ProtocolLimits limits = ProtocolLimits.builder().maxFrameBytes(4096).build();
    assertThat(limits.codecLimits().maxPayloadBytes()).isEqualTo(4096);
    assertThat(ProtocolLimits.defaults().codecLimits().maxPayloadBytes()).isEqualTo(1 << 20);
    assertThat(ProtocolLimits.defaults().maxDocumentIdBytes()).isEqualTo(512);
    assertThat(ProtocolLimits.defaults().maxCredentialsBytes()).isEqualTo(8192);
    assertThat(ProtocolLimits.defaults().maxStringBytes()).isEqualTo(65536);
    assertThat(limits.toBuilder().build()).isEqualTo(limits);
    assertThatThrownBy(() -> ProtocolLimits.builder().maxFrameBytes(0))
        .hasMessage("maxFrameBytes must be >= 16, was 0");
  }
}

package dev.lattice.crdt.codec;

import static dev.lattice.crdt.codec.Samples.hex;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Decodes bytes derived from valid payloads by flipping, overwriting, inserting and deleting bytes:
 * a decoder may succeed or throw {@link CodecException}, nothing else. Every case has its own seed,
 * printed on failure, so one case replays alone.
 */
class MutationFuzzTest {

  private static final long BASE_SEED = 0x1A77_1CE5_EED5L;
  private static final int CASES = 20_000;

  /** Header bytes that forge large lengths or odd types. */
  private static final byte[][] NASTY = {
    {(byte) 0xdd, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff},
    {(byte) 0xdf, 0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff},
    {(byte) 0xdb, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff},
    {(byte) 0xc6, 0x00, 0x10, 0x00, 0x00},
    {(byte) 0xdc, (byte) 0xff, (byte) 0xff},
    {
      (byte) 0xcf,
      (byte) 0xff,
      (byte) 0xff,
      (byte) 0xff,
      (byte) 0xff,
      (byte) 0xff,
      (byte) 0xff,
      (byte) 0xff,
      (byte) 0xff
    },
    {(byte) 0xd4, 0x01, 0x00},
    {(byte) 0xc1},
    {
      (byte) 0x91,
      (byte) 0x91,
      (byte) 0x91,
      (byte) 0x91,
      (byte) 0x91,
      (byte) 0x91,
      (byte) 0x91,
      (byte) 0x91
    },
    {(byte) 0xa2, (byte) 0xc3, 0x28},
    {0x00},
    {(byte) 0xff},
  };

  @Test
  void decodersThrowNothingButCodecException() {
    List<Map.Entry<Codec<?>, byte[]>> seeds = new ArrayList<>();
    for (Map.Entry<Codec<?>, byte[]> sample : Samples.payloads()) {
      if (sample.getValue().length <= 2048) {
        seeds.add(sample);
      }
    }
    List<Codec<?>> codecs = allCodecs();
    int decoded = 0;
    for (int i = 0; i < CASES; i++) {
      long seed = BASE_SEED + i;
      Random random = new Random(seed);
      Map.Entry<Codec<?>, byte[]> sample = seeds.get(random.nextInt(seeds.size()));
      byte[] input = mutate(sample.getValue(), random);
      // Mostly the payload's own codec, sometimes another one.
      Codec<?> codec =
          random.nextInt(4) == 0 ? codecs.get(random.nextInt(codecs.size())) : sample.getKey();
      try {
        if (decodeAndReencode(codec, input)) {
          decoded++;
        }
      } catch (CodecException expected) {
        // fine
      } catch (Throwable t) {
        fail(
            "case seed "
                + seed
                + " (base "
                + BASE_SEED
                + ", case "
                + i
                + "): "
                + t
                + " decoding "
                + hex(input),
            t);
      }
    }
    // Sanity: the mutations are not all fatal, so the success path is exercised too.
    assertThat(decoded).isGreaterThan(CASES / 50);
  }

  /** Decodes; on success, the value's own encoding must decode to an equal value. */
  private static <T> boolean decodeAndReencode(Codec<T> codec, byte[] input) {
    T value = codec.decode(input);
    T again = codec.decode(codec.encode(value));
    assertThat(again).isEqualTo(value);
    return true;
  }

  private static List<Codec<?>> allCodecs() {
    CrdtCodecs c = Samples.CODECS;
    return List.of(
        c.value(),
        c.gCounter(),
        c.pnCounter(),
        c.lwwRegister(),
        c.versionVector(),
        c.dotSet(),
        c.documentDelta(),
        c.document());
  }

  static byte[] mutate(byte[] original, Random random) {
    byte[] b = original.clone();
    int mutations = 1 + random.nextInt(3);
    for (int m = 0; m < mutations; m++) {
      int pos = b.length == 0 ? 0 : random.nextInt(b.length);
      switch (random.nextInt(7)) {
        case 0 -> { // flip one bit
          if (b.length > 0) {
            b[pos] ^= (byte) (1 << random.nextInt(8));
          }
        }
        case 1 -> { // overwrite one byte
          if (b.length > 0) {
            b[pos] = (byte) random.nextInt(256);
          }
        }
        case 2 -> b = splice(b, pos, 0, new byte[] {(byte) random.nextInt(256)});
        case 3 -> b = splice(b, pos, Math.min(1 + random.nextInt(3), b.length - pos), new byte[0]);
        case 4 -> b = splice(b, pos, 0, NASTY[random.nextInt(NASTY.length)]);
        case 5 -> { // overwrite with a nasty header
          byte[] nasty = NASTY[random.nextInt(NASTY.length)];
          b = splice(b, pos, Math.min(nasty.length, b.length - pos), nasty);
        }
        default -> { // duplicate a slice
          if (b.length > 0) {
            int len = 1 + random.nextInt(Math.min(16, b.length - pos));
            byte[] slice = new byte[len];
            System.arraycopy(b, pos, slice, 0, len);
            b = splice(b, pos, 0, slice);
          }
        }
      }
    }
    return b;
  }

  private static byte[] splice(byte[] b, int pos, int remove, byte[] insert) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(b.length + insert.length);
    out.write(b, 0, pos);
    out.write(insert, 0, insert.length);
    out.write(b, pos + remove, b.length - pos - remove);
    return out.toByteArray();
  }
}

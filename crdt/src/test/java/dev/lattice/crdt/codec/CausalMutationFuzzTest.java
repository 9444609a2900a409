package dev.lattice.crdt.codec;

import static dev.lattice.crdt.codec.Samples.A;
import static dev.lattice.crdt.codec.Samples.B;
import static dev.lattice.crdt.codec.Samples.CODECS;
import static dev.lattice.crdt.codec.Samples.TOP;
import static dev.lattice.crdt.codec.Samples.hex;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.MVRegister;
import dev.lattice.crdt.ORMap;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.PNCounter;
import dev.lattice.crdt.Value;
import dev.lattice.crdt.VersionVector;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link MutationFuzzTest}'s mutations applied to documents and deltas holding OR-Sets,
 * MV-Registers and nested OR-Maps: the bounded decoder may succeed or throw {@link CodecException},
 * nothing else, and what it accepts re-encodes to an equal value. Each case has its own seed,
 * printed on failure.
 */
class CausalMutationFuzzTest {

  private static final long BASE_SEED = 0xCA05_A1F0_22L;
  private static final int CASES = 20_000;

  @Test
  void decodersOfCausalStatesThrowNothingButCodecException() {
    List<Map.Entry<Codec<?>, byte[]>> seeds = seeds();
    int decoded = 0;
    for (int i = 0; i < CASES; i++) {
      long seed = BASE_SEED + i;
      Random random = new Random(seed);
      Map.Entry<Codec<?>, byte[]> sample = seeds.get(random.nextInt(seeds.size()));
      byte[] input = MutationFuzzTest.mutate(sample.getValue(), random);
      try {
        reencode(sample.getKey(), input);
        decoded++;
      } catch (CodecException expected) {
        // fine
      } catch (Throwable t) {
        fail("case seed " + seed + " (case " + i + "): " + t + " decoding " + hex(input), t);
      }
    }
    assertThat(decoded).isGreaterThan(CASES / 100);
  }

  private static <T> void reencode(Codec<T> codec, byte[] input) {
    T value = codec.decode(input);
    assertThat(codec.decode(codec.encode(value))).isEqualTo(value);
  }

  private static List<Map.Entry<Codec<?>, byte[]>> seeds() {
    Document doc = Document.create("fuzz");
    List<DocumentDelta> deltas = new ArrayList<>();
    deltas.add(doc.addToSet(A, "tags", Value.of("x")));
    deltas.add(doc.addToSet(B, "tags", Value.array(Value.of(1L), Value.of("y"))));
    deltas.add(doc.removeFromSet(TOP, "tags", Value.of("x")));
    deltas.add(doc.writeMVRegister(A, "who", Value.of("ann")));
    deltas.add(doc.writeMVRegister(TOP, "who", Value.of(3.5)));
    deltas.add(
        doc.updateMap(
            B,
            "cfg",
            "inner",
            CrdtKind.of(ORMap.class),
            (m, dot) ->
                m.update(dot, "set", CrdtKind.of(ORSet.class), s -> s.add(dot, Value.of(true)))));
    deltas.add(
        doc.updateMap(A, "cfg", "n", CrdtKind.of(PNCounter.class), (c, dot) -> c.add(A, -4)));
    deltas.add(
        doc.updateMap(
            TOP,
            "cfg",
            "mv",
            CrdtKind.of(MVRegister.class),
            (m, dot) -> m.write(dot, Value.of("v"))));
    deltas.add(doc.removeFromMap(A, "cfg", "n"));
    List<Map.Entry<Codec<?>, byte[]>> out = new ArrayList<>();
    for (DocumentDelta d : deltas) {
      out.add(Map.entry(CODECS.documentDelta(), CODECS.documentDelta().encode(d)));
    }
    DocumentDelta all = doc.deltaSince(VersionVector.empty());
    out.add(Map.entry(CODECS.documentDelta(), CODECS.documentDelta().encode(all)));
    out.add(Map.entry(CODECS.document(), CODECS.document().encode(doc)));
    return out;
  }
}

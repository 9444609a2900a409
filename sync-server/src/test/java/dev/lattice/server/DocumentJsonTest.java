package dev.lattice.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lattice.crdt.CrdtKind;
import dev.lattice.crdt.Document;
import dev.lattice.crdt.GCounter;
import dev.lattice.crdt.ORSet;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.Value;
import dev.lattice.hlc.HybridLogicalClock;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DocumentJsonTest {

  private static String json(Value value) {
    StringBuilder out = new StringBuilder();
    DocumentJson.value(out, value);
    return out.toString();
  }

  @Test
  void rendersScalars() {
    assertThat(json(Value.nil())).isEqualTo("null");
    assertThat(json(Value.of(true))).isEqualTo("true");
    assertThat(json(Value.of(-42))).isEqualTo("-42");
    assertThat(json(Value.of(1.5))).isEqualTo("1.5");
    assertThat(json(Value.of("a\"b\\c\n\u0001"))).isEqualTo("\"a\\\"b\\\\c\\n\\u0001\"");
  }

  @Test
  void rendersNonFiniteFloatsAsStrings() {
    assertThat(json(Value.of(Double.NaN))).isEqualTo("\"NaN\"");
    assertThat(json(Value.of(Double.POSITIVE_INFINITY))).isEqualTo("\"Infinity\"");
    assertThat(json(Value.of(Double.NEGATIVE_INFINITY))).isEqualTo("\"-Infinity\"");
  }

  @Test
  void rendersBinaryAsBase64() {
    assertThat(json(Value.of(new byte[] {1, 2, 3}))).isEqualTo("\"AQID\"");
  }

  @Test
  void rendersArraysAndMaps() {
    assertThat(json(Value.array(Value.of(1), Value.of("x")))).isEqualTo("[1,\"x\"]");
    assertThat(json(Value.map(Map.of(Value.of("b"), Value.of(2), Value.of("a"), Value.of(1)))))
        .isEqualTo("{\"a\":1,\"b\":2}");
    assertThat(json(Value.map(Map.of(Value.of(1), Value.of("one"))))).isEqualTo("[[1,\"one\"]]");
  }

  @Test
  void rendersCountersThatReplicasPushedPastALongExactly() {
    // Two replicas merged directly, past any server's COUNTER_OVERFLOW check.
    Document doc = Document.create("d");
    doc.incrementGCounter(ReplicaId.of(1), "g", Long.MAX_VALUE);
    doc.addPNCounter(ReplicaId.of(1), "pn", -Long.MAX_VALUE);
    Document other = Document.create("d");
    doc.merge(other.incrementGCounter(ReplicaId.of(2), "g", 2));
    doc.merge(other.addPNCounter(ReplicaId.of(2), "pn", -3));

    assertThat(DocumentJson.render(doc))
        .isEqualTo(
            "{\"id\":\"d\",\"fields\":{"
                + "\"g\":{\"type\":\"G_COUNTER\",\"value\":9223372036854775809},"
                + "\"pn\":{\"type\":\"PN_COUNTER\",\"value\":-9223372036854775810}}}");
  }

  @Test
  void rendersADocumentsFieldsInNameOrder() {
    ReplicaId r = ReplicaId.of(7);
    Document doc = Document.create("d");
    doc.incrementGCounter(r, "likes", 3);
    doc.addPNCounter(r, "balance", -2);
    doc.setRegister(r, "title", Value.of("T"), new HybridLogicalClock().now());

    assertThat(DocumentJson.render(doc))
        .isEqualTo(
            "{\"id\":\"d\",\"fields\":{"
                + "\"balance\":{\"type\":\"PN_COUNTER\",\"value\":-2},"
                + "\"likes\":{\"type\":\"G_COUNTER\",\"value\":3},"
                + "\"title\":{\"type\":\"LWW_REGISTER\",\"value\":\"T\"}}}");
  }

  /** The example of docs/PROTOCOL.md §12, "Reading a document over HTTP". */
  @Test
  void rendersTheDocumentedExample() throws IOException {
    ReplicaId a = ReplicaId.of(7);
    ReplicaId b = ReplicaId.of(8);
    Document doc = Document.create("d");
    doc.incrementGCounter(a, "likes", 3);
    doc.addPNCounter(a, "balance", -2);
    doc.setRegister(a, "title", Value.of("T"), new HybridLogicalClock().now());
    doc.addToSet(a, "tags", Value.of("red"));
    doc.addToSet(a, "tags", Value.of("blue"));
    doc.removeFromSet(a, "tags", Value.of("red"));
    doc.writeMVRegister(a, "who", Value.of("ann"));
    doc.merge(Document.create("d").writeMVRegister(b, "who", Value.of("bob")));
    doc.updateMap(a, "cfg", "n", CrdtKind.of(GCounter.class), (g, dot) -> g.increment(a, 2));
    doc.updateMap(
        a, "cfg", "labels", CrdtKind.of(ORSet.class), (s, dot) -> s.add(dot, Value.of(1L)));

    // Surefire runs in the module directory; the page is in the reactor root's docs/.
    String page = Files.readString(Path.of("../docs/PROTOCOL.md"), StandardCharsets.UTF_8);
    assertThat(page).contains("json: " + DocumentJson.render(doc) + "\n");
  }
}

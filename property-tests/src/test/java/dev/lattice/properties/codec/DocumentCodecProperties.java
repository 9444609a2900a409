package dev.lattice.properties.codec;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.codec.Codec;
import dev.lattice.crdt.codec.CrdtCodecs;
import dev.lattice.properties.gen.DocumentHistories;
import dev.lattice.properties.laws.CodecLaws;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.Tuple.Tuple2;

/** The codec laws for whole {@link Document}s that real histories reach. */
class DocumentCodecProperties implements CodecLaws<Document> {

  @Override
  public Codec<Document> codec() {
    return CrdtCodecs.defaults().document();
  }

  @Override
  @Provide
  public Arbitrary<Document> encodables() {
    return DocumentHistories.histories(16, false).map(history -> history.replay().docs.get(0));
  }

  /**
   * Two documents built by merging the same deltas in opposite orders, so their hash maps were
   * filled in different orders.
   */
  @Override
  @Provide
  public Arbitrary<Tuple2<Document, Document>> equalPairs() {
    return DocumentHistories.histories(16, false)
        .map(
            history -> {
              List<DocumentDelta> deltas = new ArrayList<>(history.replay().allDeltas);
              Document forward = Document.create(DocumentHistories.DOC_ID);
              deltas.forEach(forward::merge);
              Collections.reverse(deltas);
              Document backward = Document.create(DocumentHistories.DOC_ID);
              deltas.forEach(backward::merge);
              return Tuple.of(forward, backward);
            });
  }
}

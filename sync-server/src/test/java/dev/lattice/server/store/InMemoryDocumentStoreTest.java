package dev.lattice.server.store;

import dev.lattice.server.spi.DocumentStore;
import java.nio.file.Path;

class InMemoryDocumentStoreTest extends DocumentStoreContractTest {

  @Override
  protected DocumentStore open(Path dir) {
    return new InMemoryDocumentStore();
  }
}

package com.example.modular;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Runs on the module path: the application module is named, so are Lattice's. */
class BoardTest {

  @Test
  void aModularApplicationEmbedsTheServerAndSyncs() throws Exception {
    assertTrue(Board.class.getModule().isNamed(), "the test must run on the module path");
    assertEquals("dev.lattice.client", dev.lattice.client.LatticeClient.class.getModule().getName());
    assertEquals(3L, Board.likesAfter(3));
  }
}

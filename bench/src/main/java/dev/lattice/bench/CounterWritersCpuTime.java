package dev.lattice.bench;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.DocumentDelta;
import dev.lattice.crdt.ReplicaId;
import dev.lattice.crdt.VersionVector;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;

/**
 * CPU ns per merged one-increment delta into a document whose field "g" has R writers, for
 * Document.merge alone and for the server's whole per-update check-and-merge sequence
 * (DefaultHub.update: checkOwnDelta, keyTypeConflict, counterOverflow, containsAll, merge); plus
 * the writer's side (incrementGCounter on a document with R writers) and two per-subscribe reads
 * (versionVector, deltaSince of one replica's lag). Median of 5 rounds after 3 warm-up rounds. Run
 * with -Xms2g -Xmx2g -XX:+AlwaysPreTouch: otherwise first touches of a growing heap land in the
 * thread's CPU time and swamp the figures. Single-threaded: run it on its own.
 */
public final class CounterWritersCpuTime {

  private CounterWritersCpuTime() {}

  public static void main(String[] a) {
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    int[] rs = {10, 100, 1000, 10000};
    String[] names = {"merge", "hub-seq", "increment", "versionVector", "deltaSince(1 behind)"};
    double[][][] res = new double[rs.length][names.length][8];
    for (int round = 0; round < 8; round++) {
      for (int ri = 0; ri < rs.length; ri++) {
        int r = rs[ri];
        Document src = Document.create("d");
        Document dst = Document.create("d");
        Document hub = Document.create("d");
        ReplicaId[] ids = new ReplicaId[r];
        for (int i = 0; i < r; i++) {
          ids[i] = ReplicaId.of(1000 + i * 7919L);
          DocumentDelta d = src.incrementGCounter(ids[i], "g", 1);
          dst.merge(d);
          hub.merge(d);
        }
        int n = 20_000;
        DocumentDelta[] ds = new DocumentDelta[n];
        for (int i = 0; i < n; i++) ds[i] = src.incrementGCounter(ids[i % r], "g", 1);
        long t0 = mx.getCurrentThreadCpuTime();
        for (int i = 0; i < n; i++) dst.merge(ds[i]);
        long t1 = mx.getCurrentThreadCpuTime();
        int refused = 0;
        for (int i = 0; i < n; i++) {
          DocumentDelta d = ds[i];
          if (!hub.checkOwnDelta(ids[i % r], d).verdict().accepted()
              || hub.keyTypeConflict(d).isPresent()
              || hub.counterOverflow(d).isPresent()) {
            refused++;
            continue;
          }
          if (!hub.containsAll(d.context())) hub.merge(d);
        }
        long t2 = mx.getCurrentThreadCpuTime();
        if (refused != 0) throw new AssertionError("refused " + refused);
        int m = 5_000;
        for (int i = 0; i < m; i++) src.incrementGCounter(ids[i % r], "g", 1);
        long t3 = mx.getCurrentThreadCpuTime();
        int k = Math.max(20, 200_000 / r);
        long sink = 0;
        for (int i = 0; i < k; i++) sink += dst.versionVector().size();
        long t4 = mx.getCurrentThreadCpuTime();
        VersionVector behind = dst.versionVector();
        dst.merge(src.incrementGCounter(ids[0], "g", 1));
        for (int i = 0; i < k; i++) sink += dst.deltaSince(behind).fields().size();
        long t5 = mx.getCurrentThreadCpuTime();
        if (sink == 42) System.out.print("");
        res[ri][0][round] = (t1 - t0) / (double) n;
        res[ri][1][round] = (t2 - t1) / (double) n;
        res[ri][2][round] = (t3 - t2) / (double) m;
        res[ri][3][round] = (t4 - t3) / (double) k;
        res[ri][4][round] = (t5 - t4) / (double) k;
      }
    }
    System.out.printf("%-22s", "ns (median of 5)");
    for (int r : rs) System.out.printf("%12s", "R=" + r);
    System.out.println();
    for (int op = 0; op < names.length; op++) {
      System.out.printf("%-22s", names[op]);
      for (int ri = 0; ri < rs.length; ri++) {
        double[] v = Arrays.copyOfRange(res[ri][op], 3, 8);
        Arrays.sort(v);
        System.out.printf("%12.0f", v[2]);
      }
      System.out.println();
    }
  }
}

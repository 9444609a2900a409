package dev.lattice.crdt;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The persistent map against {@link HashMap}, and the old versions it must leave untouched. */
class PMapTest {

  @Test
  void behavesLikeATreeMapAndKeepsOldVersions() {
    for (long seed = 1; seed <= 20; seed++) {
      Random r = new Random(seed);
      PMap<Integer, String> map = PMap.empty();
      HashMap<Integer, String> model = new HashMap<>();
      List<PMap<Integer, String>> versions = new ArrayList<>();
      List<HashMap<Integer, String>> models = new ArrayList<>();
      for (int step = 0; step < 400; step++) {
        int key = r.nextInt(60);
        if (r.nextInt(3) == 0) {
          map = map.remove(key);
          model.remove(key);
        } else {
          String value = "v" + r.nextInt(4);
          map = map.put(key, value);
          model.put(key, value);
        }
        assertThat(map.size()).as("seed %d step %d", seed, step).isEqualTo(model.size());
        if (step % 50 == 0) {
          versions.add(map);
          models.add(new HashMap<>(model));
        }
      }
      assertThat(entries(map)).isEqualTo(model);
      for (int k = 0; k < 60; k++) {
        assertThat(map.get(k)).isEqualTo(model.get(k));
      }
      for (int v = 0; v < versions.size(); v++) {
        assertThat(entries(versions.get(v))).isEqualTo(models.get(v));
      }
    }
  }

  @Test
  void equalContentsAreEqualWhateverTheHistory() {
    PMap<Integer, String> a = PMap.empty();
    PMap<Integer, String> b = PMap.empty();
    for (int i = 0; i < 100; i++) {
      a = a.put(i, "x");
      b = b.put(99 - i, "x");
    }
    b = b.put(200, "y").remove(200);
    assertThat(a).isEqualTo(b);
    assertThat(a.hashCode()).isEqualTo(b.hashCode());
    assertThat(a.put(5, "z")).isNotEqualTo(b);
  }

  @Test
  void unchangedUpdatesReturnTheSameVersion() {
    PMap<Integer, String> a = PMap.<Integer, String>empty().put(1, "x");
    assertThat(a.put(1, "x")).isSameAs(a);
    assertThat(a.remove(2)).isSameAs(a);
  }

  @Test
  void dotSetMinusSplitsRanges() {
    ReplicaId r = ReplicaId.of(1);
    DotSet set = DotSet.of(List.of(new DotRange(r, 1, 10), new DotRange(ReplicaId.of(2), 3, 3)));
    DotSet rest =
        set.minus(
            List.of(new Dot(r, 1), new Dot(r, 5), new Dot(r, 10), new Dot(ReplicaId.of(2), 3)));
    assertThat(rest.ranges()).containsExactly(new DotRange(r, 2, 4), new DotRange(r, 6, 9));
    assertThat(rest.dotCount()).isEqualTo(7);
    DotSet top = DotSet.of(List.of(new DotRange(r, Long.MAX_VALUE - 1, Long.MAX_VALUE)));
    assertThat(top.minus(List.of(new Dot(r, Long.MAX_VALUE))).ranges())
        .containsExactly(new DotRange(r, Long.MAX_VALUE - 1, Long.MAX_VALUE - 1));
  }

  @Test
  void keysWithOneHashShareACollisionNode() {
    // "Aa" and "BB" have one String hash code; so do "AaAa", "AaBB", "BBAa" and "BBBB".
    List<String> keys = List.of("Aa", "BB", "AaAa", "AaBB", "BBAa", "BBBB", "x");
    PMap<String, Integer> map = PMap.empty();
    for (int i = 0; i < keys.size(); i++) {
      map = map.put(keys.get(i), i);
    }
    assertThat(map.size()).isEqualTo(keys.size());
    for (int i = 0; i < keys.size(); i++) {
      assertThat(map.get(keys.get(i))).isEqualTo(i);
    }
    PMap<String, Integer> fewer = map.remove("BB").remove("AaBB").remove("nope");
    assertThat(fewer.size()).isEqualTo(keys.size() - 2);
    assertThat(fewer.get("Aa")).isEqualTo(0);
    assertThat(fewer.get("BB")).isNull();
    assertThat(fewer.put("BB", 1).put("AaBB", 3)).isEqualTo(map);
    PMap<String, Integer> none = map;
    for (String k : keys) {
      none = none.remove(k);
    }
    assertThat(none.isEmpty()).isTrue();
    assertThat(none).isEqualTo(PMap.empty());
  }

  @Test
  void aHundredThousandKeysComeAndGo() {
    Random r = new Random(7);
    PMap<Long, Long> map = PMap.empty();
    HashMap<Long, Long> model = new HashMap<>();
    for (int i = 0; i < 200_000; i++) {
      long key = r.nextInt(100_000);
      if (r.nextInt(4) == 0) {
        map = map.remove(key);
        model.remove(key);
      } else {
        map = map.put(key, (long) i);
        model.put(key, (long) i);
      }
    }
    assertThat(map.size()).isEqualTo(model.size());
    assertThat(entries(map)).isEqualTo(model);
  }

  private static <K, V> Map<K, V> entries(PMap<K, V> map) {
    HashMap<K, V> out = new HashMap<>();
    int n = 0;
    for (Map.Entry<K, V> e : map) {
      out.put(e.getKey(), e.getValue());
      n++;
    }
    assertThat(n).as("iteration visits each key once").isEqualTo(out.size());
    return out;
  }
}

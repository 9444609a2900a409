package dev.lattice.crdt;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.function.BiConsumer;

/**
 * A persistent hash map: a hash array mapped trie (Bagwell) of 32-way bitmap-indexed nodes, whose
 * updates copy only the path to the changed slot, at most seven nodes deep for any size and four
 * for a million keys. A new version costs a few short array copies and shares everything else with
 * the old one. It is what lets a causal CRDT of a million elements absorb a one-element delta at
 * nearly the cost of a ten-element one, without copying the million.
 *
 * <p>Iteration follows the hashes, not the keys' order: callers that need an order sort. Equality
 * and hash codes are those of {@link Map}. Immutable and thread-safe (the cached hash code is
 * computed idempotently, as {@link String#hashCode()} does).
 *
 * @param <K> keys, immutable, with {@code equals} and {@code hashCode}
 * @param <V> values, immutable, never null
 */
final class PMap<K, V> implements Iterable<Map.Entry<K, V>> {

  private static final Object[] NO_SLOTS = new Object[0];
  private static final PMap<?, ?> EMPTY = new PMap<>(new Node(0, NO_SLOTS), 0);

  private final Node root;
  private final int size;
  private int hash;

  private PMap(Node root, int size) {
    this.root = root;
    this.size = size;
  }

  @SuppressWarnings("unchecked")
  static <K, V> PMap<K, V> empty() {
    return (PMap<K, V>) EMPTY;
  }

  /** A key and its value, with the key's spread hash. */
  private static final class Leaf implements Map.Entry<Object, Object> {
    final int hash;
    final Object key;
    final Object value;

    Leaf(int hash, Object key, Object value) {
      this.hash = hash;
      this.key = key;
      this.value = value;
    }

    @Override
    public Object getKey() {
      return key;
    }

    @Override
    public Object getValue() {
      return value;
    }

    @Override
    public Object setValue(Object value) {
      throw new UnsupportedOperationException("immutable");
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Map.Entry<?, ?> e && key.equals(e.getKey()) && value.equals(e.getValue());
    }

    @Override
    public int hashCode() {
      return key.hashCode() ^ value.hashCode();
    }

    @Override
    public String toString() {
      return key + "=" + value;
    }
  }

  /** Leaves whose keys have one full hash. */
  private static final class Collision {
    final int hash;
    final Leaf[] leaves;

    Collision(int hash, Leaf[] leaves) {
      this.hash = hash;
      this.leaves = leaves;
    }
  }

  /** Slots for the 5-bit hash fragments set in {@code bitmap}: Leaf, Collision or Node. */
  private static final class Node {
    final int bitmap;
    final Object[] slots;

    Node(int bitmap, Object[] slots) {
      this.bitmap = bitmap;
      this.slots = slots;
    }
  }

  private static int spread(Object key) {
    int h = key.hashCode();
    return h ^ (h >>> 16);
  }

  /**
   * Key (or value) equality, identity first: a join looks keys up with the very objects the state
   * holds (an entry's element is its index's key), and comparing those by {@code equals} would load
   * their contents, a cache miss or more per lookup in a large state.
   */
  private static boolean same(Object a, Object b) {
    return a == b || a.equals(b);
  }

  private static int bit(int hash, int shift) {
    return 1 << ((hash >>> shift) & 31);
  }

  int size() {
    return size;
  }

  boolean isEmpty() {
    return size == 0;
  }

  @SuppressWarnings("unchecked")
  V get(K key) {
    int h = spread(key);
    Node node = root;
    int shift = 0;
    while (true) {
      int bit = bit(h, shift);
      if ((node.bitmap & bit) == 0) {
        return null;
      }
      Object slot = node.slots[Integer.bitCount(node.bitmap & (bit - 1))];
      if (slot instanceof Leaf leaf) {
        return leaf.hash == h && same(leaf.key, key) ? (V) leaf.value : null;
      }
      if (slot instanceof Collision c) {
        if (c.hash != h) {
          return null;
        }
        for (Leaf leaf : c.leaves) {
          if (same(leaf.key, key)) {
            return (V) leaf.value;
          }
        }
        return null;
      }
      node = (Node) slot;
      shift += 5;
    }
  }

  boolean containsKey(K key) {
    return get(key) != null;
  }

  /** This map with {@code key} bound to {@code value} (not null); this map if it already is. */
  PMap<K, V> put(K key, V value) {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(value, "value");
    int[] added = new int[1];
    Node r = put(root, 0, new Leaf(spread(key), key, value), added);
    return r == root ? this : new PMap<>(r, size + added[0]);
  }

  /** This map without {@code key}; this map if it has no such key. */
  PMap<K, V> remove(K key) {
    Objects.requireNonNull(key, "key");
    Object r = remove(root, 0, spread(key), key);
    if (r == root) {
      return this;
    }
    if (size == 1) {
      return empty();
    }
    // A root reduced to one leaf stays a node: only inner nodes collapse into their parent.
    Node node = r instanceof Node n ? n : new Node(bit(hashOf(r), 0), new Object[] {r});
    return new PMap<>(node, size - 1);
  }

  private static int hashOf(Object slot) {
    return slot instanceof Leaf leaf ? leaf.hash : ((Collision) slot).hash;
  }

  private static Node put(Node node, int shift, Leaf leaf, int[] added) {
    int bit = bit(leaf.hash, shift);
    int idx = Integer.bitCount(node.bitmap & (bit - 1));
    if ((node.bitmap & bit) == 0) {
      added[0] = 1;
      Object[] slots = new Object[node.slots.length + 1];
      System.arraycopy(node.slots, 0, slots, 0, idx);
      slots[idx] = leaf;
      System.arraycopy(node.slots, idx, slots, idx + 1, node.slots.length - idx);
      return new Node(node.bitmap | bit, slots);
    }
    Object slot = node.slots[idx];
    Object replaced;
    if (slot instanceof Leaf old) {
      if (old.hash == leaf.hash && same(old.key, leaf.key)) {
        if (same(old.value, leaf.value)) {
          return node;
        }
        replaced = leaf;
      } else if (old.hash == leaf.hash) {
        added[0] = 1;
        replaced = new Collision(leaf.hash, new Leaf[] {old, leaf});
      } else {
        added[0] = 1;
        replaced = pair(shift + 5, old, leaf);
      }
    } else if (slot instanceof Collision c) {
      if (c.hash == leaf.hash) {
        replaced = putCollision(c, leaf, added);
        if (replaced == c) {
          return node;
        }
      } else {
        added[0] = 1;
        replaced = pair(shift + 5, c, leaf);
      }
    } else {
      Node child = (Node) slot;
      replaced = put(child, shift + 5, leaf, added);
      if (replaced == child) {
        return node;
      }
    }
    Object[] slots = node.slots.clone();
    slots[idx] = replaced;
    return new Node(node.bitmap, slots);
  }

  private static Object putCollision(Collision c, Leaf leaf, int[] added) {
    for (int i = 0; i < c.leaves.length; i++) {
      if (c.leaves[i].key.equals(leaf.key)) {
        if (c.leaves[i].value.equals(leaf.value)) {
          return c;
        }
        Leaf[] leaves = c.leaves.clone();
        leaves[i] = leaf;
        return new Collision(c.hash, leaves);
      }
    }
    added[0] = 1;
    Leaf[] leaves = Arrays.copyOf(c.leaves, c.leaves.length + 1);
    leaves[c.leaves.length] = leaf;
    return new Collision(c.hash, leaves);
  }

  /** A node holding two slots (leaf or collision) whose hashes differ. */
  private static Node pair(int shift, Object a, Leaf b) {
    int ha = hashOf(a);
    int ba = bit(ha, shift);
    int bb = bit(b.hash, shift);
    if (ba == bb) {
      return new Node(ba, new Object[] {pair(shift + 5, a, b)});
    }
    return new Node(
        ba | bb, Integer.compareUnsigned(ba, bb) < 0 ? new Object[] {a, b} : new Object[] {b, a});
  }

  /**
   * Removes {@code key} below {@code node}: returns {@code node} itself if absent, else the
   * replacement, which is null (empty), a lone Leaf or Collision (to be inlined by the parent), or
   * a Node.
   */
  private static Object remove(Node node, int shift, int hash, Object key) {
    int bit = bit(hash, shift);
    if ((node.bitmap & bit) == 0) {
      return node;
    }
    int idx = Integer.bitCount(node.bitmap & (bit - 1));
    Object slot = node.slots[idx];
    Object replaced;
    if (slot instanceof Leaf leaf) {
      if (leaf.hash != hash || !same(leaf.key, key)) {
        return node;
      }
      replaced = null;
    } else if (slot instanceof Collision c) {
      if (c.hash != hash) {
        return node;
      }
      int at = -1;
      for (int i = 0; i < c.leaves.length; i++) {
        if (same(c.leaves[i].key, key)) {
          at = i;
        }
      }
      if (at < 0) {
        return node;
      }
      if (c.leaves.length == 2) {
        replaced = c.leaves[1 - at];
      } else {
        Leaf[] leaves = new Leaf[c.leaves.length - 1];
        System.arraycopy(c.leaves, 0, leaves, 0, at);
        System.arraycopy(c.leaves, at + 1, leaves, at, leaves.length - at);
        replaced = new Collision(c.hash, leaves);
      }
    } else {
      Object child = remove((Node) slot, shift + 5, hash, key);
      if (child == slot) {
        return node;
      }
      replaced = child;
    }
    if (replaced == null) {
      if (node.slots.length == 1) {
        return null;
      }
      if (node.slots.length == 2 && !(node.slots[1 - idx] instanceof Node)) {
        return node.slots[1 - idx];
      }
      Object[] slots = new Object[node.slots.length - 1];
      System.arraycopy(node.slots, 0, slots, 0, idx);
      System.arraycopy(node.slots, idx + 1, slots, idx, slots.length - idx);
      return new Node(node.bitmap & ~bit, slots);
    }
    if (node.slots.length == 1 && !(replaced instanceof Node)) {
      return replaced;
    }
    Object[] slots = node.slots.clone();
    slots[idx] = replaced;
    return new Node(node.bitmap, slots);
  }

  @SuppressWarnings("unchecked")
  void forEach(BiConsumer<? super K, ? super V> action) {
    for (Map.Entry<K, V> e : this) {
      action.accept(e.getKey(), e.getValue());
    }
  }

  /** The entries, in an order fixed by the keys' hashes. */
  @Override
  public Iterator<Map.Entry<K, V>> iterator() {
    if (size == 0) {
      return java.util.Collections.emptyIterator();
    }
    ArrayDeque<Object> stack = new ArrayDeque<>();
    pushSlots(stack, root);
    return new Iterator<>() {
      private Leaf[] pending;
      private int pendingAt;

      @Override
      public boolean hasNext() {
        return (pending != null && pendingAt < pending.length) || !stack.isEmpty();
      }

      @Override
      @SuppressWarnings("unchecked")
      public Map.Entry<K, V> next() {
        while (true) {
          if (pending != null && pendingAt < pending.length) {
            return (Map.Entry<K, V>) (Map.Entry<?, ?>) pending[pendingAt++];
          }
          if (stack.isEmpty()) {
            throw new NoSuchElementException();
          }
          Object slot = stack.pop();
          if (slot instanceof Leaf leaf) {
            return (Map.Entry<K, V>) (Map.Entry<?, ?>) leaf;
          }
          if (slot instanceof Collision c) {
            pending = c.leaves;
            pendingAt = 0;
          } else {
            pushSlots(stack, (Node) slot);
          }
        }
      }
    };
  }

  private static void pushSlots(ArrayDeque<Object> stack, Node node) {
    for (int i = node.slots.length - 1; i >= 0; i--) {
      stack.push(node.slots[i]);
    }
  }

  @Override
  @SuppressWarnings("unchecked")
  public boolean equals(Object o) {
    if (o == this) {
      return true;
    }
    if (!(o instanceof PMap<?, ?> other) || other.size != size || other.hashCode() != hashCode()) {
      return false;
    }
    PMap<Object, Object> them = (PMap<Object, Object>) other;
    for (Map.Entry<K, V> e : this) {
      if (!e.getValue().equals(them.get(e.getKey()))) {
        return false;
      }
    }
    return true;
  }

  /** The sum of the entries' hashes, as {@link Map#hashCode()}; computed once. */
  @Override
  public int hashCode() {
    int h = hash;
    if (h == 0 && size > 0) {
      for (Map.Entry<K, V> e : this) {
        h += e.hashCode();
      }
      hash = h;
    }
    return h;
  }

  @Override
  public String toString() {
    StringBuilder out = new StringBuilder("{");
    for (Map.Entry<K, V> e : this) {
      if (out.length() > 1) {
        out.append(", ");
      }
      out.append(e);
    }
    return out.append('}').toString();
  }
}

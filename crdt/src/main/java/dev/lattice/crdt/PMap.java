package dev.lattice.crdt;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.function.BiConsumer;

/**
 * A persistent sorted map: an AVL tree whose updates copy only the path to the changed node, so a
 * new version costs {@code O(log n)} time and space and shares the rest with the old one. It is
 * what lets a causal CRDT of a million elements absorb a one-element delta without copying the
 * million. Iteration is in key order, so equal maps iterate, hash and encode identically.
 *
 * <p>Immutable and thread-safe.
 *
 * @param <K> keys, compared by their natural order, which must agree with {@code equals}
 * @param <V> values, immutable
 */
final class PMap<K extends Comparable<? super K>, V> implements Iterable<Map.Entry<K, V>> {

  private static final PMap<?, ?> EMPTY = new PMap<>(null);

  private final Node<K, V> root;
  private int hash;

  private PMap(Node<K, V> root) {
    this.root = root;
  }

  @SuppressWarnings("unchecked")
  static <K extends Comparable<? super K>, V> PMap<K, V> empty() {
    return (PMap<K, V>) EMPTY;
  }

  private static final class Node<K, V> implements Map.Entry<K, V> {
    final K key;
    final V value;
    final Node<K, V> left;
    final Node<K, V> right;
    final int height;
    final int size;

    Node(K key, V value, Node<K, V> left, Node<K, V> right) {
      this.key = key;
      this.value = value;
      this.left = left;
      this.right = right;
      this.height = 1 + Math.max(height(left), height(right));
      this.size = 1 + size(left) + size(right);
    }

    @Override
    public K getKey() {
      return key;
    }

    @Override
    public V getValue() {
      return value;
    }

    @Override
    public V setValue(V value) {
      throw new UnsupportedOperationException("immutable");
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Map.Entry<?, ?> e
          && key.equals(e.getKey())
          && Objects.equals(value, e.getValue());
    }

    @Override
    public int hashCode() {
      return key.hashCode() ^ Objects.hashCode(value);
    }

    @Override
    public String toString() {
      return key + "=" + value;
    }
  }

  private static int height(Node<?, ?> n) {
    return n == null ? 0 : n.height;
  }

  private static int size(Node<?, ?> n) {
    return n == null ? 0 : n.size;
  }

  int size() {
    return size(root);
  }

  boolean isEmpty() {
    return root == null;
  }

  V get(K key) {
    Node<K, V> n = root;
    while (n != null) {
      int c = key.compareTo(n.key);
      if (c == 0) {
        return n.value;
      }
      n = c < 0 ? n.left : n.right;
    }
    return null;
  }

  boolean containsKey(K key) {
    return get(key) != null;
  }

  /** This map with {@code key} bound to {@code value} (not null); this map if it already is. */
  PMap<K, V> put(K key, V value) {
    Objects.requireNonNull(value, "value");
    Node<K, V> r = put(root, key, value);
    return r == root ? this : new PMap<>(r);
  }

  /** This map without {@code key}; this map if it has no such key. */
  PMap<K, V> remove(K key) {
    Node<K, V> r = remove(root, key);
    return r == root ? this : (r == null ? empty() : new PMap<>(r));
  }

  private static <K extends Comparable<? super K>, V> Node<K, V> put(Node<K, V> n, K key, V value) {
    if (n == null) {
      return new Node<>(key, value, null, null);
    }
    int c = key.compareTo(n.key);
    if (c == 0) {
      return n.value.equals(value) ? n : new Node<>(key, value, n.left, n.right);
    }
    if (c < 0) {
      Node<K, V> l = put(n.left, key, value);
      return l == n.left ? n : balance(n.key, n.value, l, n.right);
    }
    Node<K, V> r = put(n.right, key, value);
    return r == n.right ? n : balance(n.key, n.value, n.left, r);
  }

  private static <K extends Comparable<? super K>, V> Node<K, V> remove(Node<K, V> n, K key) {
    if (n == null) {
      return null;
    }
    int c = key.compareTo(n.key);
    if (c < 0) {
      Node<K, V> l = remove(n.left, key);
      return l == n.left ? n : balance(n.key, n.value, l, n.right);
    }
    if (c > 0) {
      Node<K, V> r = remove(n.right, key);
      return r == n.right ? n : balance(n.key, n.value, n.left, r);
    }
    if (n.left == null) {
      return n.right;
    }
    if (n.right == null) {
      return n.left;
    }
    Node<K, V> min = n.right;
    while (min.left != null) {
      min = min.left;
    }
    return balance(min.key, min.value, n.left, removeMin(n.right));
  }

  private static <K, V> Node<K, V> removeMin(Node<K, V> n) {
    if (n.left == null) {
      return n.right;
    }
    return balance(n.key, n.value, removeMin(n.left), n.right);
  }

  private static <K, V> Node<K, V> balance(K key, V value, Node<K, V> l, Node<K, V> r) {
    int hl = height(l);
    int hr = height(r);
    if (hl > hr + 1) {
      if (height(l.left) >= height(l.right)) {
        return new Node<>(l.key, l.value, l.left, new Node<>(key, value, l.right, r));
      }
      Node<K, V> lr = l.right;
      return new Node<>(
          lr.key,
          lr.value,
          new Node<>(l.key, l.value, l.left, lr.left),
          new Node<>(key, value, lr.right, r));
    }
    if (hr > hl + 1) {
      if (height(r.right) >= height(r.left)) {
        return new Node<>(r.key, r.value, new Node<>(key, value, l, r.left), r.right);
      }
      Node<K, V> rl = r.left;
      return new Node<>(
          rl.key,
          rl.value,
          new Node<>(key, value, l, rl.left),
          new Node<>(r.key, r.value, rl.right, r.right));
    }
    return new Node<>(key, value, l, r);
  }

  void forEach(BiConsumer<? super K, ? super V> action) {
    for (Map.Entry<K, V> e : this) {
      action.accept(e.getKey(), e.getValue());
    }
  }

  /** The entries in key order. */
  @Override
  public Iterator<Map.Entry<K, V>> iterator() {
    ArrayDeque<Node<K, V>> stack = new ArrayDeque<>();
    for (Node<K, V> n = root; n != null; n = n.left) {
      stack.push(n);
    }
    return new Iterator<>() {
      @Override
      public boolean hasNext() {
        return !stack.isEmpty();
      }

      @Override
      public Map.Entry<K, V> next() {
        if (stack.isEmpty()) {
          throw new NoSuchElementException();
        }
        Node<K, V> n = stack.pop();
        for (Node<K, V> m = n.right; m != null; m = m.left) {
          stack.push(m);
        }
        return n;
      }
    };
  }

  @Override
  public boolean equals(Object o) {
    if (o == this) {
      return true;
    }
    if (!(o instanceof PMap<?, ?> other)
        || other.size() != size()
        || other.hashCode() != hashCode()) {
      return false;
    }
    Iterator<Map.Entry<K, V>> a = iterator();
    Iterator<? extends Map.Entry<?, ?>> b = other.iterator();
    while (a.hasNext()) {
      if (!a.next().equals(b.next())) {
        return false;
      }
    }
    return true;
  }

  /** The sum of the entries' hashes, as {@link Map#hashCode()}; computed once. */
  @Override
  public int hashCode() {
    int h = hash;
    if (h == 0 && root != null) {
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

package dev.lattice.crdt.codec;

import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * A read-only map over two parallel arrays, in array order. Decoders collect entries here and hand
 * the map to a type's factory, which copies it into its own sorted map; this view costs no
 * per-entry allocation on the way.
 */
final class ArrayMap<K, V> extends AbstractMap<K, V> {

  private final Object[] keys;
  private final Object[] values;
  private final int size;

  ArrayMap(Object[] keys, Object[] values, int size) {
    this.keys = keys;
    this.values = values;
    this.size = size;
  }

  @Override
  public int size() {
    return size;
  }

  @Override
  @SuppressWarnings("unchecked")
  public void forEach(BiConsumer<? super K, ? super V> action) {
    for (int i = 0; i < size; i++) {
      action.accept((K) keys[i], (V) values[i]);
    }
  }

  @Override
  public Set<Entry<K, V>> entrySet() {
    return new AbstractSet<>() {
      @Override
      public int size() {
        return size;
      }

      @Override
      public Iterator<Entry<K, V>> iterator() {
        return new Iterator<>() {
          private int next;

          @Override
          public boolean hasNext() {
            return next < size;
          }

          @Override
          @SuppressWarnings("unchecked")
          public Entry<K, V> next() {
            if (next >= size) {
              throw new NoSuchElementException();
            }
            int i = next++;
            return new SimpleImmutableEntry<>((K) keys[i], (V) values[i]);
          }
        };
      }
    };
  }
}

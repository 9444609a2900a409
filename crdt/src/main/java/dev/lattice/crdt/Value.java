package dev.lattice.crdt;

import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * An immutable value held by a register, mapping one to one onto the MessagePack types: nil,
 * boolean, integer (signed 64-bit), float (64-bit), string (UTF-8), binary, array and map, so
 * clients in any language read and write the same values.
 *
 * <p>Values have a total order ({@link #compareTo}): first by kind in the order just listed, then
 * by content. Map entries are kept sorted by key in that order, so equal values encode to equal
 * bytes. Floats compare as {@link Double#compare} does, so {@code NaN} equals itself and {@code
 * -0.0} is less than {@code 0.0}. Every value is deeply immutable and thread-safe.
 */
public sealed interface Value extends Comparable<Value>
    permits Value.NilValue,
        Value.BooleanValue,
        Value.IntegerValue,
        Value.FloatValue,
        Value.StringValue,
        Value.BinaryValue,
        Value.ArrayValue,
        Value.MapValue {

  /** The nil value. */
  static Value nil() {
    return NilValue.INSTANCE;
  }

  /** A boolean value. */
  static Value of(boolean value) {
    return value ? BooleanValue.TRUE : BooleanValue.FALSE;
  }

  /** An integer value. */
  static Value of(long value) {
    return new IntegerValue(value);
  }

  /** A float value. */
  static Value of(double value) {
    return new FloatValue(value);
  }

  /** A string value. */
  static Value of(String value) {
    return new StringValue(value);
  }

  /** A binary value holding a copy of {@code bytes}. */
  static Value of(byte[] bytes) {
    return new BinaryValue(bytes);
  }

  /** An array value. */
  static Value array(List<? extends Value> elements) {
    return new ArrayValue(List.copyOf(elements));
  }

  /** An array value. */
  static Value array(Value... elements) {
    return new ArrayValue(List.of(elements));
  }

  /** A map value; the entries are sorted by key. */
  static Value map(Map<? extends Value, ? extends Value> entries) {
    return new MapValue(entries);
  }

  /** Rank of the kind in the total order. */
  int kind();

  @Override
  default int compareTo(Value other) {
    int byKind = Integer.compare(kind(), other.kind());
    return byKind != 0 ? byKind : compareSameKind(other);
  }

  /** Compares with a value of the same kind. */
  int compareSameKind(Value other);

  /** The nil value. All instances are equal; {@link Value#nil()} returns a shared one. */
  record NilValue() implements Value {
    static final NilValue INSTANCE = new NilValue();

    @Override
    public int kind() {
      return 0;
    }

    @Override
    public int compareSameKind(Value other) {
      return 0;
    }

    @Override
    public String toString() {
      return "nil";
    }
  }

  /** A boolean value. */
  record BooleanValue(boolean value) implements Value {
    static final BooleanValue TRUE = new BooleanValue(true);
    static final BooleanValue FALSE = new BooleanValue(false);

    @Override
    public int kind() {
      return 1;
    }

    @Override
    public int compareSameKind(Value other) {
      return Boolean.compare(value, ((BooleanValue) other).value);
    }

    @Override
    public String toString() {
      return Boolean.toString(value);
    }
  }

  /** A signed 64-bit integer value. */
  record IntegerValue(long value) implements Value {
    @Override
    public int kind() {
      return 2;
    }

    @Override
    public int compareSameKind(Value other) {
      return Long.compare(value, ((IntegerValue) other).value);
    }

    @Override
    public String toString() {
      return Long.toString(value);
    }
  }

  /** A 64-bit floating point value. */
  record FloatValue(double value) implements Value {
    @Override
    public int kind() {
      return 3;
    }

    @Override
    public int compareSameKind(Value other) {
      return Double.compare(value, ((FloatValue) other).value);
    }

    @Override
    public String toString() {
      return Double.toString(value);
    }
  }

  /** A string value. */
  record StringValue(String value) implements Value {
    /**
     * @throws IllegalArgumentException if {@code value} has an unpaired surrogate, which no UTF-8
     *     encoding can carry
     */
    public StringValue {
      Objects.requireNonNull(value, "value");
      for (int i = 0; i < value.length(); i++) {
        char c = value.charAt(i);
        if (Character.isHighSurrogate(c)
            && i + 1 < value.length()
            && Character.isLowSurrogate(value.charAt(i + 1))) {
          i++;
        } else if (Character.isSurrogate(c)) {
          throw new IllegalArgumentException(
              "string value has an unpaired surrogate at index " + i + "; it is not valid Unicode");
        }
      }
    }

    @Override
    public int kind() {
      return 4;
    }

    @Override
    public int compareSameKind(Value other) {
      // Code point order, which is the order of the UTF-8 bytes: what a client in any language
      // gets by comparing the encoded form. (String.compareTo's UTF-16 order differs above U+FFFF.)
      String a = value;
      String b = ((StringValue) other).value;
      int i = 0;
      int j = 0;
      while (i < a.length() && j < b.length()) {
        int ca = a.codePointAt(i);
        int cb = b.codePointAt(j);
        if (ca != cb) {
          return Integer.compare(ca, cb);
        }
        i += Character.charCount(ca);
        j += Character.charCount(cb);
      }
      return Boolean.compare(i < a.length(), j < b.length());
    }

    @Override
    public String toString() {
      return '"' + value + '"';
    }
  }

  /** A binary value. The bytes are copied in and out, so the value stays immutable. */
  final class BinaryValue implements Value {
    private final byte[] bytes;

    BinaryValue(byte[] bytes) {
      this.bytes = bytes.clone();
    }

    /** A copy of the bytes. */
    public byte[] bytes() {
      return bytes.clone();
    }

    /** The number of bytes. */
    public int length() {
      return bytes.length;
    }

    @Override
    public int kind() {
      return 5;
    }

    @Override
    public int compareSameKind(Value other) {
      return Arrays.compareUnsigned(bytes, ((BinaryValue) other).bytes);
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof BinaryValue other && Arrays.equals(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
      return "bin" + Arrays.toString(bytes);
    }
  }

  /** An array of values. */
  record ArrayValue(List<Value> elements) implements Value {
    public ArrayValue {
      elements = List.copyOf(elements);
    }

    @Override
    public int kind() {
      return 6;
    }

    @Override
    public int compareSameKind(Value other) {
      List<Value> theirs = ((ArrayValue) other).elements;
      int n = Math.min(elements.size(), theirs.size());
      for (int i = 0; i < n; i++) {
        int c = elements.get(i).compareTo(theirs.get(i));
        if (c != 0) {
          return c;
        }
      }
      return Integer.compare(elements.size(), theirs.size());
    }

    @Override
    public String toString() {
      return elements.toString();
    }
  }

  /** A map from values to values, sorted by key. */
  final class MapValue implements Value {
    private final SortedMap<Value, Value> entries;

    MapValue(Map<? extends Value, ? extends Value> entries) {
      TreeMap<Value, Value> copy = new TreeMap<>();
      entries.forEach(
          (k, v) -> copy.put(Objects.requireNonNull(k, "key"), Objects.requireNonNull(v, "value")));
      this.entries = Collections.unmodifiableSortedMap(copy);
    }

    /** The entries sorted by key; unmodifiable. */
    public SortedMap<Value, Value> entries() {
      return entries;
    }

    @Override
    public int kind() {
      return 7;
    }

    @Override
    public int compareSameKind(Value other) {
      Iterator<Map.Entry<Value, Value>> a = entries.entrySet().iterator();
      Iterator<Map.Entry<Value, Value>> b = ((MapValue) other).entries.entrySet().iterator();
      while (a.hasNext() && b.hasNext()) {
        Map.Entry<Value, Value> x = a.next();
        Map.Entry<Value, Value> y = b.next();
        int c = x.getKey().compareTo(y.getKey());
        if (c == 0) {
          c = x.getValue().compareTo(y.getValue());
        }
        if (c != 0) {
          return c;
        }
      }
      return Boolean.compare(a.hasNext(), b.hasNext());
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof MapValue other && other.entries.equals(entries);
    }

    @Override
    public int hashCode() {
      return entries.hashCode();
    }

    @Override
    public String toString() {
      return entries.toString();
    }
  }
}

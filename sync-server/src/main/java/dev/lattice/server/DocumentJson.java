package dev.lattice.server;

import dev.lattice.crdt.Document;
import dev.lattice.crdt.FieldState;
import dev.lattice.crdt.Value;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * Renders a document's current values as JSON for {@code GET /v1/docs/{id}}:
 *
 * <pre>{"id": "board", "fields": {"likes": {"type": "G_COUNTER", "value": 7}, ...}}</pre>
 *
 * <p>Counters render as their exact value, a JSON integer that may pass the signed 64-bit range in
 * the rare state where replicas' increments met by merging rather than through one server (which
 * refuses them with COUNTER_OVERFLOW); a register as its {@link Value} (null if never written): nil
 * as null, booleans, integers, finite floats as JSON numbers and NaN/Infinity/-Infinity as strings,
 * strings, binary as a base64 string, arrays, maps whose keys are all strings as objects and other
 * maps as an array of {@code [key, value]} pairs. Stateless; thread-safe.
 */
final class DocumentJson {

  private DocumentJson() {}

  static String render(Document document) {
    return render(document, java.util.Set.of());
  }

  /** {@link #render(Document)} of only {@code fields}; all of them when {@code fields} is empty. */
  static String render(Document document, java.util.Set<String> fields) {
    StringBuilder out = new StringBuilder(128);
    out.append("{\"id\":");
    string(out, document.id());
    out.append(",\"fields\":{");
    boolean first = true;
    for (Map.Entry<String, FieldState> field : document.fields().entrySet()) {
      if (!fields.isEmpty() && !fields.contains(field.getKey())) {
        continue;
      }
      if (!first) {
        out.append(',');
      }
      first = false;
      string(out, field.getKey());
      out.append(":{\"type\":");
      string(out, field.getValue().type().name());
      out.append(",\"value\":");
      FieldState state = field.getValue();
      view(out, state.type().kind().viewAny(state.state()));
      out.append('}');
    }
    return out.append("}}").toString();
  }

  /**
   * A {@link dev.lattice.crdt.CrdtKind#view}: null, a Long or BigInteger, a Value, a List or a
   * SortedMap.
   */
  static void view(StringBuilder out, Object view) {
    if (view == null) {
      out.append("null");
    } else if (view instanceof Long n) {
      out.append(n.longValue());
    } else if (view instanceof java.math.BigInteger n) {
      out.append(n);
    } else if (view instanceof Value v) {
      value(out, v);
    } else if (view instanceof List<?> list) {
      out.append('[');
      for (int i = 0; i < list.size(); i++) {
        if (i > 0) {
          out.append(',');
        }
        view(out, list.get(i));
      }
      out.append(']');
    } else if (view instanceof Map<?, ?> map) {
      out.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : map.entrySet()) {
        if (!first) {
          out.append(',');
        }
        first = false;
        string(out, String.valueOf(e.getKey()));
        out.append(':');
        view(out, e.getValue());
      }
      out.append('}');
    } else {
      throw new IllegalStateException("not a CrdtKind view: " + view.getClass());
    }
  }

  static void value(StringBuilder out, Value value) {
    if (value instanceof Value.NilValue) {
      out.append("null");
    } else if (value instanceof Value.BooleanValue b) {
      out.append(b.value());
    } else if (value instanceof Value.IntegerValue i) {
      out.append(i.value());
    } else if (value instanceof Value.FloatValue f) {
      double d = f.value();
      if (Double.isNaN(d) || Double.isInfinite(d)) {
        string(out, Double.toString(d));
      } else {
        out.append(d);
      }
    } else if (value instanceof Value.StringValue s) {
      string(out, s.value());
    } else if (value instanceof Value.BinaryValue bin) {
      string(out, Base64.getEncoder().encodeToString(bin.bytes()));
    } else if (value instanceof Value.ArrayValue array) {
      out.append('[');
      for (int i = 0; i < array.elements().size(); i++) {
        if (i > 0) {
          out.append(',');
        }
        value(out, array.elements().get(i));
      }
      out.append(']');
    } else if (value instanceof Value.MapValue map) {
      boolean stringKeys =
          map.entries().keySet().stream().allMatch(k -> k instanceof Value.StringValue);
      out.append(stringKeys ? '{' : '[');
      boolean first = true;
      for (Map.Entry<Value, Value> e : map.entries().entrySet()) {
        if (!first) {
          out.append(',');
        }
        first = false;
        if (stringKeys) {
          string(out, ((Value.StringValue) e.getKey()).value());
          out.append(':');
          value(out, e.getValue());
        } else {
          out.append('[');
          value(out, e.getKey());
          out.append(',');
          value(out, e.getValue());
          out.append(']');
        }
      }
      out.append(stringKeys ? '}' : ']');
    } else {
      throw new IllegalArgumentException("unknown value kind: " + value);
    }
  }

  static void string(StringBuilder out, String s) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        default -> {
          if (c < 0x20 || c == '\u2028' || c == '\u2029') {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }
}

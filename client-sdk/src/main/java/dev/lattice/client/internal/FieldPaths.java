package dev.lattice.client.internal;

import java.util.List;

/** Names of values inside maps, for messages. Stateless. */
public final class FieldPaths {

  private FieldPaths() {}

  public static String describe(String field, List<String> keys) {
    return keys.isEmpty() ? field : field + "." + String.join(".", keys);
  }

  public static List<String> append(List<String> keys, String key) {
    java.util.ArrayList<String> out = new java.util.ArrayList<>(keys.size() + 1);
    out.addAll(keys);
    out.add(key);
    return List.copyOf(out);
  }
}

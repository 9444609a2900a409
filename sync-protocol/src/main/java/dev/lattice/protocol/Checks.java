package dev.lattice.protocol;

import java.util.Objects;
import java.util.OptionalLong;

/** Argument checks shared by the message records; messages name the bad value. */
final class Checks {

  private Checks() {}

  static long requestId(String message, long requestId) {
    if (requestId < 1) {
      throw new IllegalArgumentException(message + ".requestId must be positive, was " + requestId);
    }
    return requestId;
  }

  static OptionalLong requestId(String message, OptionalLong requestId) {
    Objects.requireNonNull(requestId, () -> message + ".requestId (use OptionalLong.empty())");
    if (requestId.isPresent()) {
      requestId(message, requestId.getAsLong());
    }
    return requestId;
  }

  static String documentId(String message, String documentId) {
    Objects.requireNonNull(documentId, () -> message + ".documentId");
    if (documentId.isEmpty()) {
      throw new IllegalArgumentException(message + ".documentId must not be empty");
    }
    return documentId;
  }

  static <T> T notNull(String message, String field, T value) {
    return Objects.requireNonNull(value, () -> message + "." + field);
  }

  static long nonNegative(String message, String field, long value) {
    if (value < 0) {
      throw new IllegalArgumentException(message + "." + field + " must be >= 0, was " + value);
    }
    return value;
  }
}

package dev.lattice.crdt.codec;

/**
 * Strict UTF-8 validation, as RFC 3629 defines it: no overlong forms, surrogates or code points
 * past U+10FFFF.
 */
final class Utf8 {

  private Utf8() {}

  /** The index of the first byte of the first malformed sequence in {@code b[from, to)}, or -1. */
  static int firstMalformed(byte[] b, int from, int to) {
    int i = from;
    while (i < to) {
      int c = b[i];
      if (c >= 0) {
        i++;
        continue;
      }
      c &= 0xff;
      if (c < 0xC2) {
        // A continuation byte where a sequence should start, or an overlong two-byte lead.
        return i;
      }
      if (c < 0xE0) {
        if (i + 1 >= to || !continuation(b[i + 1])) {
          return i;
        }
        i += 2;
      } else if (c < 0xF0) {
        if (i + 2 >= to) {
          return i;
        }
        int c1 = b[i + 1] & 0xff;
        if ((c == 0xE0 && c1 < 0xA0) // overlong
            || (c == 0xED && c1 > 0x9F) // UTF-16 surrogate
            || !continuation(c1)
            || !continuation(b[i + 2])) {
          return i;
        }
        i += 3;
      } else if (c < 0xF5) {
        if (i + 3 >= to) {
          return i;
        }
        int c1 = b[i + 1] & 0xff;
        if ((c == 0xF0 && c1 < 0x90) // overlong
            || (c == 0xF4 && c1 > 0x8F) // past U+10FFFF
            || !continuation(c1)
            || !continuation(b[i + 2])
            || !continuation(b[i + 3])) {
          return i;
        }
        i += 4;
      } else {
        return i;
      }
    }
    return -1;
  }

  private static boolean continuation(int b) {
    return (b & 0xC0) == 0x80;
  }

  /**
   * The index of the first unpaired surrogate in {@code s}, or -1: such a string has no UTF-8 form.
   */
  static int firstUnpairedSurrogate(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isSurrogate(c)) {
        if (Character.isHighSurrogate(c)
            && i + 1 < s.length()
            && Character.isLowSurrogate(s.charAt(i + 1))) {
          i++;
        } else {
          return i;
        }
      }
    }
    return -1;
  }
}

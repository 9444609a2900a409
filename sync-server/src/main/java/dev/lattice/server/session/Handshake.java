package dev.lattice.server.session;

import java.net.InetSocketAddress;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/**
 * What the WebSocket upgrade of a connection showed: the peer's address and the request headers an
 * extension may read ({@link SessionHooks#connecting(String, dev.lattice.crdt.ReplicaId, int,
 * Handshake)}). Credentials never appear here: {@link #WITHHELD} headers are dropped, as the token
 * reaches extensions only through the authentication hook. Immutable.
 *
 * @param remoteAddress the TCP peer (a proxy's address when there is one)
 * @param headers the request headers, names case-insensitive, each with its values in order
 */
public record Handshake(InetSocketAddress remoteAddress, Map<String, List<String>> headers) {

  /**
   * Headers never handed on: they carry the token (Authorization, Proxy-Authorization, the
   * subprotocol token of docs/PROTOCOL.md) or session cookies.
   */
  public static final Set<String> WITHHELD =
      Set.of("authorization", "proxy-authorization", "cookie", "sec-websocket-protocol");

  /** For sessions with no network peer (tests and simulations drive sessions directly). */
  public static final Handshake NONE =
      new Handshake(InetSocketAddress.createUnresolved("0.0.0.0", 0), Map.of());

  public Handshake {
    Objects.requireNonNull(remoteAddress, "remoteAddress");
    headers = caseInsensitiveCopy(headers);
  }

  private static Map<String, List<String>> caseInsensitiveCopy(Map<String, List<String>> headers) {
    TreeMap<String, List<String>> copy = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
    headers.forEach(
        (name, values) -> {
          if (!WITHHELD.contains(name.toLowerCase(java.util.Locale.ROOT))) {
            copy.merge(name, List.copyOf(values), Handshake::concat);
          }
        });
    return Collections.unmodifiableMap(copy);
  }

  private static List<String> concat(List<String> a, List<String> b) {
    return java.util.stream.Stream.concat(a.stream(), b.stream()).toList();
  }
}

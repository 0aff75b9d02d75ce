/**
 * The client's address: the socket's, or — only when the socket's is a proxy named in
 * TRUSTED_PROXIES — the nearest address in `X-Forwarded-For` that is not one of those proxies
 * (the header read right to left, as Express's proxy-addr does). A client can write anything in
 * that header; only the hops added by our own proxies are believed.
 */
import type { Context } from "hono";
import ipaddr from "ipaddr.js";
import type { AppEnv } from "./app_env.ts";

type Parsed = ReturnType<typeof ipaddr.parse>;
type Range = [Parsed, number];

function parse(address: string): Parsed | null {
  const text = address.trim().replace(/^\[(.*)\]$/, "$1");
  if (!ipaddr.isValid(text)) return null;
  const a = ipaddr.parse(text);
  // IPv4 seen through an IPv6 socket (::ffff:10.0.0.1) is the IPv4 address.
  return a.kind() === "ipv6" && (a as ipaddr.IPv6).isIPv4MappedAddress()
    ? (a as ipaddr.IPv6).toIPv4Address()
    : a;
}

/** A TRUSTED_PROXIES entry (`10.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`) as a range, or null. */
export function parseProxyRange(entry: string): Range | null {
  const text = entry.trim();
  if (text.includes("/")) {
    try {
      return ipaddr.parseCIDR(text);
    } catch {
      return null;
    }
  }
  const a = parse(text);
  return a ? [a, a.kind() === "ipv4" ? 32 : 128] : null;
}

/** A predicate over addresses: true for those in the given ranges. */
export function trustedProxies(entries: readonly string[]): (address: string) => boolean {
  const ranges = entries.map(parseProxyRange).filter((r): r is Range => r !== null);
  return (address) => {
    const a = parse(address);
    return a !== null &&
      ranges.some(([net, bits]) => a.kind() === net.kind() && a.match(net, bits));
  };
}

/**
 * The client's address for `c`: the socket's (`Deno.serve`'s `remoteAddr`), unless it is a
 * trusted proxy, then the last `X-Forwarded-For` hop no trusted proxy added.
 */
export function clientAddress(
  c: Context<AppEnv>,
  trusted: (address: string) => boolean = () => false,
): string {
  const socket = c.env?.remoteAddr?.hostname ?? "unknown";
  if (!trusted(socket)) return socket;
  const hops = (c.req.header("X-Forwarded-For") ?? "").split(",").map((h) => h.trim())
    .filter((h) => h !== "").reverse();
  let current = socket;
  for (const hop of hops) {
    const a = parse(hop);
    if (!a) break; // a hop that is no address: the last one we can vouch for stands
    current = a.toString();
    if (!trusted(current)) break;
  }
  return current;
}

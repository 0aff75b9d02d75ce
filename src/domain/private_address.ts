/**
 * Which addresses are this machine or a private network, for the checks that keep a password
 * from going out in clear and the connection test from probing the inside of a network. Pure:
 * host names are resolved elsewhere and their addresses passed in. The parsing is a few lines of
 * our own rather than a package because src/domain imports only the pure packages the
 * architecture test lists, and these ranges are all it needs.
 */

/** Where an address points. */
export type AddressScope = "loopback" | "private" | "link-local" | "public";

/** An IPv4 literal as four numbers, or null. */
function ipv4(text: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((n) => n <= 255) ? parts : null;
}

/** An IPv6 literal (brackets allowed) as eight 16-bit groups, or null. */
function ipv6(text: string): number[] | null {
  let s = text.replace(/^\[|\]$/g, "").replace(/%.*$/, "").toLowerCase();
  if (!s.includes(":")) return null;
  // An IPv4 tail (::ffff:10.0.0.1) becomes two groups.
  const tail = /:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(s);
  if (tail) {
    const v4 = ipv4(tail[1]);
    if (!v4) return null;
    s = s.slice(0, tail.index + 1) +
      `${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  if (all.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return null;
  return all.map((g) => parseInt(g, 16));
}

/**
 * The scope of an IP address literal, or null when `address` is not one. Private: 10/8,
 * 172.16/12, 192.168/16 (RFC 1918), 100.64/10 (RFC 6598), fc00::/7 (RFC 4193); link-local:
 * 169.254/16 and fe80::/10; loopback: 127/8 and ::1; 0.0.0.0 and :: count as loopback (they
 * reach this machine). IPv4-mapped IPv6 addresses count as their IPv4 address.
 */
export function addressScope(address: string): AddressScope | null {
  const v4 = ipv4(address);
  if (v4) return ipv4Scope(v4);
  const v6 = ipv6(address);
  if (!v6) return null;
  if (v6.slice(0, 5).every((g) => g === 0) && v6[5] === 0xffff) {
    return ipv4Scope([v6[6] >> 8, v6[6] & 255, v6[7] >> 8, v6[7] & 255]);
  }
  if (v6.slice(0, 7).every((g) => g === 0) && (v6[7] === 1 || v6[7] === 0)) return "loopback";
  if ((v6[0] & 0xfe00) === 0xfc00) return "private";
  if ((v6[0] & 0xffc0) === 0xfe80) return "link-local";
  return "public";
}

function ipv4Scope([a, b]: number[]): AddressScope {
  if (a === 127 || a === 0) return "loopback";
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "private";
  if (a === 100 && b >= 64 && b <= 127) return "private";
  if (a === 169 && b === 254) return "link-local";
  return "public";
}

/**
 * True for a host that is this machine without asking DNS: a loopback literal, or `localhost`
 * and its subdomains (RFC 6761 §6.3 reserves them for loopback).
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/\.$/, "");
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  return addressScope(h) === "loopback";
}

/**
 * A URL's host name (`URL.hostname`, an IPv6 literal in brackets) when it is this machine or a
 * private network by itself — `localhost` or an address literal — without asking DNS, unbracketed;
 * null otherwise.
 */
export function insideHost(hostname: string): string | null {
  const host = hostname.replace(/^\[(.*)\]$/, "$1");
  return isLoopbackHost(host) || isPrivateAddress(host) ? host : null;
}

/** True when a connection to this address would reach this machine or a private network. */
export function isPrivateAddress(address: string): boolean {
  const scope = addressScope(address);
  return scope !== null && scope !== "public";
}

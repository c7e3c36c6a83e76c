// How source addresses are grouped by every per-source limit: the sign-in limits
// (identity/rate-limit.ts, identity/request-limits.ts) and the doors' cap on unauthenticated
// connections (protocols/preauth-limiter.ts). One function, so a limit cannot be got around by
// changing the address's spelling or taking another address of one's own /64 at one door only.
// No dependencies: any layer may import it.
import { isIPv4, isIPv6 } from 'node:net';

/** The key a source address counts under: IPv4 as is, IPv6 by its /64 (what one site is given), none as "unknown". */
export function sourceKey(ip: string | null | undefined): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  if (isIPv4(ip)) return ip;
  const bare = ip.split('%')[0]!;
  if (!isIPv6(bare)) return ip.slice(0, 64);
  if (bare === '::1') return '::1';
  return `${expandV6(bare).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of a valid IPv6 address, without leading zeros. */
function expandV6(ip: string): string[] {
  let addr = ip;
  const v4 = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(addr);
  if (v4) {
    const [a, b, c, d] = v4.slice(2).map(Number) as [number, number, number, number];
    addr = `${v4[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = addr.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16).toString(16));
}

/**
 * CIDR matching for IPv4 and IPv6, including IPv4-mapped IPv6 addresses
 * (RFC 4291 §2.5.5.2): a dual-stack listener reports an IPv4 client as
 * `::ffff:192.0.2.1`, and that client must match `192.0.2.1/32`.
 *
 * Every address is held as a 128-bit integer; IPv4 lives in the mapped range
 * `::ffff:0:0/96`, so one comparison serves both families.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { MtlsError } from '../errors/index.js';

const MAPPED_PREFIX = 0xffffn << 32n;
const ALL_ONES = (1n << 128n) - 1n;

/** A parsed IP address. */
export interface ParsedIp {
  /** 4 for IPv4 and IPv4-mapped IPv6, 6 otherwise. */
  family: 4 | 6;
  /** The address as a 128-bit integer (IPv4 in the mapped range). */
  value: bigint;
  /** Canonical text: dotted quad for IPv4 (mapped or not), RFC 5952 form for IPv6. */
  text: string;
}

/** A parsed CIDR block. */
export interface ParsedCidr {
  family: 4 | 6;
  /** Network address as a 128-bit integer (host bits cleared). */
  network: bigint;
  /** Prefix length in the 128-bit space (IPv4 /n is 96 + n). */
  prefix128: number;
  /** Canonical text, e.g. `203.0.113.0/24` or `2001:db8::/48`. */
  text: string;
}

function parseV4(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function parseV6(text: string): bigint {
  let s = text;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  let tailV4: bigint | null = null;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tailV4 = parseV4(s.slice(lastColon + 1));
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const [head, tail] = s.includes('::') ? (s.split('::') as [string, string]) : [s, null];
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === null || tail === '' ? [] : tail.split(':');
  const missing = 8 - headParts.length - tailParts.length;
  const groups = [...headParts, ...Array<string>(tail === null ? 0 : missing).fill('0'), ...tailParts];
  let value = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
  if (tailV4 !== null) value = (value & ~0xffffffffn) | tailV4;
  return value;
}

function v4Text(value: bigint): string {
  const v = Number(value & 0xffffffffn);
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

/** RFC 5952 §4 text for a 128-bit address: lower-case, longest zero run as `::`. */
function v6Text(value: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function isMapped(value: bigint): boolean {
  return value >> 32n === 0xffffn;
}

/**
 * Parses an IP address as a socket reports it (`127.0.0.1`, `::1`,
 * `::ffff:127.0.0.1`, `fe80::1%eth0`).
 * @throws MTLS_BAD_ARGUMENT when the text is not an IP address
 */
export function parseIp(text: string): ParsedIp {
  if (isIPv4(text)) {
    const value = MAPPED_PREFIX | parseV4(text);
    return { family: 4, value, text: v4Text(value) };
  }
  if (isIPv6(text)) {
    const value = parseV6(text);
    if (isMapped(value)) return { family: 4, value, text: v4Text(value) };
    return { family: 6, value, text: v6Text(value) };
  }
  throw new MtlsError('MTLS_BAD_ARGUMENT', `"${text}" is not an IPv4 or IPv6 address`, { subject: text });
}

/**
 * Canonical text of a socket's remote address: IPv4-mapped IPv6 becomes the
 * dotted quad, IPv6 is compressed (RFC 5952). Unparseable input comes back as is.
 */
export function normalizeIp(text: string): string {
  try {
    return parseIp(text).text;
  } catch {
    return text;
  }
}

/**
 * Parses a CIDR block or a single address (`203.0.113.7` → `/32`,
 * `2001:db8::1` → `/128`). Host bits must be zero (`10.0.0.1/8` is refused,
 * as it usually hides a typo).
 * @throws MTLS_BAD_ARGUMENT naming the bad part
 */
export function parseCidr(text: string): ParsedCidr {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addrText = slash >= 0 ? trimmed.slice(0, slash) : trimmed;
  const ip = parseIp(addrText);
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = trimmed.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) {
      throw new MtlsError('MTLS_BAD_ARGUMENT', `CIDR "${text}": prefix length "${p}" must be 0 to ${max}`, { subject: text });
    }
    prefix = Number(p);
  }
  const prefix128 = ip.family === 4 ? 96 + prefix : prefix;
  const mask = prefix128 === 0 ? 0n : (ALL_ONES << BigInt(128 - prefix128)) & ALL_ONES;
  if ((ip.value & ~mask & ALL_ONES) !== 0n) {
    throw new MtlsError('MTLS_BAD_ARGUMENT', `CIDR "${text}" has host bits set; did you mean ${ip.family === 4 ? v4Text(ip.value & mask) : v6Text(ip.value & mask)}/${prefix}?`, {
      subject: text,
    });
  }
  const network = ip.value & mask;
  return { family: ip.family, network, prefix128, text: `${ip.family === 4 ? v4Text(network) : v6Text(network)}/${prefix}` };
}

/** True when the address lies inside the block. */
export function cidrContains(cidr: ParsedCidr, ip: ParsedIp): boolean {
  const mask = cidr.prefix128 === 0 ? 0n : (ALL_ONES << BigInt(128 - cidr.prefix128)) & ALL_ONES;
  return (ip.value & mask) === cidr.network;
}

/**
 * Maps CIDR blocks to values and finds every value whose block contains an
 * address. Host routes (/32, /128) are found in O(1); wider blocks are scanned.
 */
export class IpMatcher<T> {
  private readonly hosts = new Map<bigint, T[]>();
  private readonly blocks: Array<{ cidr: ParsedCidr; value: T }> = [];

  /**
   * Adds a block.
   * @throws MTLS_BAD_ARGUMENT when the CIDR is malformed
   */
  add(cidr: string | ParsedCidr, value: T): void {
    const parsed = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
    if (parsed.prefix128 === 128) {
      const list = this.hosts.get(parsed.network) ?? [];
      list.push(value);
      this.hosts.set(parsed.network, list);
    } else {
      this.blocks.push({ cidr: parsed, value });
    }
  }

  /** Every value registered for a block containing `ip` (no duplicates, insertion order). Unparseable input matches nothing. */
  match(ip: string | ParsedIp): T[] {
    let parsed: ParsedIp;
    try {
      parsed = typeof ip === 'string' ? parseIp(ip) : ip;
    } catch {
      return [];
    }
    const out = new Set<T>(this.hosts.get(parsed.value) ?? []);
    for (const b of this.blocks) if (cidrContains(b.cidr, parsed)) out.add(b.value);
    return [...out];
  }

  /** Number of blocks held. */
  get size(): number {
    let n = this.blocks.length;
    for (const l of this.hosts.values()) n += l.length;
    return n;
  }
}

/**
 * CIDR matching for IPv4 and IPv6, including IPv4-mapped IPv6 addresses
 * (RFC 4291 §2.5.5.2): a dual-stack listener reports an IPv4 client as
 * `::ffff:192.0.2.1`, and that client must match `192.0.2.1/32`.
 *
 * Every address is held as a 128-bit integer; IPv4 lives in the mapped range
 * `::ffff:0:0/96`, so one comparison serves both families. Text parsing is the
 * registry's (registry/cidr.ts), so the gateway matches exactly what was stored.
 */
import { MtlsError } from '../errors/index.js';
import { BoundedMemo } from './memo.js';
import { formatIpBytes, parseCidr as parseRegistryCidr, parseIpBytes } from './registry/cidr.js';

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

/** A CIDR block in the 128-bit space. */
export interface ParsedCidr {
  family: 4 | 6;
  /** Network address as a 128-bit integer (host bits cleared). */
  network: bigint;
  /** Prefix length in the 128-bit space (IPv4 /n is 96 + n). */
  prefix128: number;
  /** Canonical text, e.g. `203.0.113.0/24` or `2001:db8::/48` (as the registry stores it). */
  text: string;
}

function bytesToBigInt(bytes: Buffer): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return bytes.length === 4 ? MAPPED_PREFIX | v : v;
}

function isMapped(value: bigint): boolean {
  return value >> 32n === 0xffffn;
}

/**
 * Parses an IP address as a socket reports it (`127.0.0.1`, `::1`,
 * `::ffff:127.0.0.1`); a zone id (`fe80::1%eth0`) is dropped.
 * @throws MTLS_BAD_ARGUMENT when the text is not an IP address
 */
export function parseIp(text: string): ParsedIp {
  const zone = text.indexOf('%');
  const bytes = parseIpBytes(zone >= 0 ? text.slice(0, zone) : text);
  if (!bytes)
    throw new MtlsError('MTLS_BAD_ARGUMENT', `"${text}" is not an IPv4 or IPv6 address`, {
      subject: text,
    });
  const value = bytesToBigInt(bytes);
  if (isMapped(value)) {
    const v4 = Buffer.alloc(4);
    v4.writeUInt32BE(Number(value & 0xffffffffn));
    return { family: 4, value, text: formatIpBytes(v4) };
  }
  return { family: 6, value, text: formatIpBytes(bytes) };
}

/**
 * {@link normalizeIp}'s answers: every accepted connection asks for its
 * peer's canonical address, and busy clients connect again and again from
 * the same few addresses. Bounded, emptied when full.
 */
const normalized = new BoundedMemo<string>(4096);

/**
 * Canonical text of a socket's remote address: IPv4-mapped IPv6 becomes the
 * dotted quad, IPv6 is compressed (RFC 5952). Unparseable input comes back as is.
 */
export function normalizeIp(text: string): string {
  const known = normalized.get(text);
  if (known !== undefined) return known;
  let out: string;
  try {
    out = parseIp(text).text;
  } catch {
    out = text;
  }
  normalized.set(text, out);
  return out;
}

/**
 * Parses a CIDR block or a single address with the registry's rules
 * (canonical text, host bits must be zero, IPv4-mapped blocks become IPv4).
 * @throws MTLS_BAD_ARGUMENT naming the bad part
 */
export function parseCidr(text: string): ParsedCidr {
  const c = parseRegistryCidr(text);
  const prefix128 = c.family === 4 ? 96 + c.prefix : c.prefix;
  return { family: c.family, network: bytesToBigInt(c.network), prefix128, text: c.text };
}

/** True when the address lies inside the block. */
export function cidrContains(cidr: ParsedCidr, ip: ParsedIp): boolean {
  return (ip.value & maskOf(cidr.prefix128)) === cidr.network;
}

/** The network mask of a prefix length in the 128-bit space. */
function maskOf(prefix128: number): bigint {
  return prefix128 === 0 ? 0n : (ALL_ONES << BigInt(128 - prefix128)) & ALL_ONES;
}

/** One prefix length's blocks: network address → values, plus the length's mask. */
interface PrefixLevel<T> {
  mask: bigint;
  networks: Map<bigint, readonly T[]>;
}

/**
 * Maps CIDR blocks to values and finds every value whose block contains an
 * address. Blocks are indexed by prefix length (one map per length, keyed by
 * network address), so a lookup costs one mask and one map probe per distinct
 * prefix length registered (at most 129), however many blocks there are.
 *
 * A matcher never changes once another one was derived from it
 * ({@link IpMatcher.derive}): the two share their prefix levels until one of
 * them writes to a level, which then gets its own copy, so a trust snapshot
 * still in use by a connection keeps the index it was built with while the
 * next snapshot's index costs the changed blocks, not a rebuild of every one.
 */
export class IpMatcher<T> {
  /** Prefix length → its level. */
  private byPrefix = new Map<number, PrefixLevel<T>>();
  /** Levels this matcher may write to (the others are shared with the matcher it was derived from). */
  private readonly owned = new Set<number>();
  /** Prefix lengths present, longest first (most specific matches come first). */
  private prefixes: number[] = [];
  private count = 0;

  /**
   * Adds a block.
   * @throws MTLS_BAD_ARGUMENT when the CIDR is malformed
   */
  add(cidr: string | ParsedCidr, value: T): void {
    const parsed = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
    const level = this.ownLevel(parsed.prefix128);
    // A new array, never a push: the old one may be shared with another matcher.
    level.networks.set(parsed.network, [...(level.networks.get(parsed.network) ?? []), value]);
    this.count++;
  }

  /** Removes one block's entry for `value` (nothing when it is absent). */
  remove(cidr: ParsedCidr, value: T): void {
    const level = this.byPrefix.get(cidr.prefix128);
    const list = level?.networks.get(cidr.network);
    if (!list?.includes(value)) return;
    const mine = this.ownLevel(cidr.prefix128);
    const rest = list.filter((v) => v !== value);
    if (rest.length > 0) mine.networks.set(cidr.network, rest);
    else mine.networks.delete(cidr.network);
    this.count -= list.length - rest.length;
    if (mine.networks.size === 0) {
      this.byPrefix.delete(cidr.prefix128);
      this.owned.delete(cidr.prefix128);
      this.prefixes = this.prefixes.filter((p) => p !== cidr.prefix128);
    }
  }

  /**
   * A matcher with the same blocks as this one, sharing its levels until
   * either writes to one (see the class comment). Apply the changes to the
   * copy with {@link remove} and {@link add}; this matcher stays as it is.
   */
  derive(): IpMatcher<T> {
    const copy = new IpMatcher<T>();
    copy.byPrefix = new Map(this.byPrefix);
    copy.prefixes = this.prefixes;
    copy.count = this.count;
    // Both sides must copy a level before writing to it now.
    this.owned.clear();
    return copy;
  }

  /** Every value registered for a block containing `ip` (no duplicates; most specific block first). Unparseable input matches nothing. */
  match(ip: string | ParsedIp): T[] {
    let parsed: ParsedIp;
    try {
      parsed = typeof ip === 'string' ? parseIp(ip) : ip;
    } catch {
      return [];
    }
    const out = new Set<T>();
    for (const prefix of this.prefixes) {
      const level = this.byPrefix.get(prefix);
      if (!level) continue;
      const hit = level.networks.get(parsed.value & level.mask);
      if (hit) for (const v of hit) out.add(v);
    }
    return [...out];
  }

  /** Number of blocks held. */
  get size(): number {
    return this.count;
  }

  /** The level of a prefix length, copied first when it is shared. */
  private ownLevel(prefix128: number): PrefixLevel<T> {
    const level = this.byPrefix.get(prefix128);
    if (level && this.owned.has(prefix128)) return level;
    const mine: PrefixLevel<T> = level
      ? { mask: level.mask, networks: new Map(level.networks) }
      : { mask: maskOf(prefix128), networks: new Map() };
    this.byPrefix.set(prefix128, mine);
    this.owned.add(prefix128);
    if (!level) this.prefixes = [...this.byPrefix.keys()].sort((a, b) => b - a);
    return mine;
  }
}

/**
 * True when a listen host is loopback only: `localhost`, 127.0.0.0/8, `::1`
 * (or 127.0.0.0/8 written as an IPv4-mapped IPv6 address). A wildcard
 * (`0.0.0.0`, `::`) or any other address is reachable from the network.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(h);
}

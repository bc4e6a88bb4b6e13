/**
 * The PROXY protocol (versions 1 and 2, as HAProxy's doc/proxy-protocol.txt
 * specifies them): the few bytes an L4 load balancer writes before the
 * client's first byte to say whom it relays.
 *
 * {@link parseProxyHeader} is pure and incremental: give it every byte read so
 * far and it answers `ok` (the header and the bytes behind it, which belong to
 * the TLS ClientHello and must be replayed into the TLS socket), `need-more`
 * (a prefix of a valid header: read on) or `invalid` with a reason from a
 * closed set. It decides as early as the bytes allow, so a peer never gets to
 * make the gateway buffer more than {@link PROXY_V2_MAX_BYTES}.
 *
 * What the header means is the listener's business (listener.ts): here a
 * LOCAL command, an UNKNOWN (v1) or UNSPEC / AF_UNIX (v2) family, or a
 * datagram transport all come back with `source: null`, which per the
 * specification means "use the real connection's addresses".
 */
import { formatIpBytes, parseIpBytes } from './registry/cidr.js';

/** The v1 signature: "PROXY" (then exactly one space). */
const V1_SIGNATURE = Buffer.from('PROXY', 'latin1');
/** The v2 signature: `\r\n\r\n\0\r\nQUIT\n`. */
export const PROXY_V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
/** Fixed part of a v2 header: signature, version/command, family/transport, length. */
const V2_FIXED = 16;

/**
 * Longest v1 line, CRLF included (the specification's worst case,
 * `PROXY UNKNOWN <ipv6> <ipv6> 65535 65535\r\n`).
 */
export const PROXY_V1_MAX_BYTES = 107;

/**
 * Largest v2 header accepted, fixed part included. The wire format allows
 * 16 + 65 535 bytes, but in front of a TLS-terminating gateway a balancer
 * relays TCP as is, so what it sends is addresses (at most 216 bytes, AF_UNIX)
 * plus small TLVs: ALPN and authority, a unique id of at most 128 bytes
 * (PP2_TYPE_UNIQUE_ID), a CRC32C, cloud endpoint ids (AWS VPC endpoint, Azure
 * link id, GCP PSC id). 4 KiB is an order of magnitude above that, leaves room
 * for NOOP padding and custom TLVs, and bounds what every connection still
 * waiting for its header may hold in memory.
 */
export const PROXY_V2_MAX_BYTES = 4096;

/** An address and port taken from the header. */
export interface ProxyEndpoint {
  /** Dotted quad or RFC 5952 IPv6 text, as the header gave the family (an IPv4-mapped IPv6 address stays IPv6 here). */
  address: string;
  port: number;
}

/** A parsed PROXY header. */
export interface ProxyHeader {
  version: 1 | 2;
  /**
   * `proxy`: relayed on behalf of a client. `local` (v2 only): the balancer's
   * own connection, e.g. a health check; the real peer is the client.
   */
  command: 'proxy' | 'local';
  /** Address family as announced (`unspec` for v1 UNKNOWN, v2 AF_UNSPEC, and every LOCAL header). */
  family: 'ipv4' | 'ipv6' | 'unix' | 'unspec';
  /** Transport as announced (v1 is always `stream`, UNKNOWN `unspec`). */
  transport: 'stream' | 'dgram' | 'unspec';
  /**
   * The client: set only for a `proxy` command relaying TCP over IPv4 or
   * IPv6; null means "use the real connection's peer" (LOCAL, UNKNOWN,
   * UNSPEC, AF_UNIX, datagrams).
   */
  source: ProxyEndpoint | null;
  /** The address the client connected to, under the same rule as {@link source}. */
  destination: ProxyEndpoint | null;
  /** Types of the v2 TLVs present, in order (skipped; a CRC32C is verified). */
  tlvTypes: number[];
  /** Header length in bytes. */
  length: number;
}

/** Why bytes are not a PROXY header. */
export type ProxyInvalidReason =
  /** The bytes do not start with either signature: no PROXY header was sent (a TLS ClientHello starts with 0x16). */
  | 'no-signature'
  /** A signature, then something the specification does not allow. */
  | 'malformed'
  /** Longer than {@link PROXY_V1_MAX_BYTES} (v1) or {@link PROXY_V2_MAX_BYTES} (v2). */
  | 'oversized';

/** Result of {@link parseProxyHeader}. */
export type ProxyParseResult =
  | { kind: 'ok'; header: ProxyHeader; rest: Buffer }
  | { kind: 'need-more' }
  | { kind: 'invalid'; reason: ProxyInvalidReason; detail: string };

const NEED_MORE: ProxyParseResult = Object.freeze({ kind: 'need-more' });

function invalid(reason: ProxyInvalidReason, detail: string): ProxyParseResult {
  return { kind: 'invalid', reason, detail };
}

/** True when `bytes` and `signature` agree on their common length. */
function prefixMatches(bytes: Buffer, signature: Buffer): boolean {
  const n = Math.min(bytes.length, signature.length);
  return bytes.subarray(0, n).equals(signature.subarray(0, n));
}

/**
 * Parses a PROXY header (v1 or v2) from the first bytes of a connection.
 * Never throws; see the module comment for the three outcomes.
 * @param bytes - everything read from the connection so far
 */
export function parseProxyHeader(bytes: Buffer): ProxyParseResult {
  if (bytes.length === 0) return NEED_MORE;
  if (bytes[0] === 0x50) {
    if (!prefixMatches(bytes, V1_SIGNATURE))
      return invalid(
        'no-signature',
        'the connection does not start with a PROXY protocol signature',
      );
    return bytes.length < V1_SIGNATURE.length ? NEED_MORE : parseV1(bytes);
  }
  if (bytes[0] === 0x0d) {
    if (!prefixMatches(bytes, PROXY_V2_SIGNATURE))
      return invalid(
        'no-signature',
        'the connection does not start with a PROXY protocol signature',
      );
    return bytes.length < PROXY_V2_SIGNATURE.length ? NEED_MORE : parseV2(bytes);
  }
  return invalid('no-signature', 'the connection does not start with a PROXY protocol signature');
}

// ------------------------------------------------------------------- v1

/** A decimal port without leading zeros (the specification forbids them: octal confusion). */
const V1_PORT = /^(?:0|[1-9][0-9]{0,4})$/;

function parseV1(bytes: Buffer): ProxyParseResult {
  const limit = Math.min(bytes.length, PROXY_V1_MAX_BYTES);
  let end = -1;
  // US-ASCII printable characters only, and CR only as the first half of CRLF
  // (the specification refuses a lone CR or LF as the end of the line).
  for (let i = V1_SIGNATURE.length; i < limit; i++) {
    const c = bytes.readUInt8(i);
    if (c === 0x0d) {
      if (i + 1 >= bytes.length)
        return bytes.length >= PROXY_V1_MAX_BYTES
          ? invalid('oversized', `v1 line without CRLF in the first ${PROXY_V1_MAX_BYTES} bytes`)
          : NEED_MORE;
      if (bytes[i + 1] !== 0x0a) return invalid('malformed', 'v1 line: CR not followed by LF');
      end = i;
      break;
    }
    if (c < 0x20 || c > 0x7e)
      return invalid(
        'malformed',
        `v1 line: byte 0x${c.toString(16).padStart(2, '0')} at offset ${i} is not printable US-ASCII`,
      );
  }
  if (end < 0) {
    return bytes.length >= PROXY_V1_MAX_BYTES
      ? invalid('oversized', `v1 line without CRLF in the first ${PROXY_V1_MAX_BYTES} bytes`)
      : NEED_MORE;
  }
  const length = end + 2;
  const line = bytes.toString('latin1', 0, end);
  const parts = line.split(' ');
  if (parts[0] !== 'PROXY')
    return invalid('malformed', 'v1 line: "PROXY" must be followed by exactly one space');
  const proto = parts[1];
  if (proto === 'UNKNOWN') {
    // The specification: the receiver ignores anything after UNKNOWN up to CRLF.
    return {
      kind: 'ok',
      header: {
        version: 1,
        command: 'proxy',
        family: 'unspec',
        transport: 'unspec',
        source: null,
        destination: null,
        tlvTypes: [],
        length,
      },
      rest: bytes.subarray(length),
    };
  }
  if (proto !== 'TCP4' && proto !== 'TCP6')
    return invalid(
      'malformed',
      `v1 line: protocol ${JSON.stringify(proto ?? '')} is not TCP4, TCP6 or UNKNOWN`,
    );
  if (parts.length !== 6)
    return invalid(
      'malformed',
      `v1 line: ${proto} needs exactly four fields separated by single spaces`,
    );
  const family = proto === 'TCP4' ? 'ipv4' : 'ipv6';
  const [, , srcText = '', dstText = '', srcPortText = '', dstPortText = ''] = parts;
  const src = v1Address(srcText, family);
  const dst = v1Address(dstText, family);
  if (!src || !dst)
    return invalid(
      'malformed',
      `v1 line: ${!src ? 'source' : 'destination'} address ${JSON.stringify(!src ? parts[2] : parts[3])} is not an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address`,
    );
  const srcPort = v1Port(srcPortText);
  const dstPort = v1Port(dstPortText);
  if (srcPort === null || dstPort === null) {
    return invalid(
      'malformed',
      `v1 line: ${srcPort === null ? 'source' : 'destination'} port ${JSON.stringify(srcPort === null ? parts[4] : parts[5])} is not a decimal 0..65535 without leading zeros`,
    );
  }
  return {
    kind: 'ok',
    header: {
      version: 1,
      command: 'proxy',
      family,
      transport: 'stream',
      source: { address: src, port: srcPort },
      destination: { address: dst, port: dstPort },
      tlvTypes: [],
      length,
    },
    rest: bytes.subarray(length),
  };
}

/** Canonical text of a v1 address of the announced family, or null. */
function v1Address(text: string, family: 'ipv4' | 'ipv6'): string | null {
  const b = parseIpBytes(text);
  if (!b || b.length !== (family === 'ipv4' ? 4 : 16)) return null;
  return formatIpBytes(b);
}

function v1Port(text: string): number | null {
  if (!V1_PORT.test(text)) return null;
  const n = Number(text);
  return n <= 65535 ? n : null;
}

// ------------------------------------------------------------------- v2

/** Address block lengths by family nibble (INET, INET6, UNIX). */
const V2_ADDRESS_LENGTH: Readonly<Record<number, number>> = { 0x1: 12, 0x2: 36, 0x3: 216 };
const PP2_TYPE_CRC32C = 0x03;
/** Address families and transports by their nibble of the v2 header's 14th byte. */
const V2_FAMILIES: readonly ProxyHeader['family'][] = ['unspec', 'ipv4', 'ipv6', 'unix'];
const V2_TRANSPORTS: readonly ProxyHeader['transport'][] = ['unspec', 'stream', 'dgram'];

function parseV2(bytes: Buffer): ProxyParseResult {
  if (bytes.length > PROXY_V2_SIGNATURE.length) {
    const verCmd = bytes.readUInt8(12);
    if (verCmd >> 4 !== 2)
      return invalid('malformed', `v2 header: version ${verCmd >> 4}, only 2 exists`);
    if ((verCmd & 0x0f) > 1)
      return invalid(
        'malformed',
        `v2 header: command 0x${(verCmd & 0x0f).toString(16)} is neither LOCAL nor PROXY`,
      );
  }
  if (bytes.length > 13) {
    const fam = bytes.readUInt8(13);
    if (fam >> 4 > 3 || (fam & 0x0f) > 2)
      return invalid(
        'malformed',
        `v2 header: family/transport byte 0x${fam.toString(16).padStart(2, '0')} is not defined`,
      );
  }
  if (bytes.length < V2_FIXED) return NEED_MORE;
  const verCmd = bytes.readUInt8(12);
  const fam = bytes.readUInt8(13);
  const length = V2_FIXED + bytes.readUInt16BE(14);
  if (length > PROXY_V2_MAX_BYTES)
    return invalid(
      'oversized',
      `v2 header of ${length} bytes (at most ${PROXY_V2_MAX_BYTES} accepted)`,
    );
  if (bytes.length < length) return NEED_MORE;
  const header = bytes.subarray(0, length);
  const rest = bytes.subarray(length);
  const local = (verCmd & 0x0f) === 0;
  const familyNibble = fam >> 4;
  const transportNibble = fam & 0x0f;
  // Both nibbles were checked against the defined values above.
  const family = V2_FAMILIES[familyNibble] ?? 'unspec';
  const transport = V2_TRANSPORTS[transportNibble] ?? 'unspec';
  if (local) {
    // LOCAL: the specification says discard the whole block, family included,
    // and never assume it is empty.
    return {
      kind: 'ok',
      header: {
        version: 2,
        command: 'local',
        family: 'unspec',
        transport: 'unspec',
        source: null,
        destination: null,
        tlvTypes: [],
        length,
      },
      rest,
    };
  }
  const addressLength =
    family === 'unspec' || transport === 'unspec' ? 0 : (V2_ADDRESS_LENGTH[familyNibble] ?? 0);
  if (length - V2_FIXED < addressLength)
    return invalid(
      'malformed',
      `v2 header: ${length - V2_FIXED} bytes of addresses, ${family}/${transport} needs ${addressLength}`,
    );
  let source: ProxyEndpoint | null = null;
  let destination: ProxyEndpoint | null = null;
  // Only TCP over IPv4/IPv6 names a client the gateway can use; a datagram or
  // AF_UNIX relay falls back to the real peer, as the specification allows.
  if (transport === 'stream' && (family === 'ipv4' || family === 'ipv6')) {
    const n = family === 'ipv4' ? 4 : 16;
    const a = V2_FIXED;
    source = {
      address: formatIpBytes(Buffer.from(header.subarray(a, a + n))),
      port: header.readUInt16BE(a + 2 * n),
    };
    destination = {
      address: formatIpBytes(Buffer.from(header.subarray(a + n, a + 2 * n))),
      port: header.readUInt16BE(a + 2 * n + 2),
    };
  }
  const tlvTypes: number[] = [];
  // With an unspecified family or transport the specification says to ignore
  // the block, so only a known address layout is followed by checked TLVs.
  if (addressLength > 0) {
    const checked = checkTlvs(header, V2_FIXED + addressLength, tlvTypes);
    if (checked) return invalid('malformed', `v2 header: ${checked}`);
  }
  return {
    kind: 'ok',
    header: {
      version: 2,
      command: 'proxy',
      family,
      transport,
      source,
      destination,
      tlvTypes,
      length,
    },
    rest,
  };
}

/**
 * Walks the TLVs after the addresses: each must fit inside the header. A
 * CRC32C TLV is 4 bytes and must match (the specification: a receiver that
 * supports it treats a mismatch as an invalid connection). Every other type
 * is skipped. Returns what is wrong, or null.
 */
function checkTlvs(header: Buffer, from: number, types: number[]): string | null {
  let p = from;
  while (p < header.length) {
    if (p + 3 > header.length) return `truncated TLV at offset ${p}`;
    const type = header.readUInt8(p);
    const len = header.readUInt16BE(p + 1);
    if (p + 3 + len > header.length)
      return `TLV 0x${type.toString(16)} at offset ${p} claims ${len} bytes, past the header's end`;
    if (type === PP2_TYPE_CRC32C) {
      if (len !== 4) return `CRC32C TLV of ${len} bytes (4 expected)`;
      const stated = header.readUInt32BE(p + 3);
      const zeroed = Buffer.from(header);
      zeroed.writeUInt32BE(0, p + 3);
      if (crc32c(zeroed) !== stated) return 'CRC32C checksum mismatch';
    }
    types.push(type);
    p += 3 + len;
  }
  return null;
}

let CRC32C_TABLE: Uint32Array | null = null;

/** CRC32C (Castagnoli, RFC 4960 Appendix B), reflected polynomial 0x82F63B78. */
export function crc32c(data: Uint8Array): number {
  if (!CRC32C_TABLE) {
    CRC32C_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
      CRC32C_TABLE[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of data) crc = (CRC32C_TABLE[(crc ^ b) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// ------------------------------------------------------------- builders

/** Options for {@link buildProxyHeader}. */
export interface BuildProxyHeaderOptions {
  version: 1 | 2;
  /** Omitted: v1 UNKNOWN, or a v2 LOCAL header. */
  source?: ProxyEndpoint;
  destination?: ProxyEndpoint;
  /** v2 only: TLVs appended after the addresses. */
  tlvs?: Array<{ type: number; value: Uint8Array }>;
  /** v2 only: append a CRC32C TLV over the whole header. */
  crc32c?: boolean;
}

/**
 * Builds a PROXY header, as a balancer would send it (tests, fuzzing, and
 * operators checking a set-up by hand).
 * @throws TypeError when the addresses are not IP addresses of one family
 */
export function buildProxyHeader(o: BuildProxyHeaderOptions): Buffer {
  const src = o.source ? parseIpBytes(o.source.address) : null;
  const dst = o.destination ? parseIpBytes(o.destination.address) : null;
  if ((o.source || o.destination) && (!src || !dst || src.length !== dst.length))
    throw new TypeError('source and destination must be IP addresses of the same family');
  if (o.version === 1) {
    if (!src || !dst || !o.source || !o.destination)
      return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
    return Buffer.from(
      `PROXY ${src.length === 4 ? 'TCP4' : 'TCP6'} ${formatIpBytes(src)} ${formatIpBytes(dst)} ${o.source.port} ${o.destination.port}\r\n`,
      'latin1',
    );
  }
  const parts: Buffer[] = [];
  let fam = 0x00;
  let verCmd = 0x20;
  if (src && dst && o.source && o.destination) {
    verCmd = 0x21;
    fam = src.length === 4 ? 0x11 : 0x21;
    const ports = Buffer.alloc(4);
    ports.writeUInt16BE(o.source.port, 0);
    ports.writeUInt16BE(o.destination.port, 2);
    parts.push(src, dst, ports);
  }
  for (const t of o.tlvs ?? []) {
    const h = Buffer.alloc(3);
    h[0] = t.type;
    h.writeUInt16BE(t.value.length, 1);
    parts.push(h, Buffer.from(t.value));
  }
  if (o.crc32c) parts.push(Buffer.from([PP2_TYPE_CRC32C, 0, 4, 0, 0, 0, 0]));
  const body = Buffer.concat(parts);
  const fixed = Buffer.alloc(4);
  fixed[0] = verCmd;
  fixed[1] = fam;
  fixed.writeUInt16BE(body.length, 2);
  const out = Buffer.concat([PROXY_V2_SIGNATURE, fixed, body]);
  if (o.crc32c) out.writeUInt32BE(crc32c(out), out.length - 4);
  return out;
}

/**
 * IP addresses and CIDR blocks for the registry: parsing, validation and one
 * canonical text form, so that the same block is never stored twice under two
 * spellings and a lookup by text finds it.
 */
import { MtlsError } from '../../errors/index.js';
import { formatIpBytes, parseIpBytes } from '../../pki/ip-text.js';

/** A parsed CIDR block. */
export interface ParsedCidr {
  /** 4 or 6. */
  family: 4 | 6;
  /** Network address bytes (4 or 16), host bits zero. */
  network: Buffer;
  /** Prefix length (0–32 or 0–128). */
  prefix: number;
  /** Canonical text: `203.0.113.7/32`, `2001:db8::/48` (RFC 5952 §4 for IPv6). */
  text: string;
}

export { formatIpBytes, parseIpBytes };

const MAPPED_PREFIX = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

/**
 * Parses an IP address or CIDR block and returns its canonical form. A bare
 * address becomes a /32 or /128. An IPv4-mapped IPv6 block (`::ffff:a.b.c.d/n`,
 * n ≥ 96) becomes the IPv4 block, because a dual-stack listener reports IPv4
 * peers in that form and the registry must match either spelling.
 *
 * Fails closed: host bits set (`10.0.0.5/24`) are refused rather than silently
 * widened, and a /0 block is refused because it would register every address
 * on the Internet for one institution and defeat the source-IP binding.
 * @param field - what the value is, for messages (default `IP/CIDR`)
 * @throws MTLS_BAD_ARGUMENT naming the value and what is wrong
 */
export function parseCidr(input: string, field = 'IP/CIDR'): ParsedCidr {
  const raw = input.trim();
  const slash = raw.indexOf('/');
  const addrText = slash < 0 ? raw : raw.slice(0, slash);
  const prefixText = slash < 0 ? undefined : raw.slice(slash + 1);
  let bytes = parseIpBytes(addrText);
  if (!bytes) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `${field} "${input}" is not an IPv4 or IPv6 address or CIDR block`,
      {
        subject: field,
        hint: 'Write an address (203.0.113.7, 2001:db8::7) or a block (203.0.113.0/24, 2001:db8::/48), without zone ids.',
      },
    );
  }
  const maxBits = bytes.length * 8;
  let prefix = maxBits;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > maxBits) {
      throw new MtlsError(
        'MTLS_BAD_ARGUMENT',
        `${field} "${input}" has an invalid prefix length "/${prefixText}" (0–${maxBits} allowed for IPv${maxBits === 32 ? 4 : 6})`,
        {
          subject: field,
        },
      );
    }
    prefix = Number(prefixText);
  }
  if (bytes.length === 16 && prefix >= 96 && bytes.subarray(0, 12).equals(MAPPED_PREFIX)) {
    bytes = Buffer.from(bytes.subarray(12));
    prefix -= 96;
  }
  const family: 4 | 6 = bytes.length === 4 ? 4 : 6;
  const network = maskBytes(bytes, prefix);
  if (!network.equals(bytes)) {
    const suggestion = `${formatIpBytes(network)}/${prefix}`;
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `${field} "${input}" has host bits set beyond /${prefix}`,
      {
        subject: field,
        hint: `Did you mean ${suggestion}? Or register the single address as ${formatIpBytes(bytes)}.`,
      },
    );
  }
  if (prefix === 0) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `${field} "${input}" covers every IPv${family} address; an institution must be bound to its own static IPs`,
      {
        subject: field,
        hint: "Register the institution's static addresses or its provider-assigned block, not /0.",
      },
    );
  }
  return { family, network, prefix, text: `${formatIpBytes(network)}/${prefix}` };
}

/**
 * The canonical text of an IP or CIDR (see {@link parseCidr}).
 * @throws MTLS_BAD_ARGUMENT
 */
export function normaliseCidr(input: string, field?: string): string {
  return parseCidr(input, field).text;
}

function maskBytes(bytes: Buffer, prefix: number): Buffer {
  const out = Buffer.from(bytes);
  for (const [i, byte] of bytes.entries()) {
    const bitsHere = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = byte & ((0xff << (8 - bitsHere)) & 0xff);
  }
  return out;
}

/** Shortest IPv4 prefix `ip add` accepts without `allowWideRange`: a /16 is 65,536 addresses. */
export const MIN_IPV4_PREFIX = 16;
/** Shortest IPv6 prefix accepted without `allowWideRange`: a /48 is the usual assignment to one end site. */
export const MIN_IPV6_PREFIX = 48;

/**
 * Refuses a block wider than one institution's network plausibly is: IPv4
 * shorter than /16, IPv6 shorter than /48. Trust is chosen by source address,
 * so a wide block lets everyone in it present the institution's certificates.
 * @throws MTLS_BAD_ARGUMENT naming the block and the override
 */
export function assertWideRangeAllowed(cidr: string): void {
  const { family, prefix, text } = parseCidr(cidr);
  const min = family === 4 ? MIN_IPV4_PREFIX : MIN_IPV6_PREFIX;
  if (prefix >= min) return;
  throw new MtlsError(
    'MTLS_BAD_ARGUMENT',
    `${text} is wider than /${min}: an IPv${family} block that large is unlikely to be one institution's own static addresses`,
    {
      subject: text,
      hint: `Register the institution's own addresses (a /${min} or narrower), or pass --allow-wide-range (library: { allowWideRange: true }) if the block really is theirs.`,
    },
  );
}

/**
 * IP address text, one implementation for certificate inspection, name
 * matching, CIDR blocks and the gateway: ipaddr.js does the parsing and the
 * RFC 5952 formatting; this module adds the strictness the callers rely on.
 */
import ipaddr from 'ipaddr.js';

/**
 * Parses an IPv4 or IPv6 address into its bytes (4 or 16), exactly as
 * strictly as `node:net`'s `isIP`: IPv4 only as four decimal parts without
 * leading zeros (inet_pton's rule; `0x7f.1` and `010.0.0.1` are not
 * addresses), IPv6 in any RFC 4291 §2.2 form including an embedded dotted
 * quad, held to the same IPv4 rule. IPv4-mapped IPv6 (`::ffff:192.0.2.1`)
 * stays 16 bytes.
 * @returns null when the text is not an IP address; zone ids (`fe80::1%eth0`)
 *   are refused, since a certificate or a registry entry cannot carry one
 */
export function parseIpBytes(text: string): Buffer | null {
  if (text.includes('%')) return null;
  if (ipaddr.IPv4.isValidFourPartDecimal(text))
    return Buffer.from(ipaddr.IPv4.parse(text).toByteArray());
  // ipaddr.js accepts `::ffff:01.2.3.4`; the embedded quad obeys the IPv4 rule.
  const dotted = /:([^:]*\.[^:]*)$/.exec(text);
  if (dotted && !ipaddr.IPv4.isValidFourPartDecimal(dotted[1] ?? '')) return null;
  if (!ipaddr.IPv6.isValid(text)) return null;
  return Buffer.from(ipaddr.IPv6.parse(text).toByteArray());
}

/** Formats 4 or 16 address bytes: dotted quad, or RFC 5952 §4 IPv6 text. */
export function formatIpBytes(bytes: Buffer): string {
  const ip = ipaddr.fromByteArray([...bytes]);
  return ip instanceof ipaddr.IPv6 ? ip.toRFC5952String() : ip.toString();
}

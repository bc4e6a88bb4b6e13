/**
 * Matching a reference identity (`--name`) against a certificate, per RFC 9525
 * (which obsoletes RFC 6125): DNS names against dNSName SANs only (the CN is
 * never consulted, §6.3), a wildcard only as the complete left-most label and
 * matching exactly one label (§6.3); IP addresses against iPAddress SANs by
 * octets (§6.5); email addresses against rfc822Name SANs, the domain part
 * case-insensitively.
 */
import { parseIpBytes } from '../ip-text.js';
import type { GeneralName } from './general-names.js';

/** A reference identity. */
export type ReferenceName = { kind: 'dns' | 'ip' | 'email'; value: string };

/** Classifies `--name` input: an IP literal, a mailbox (has `@`), or a DNS name. */
export function parseReferenceName(value: string): ReferenceName {
  if (parseIpBytes(value)) return { kind: 'ip', value };
  if (value.includes('@')) return { kind: 'email', value };
  return { kind: 'dns', value };
}

function dnsMatches(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  const n = name.toLowerCase().replace(/\.$/, '');
  if (!p.startsWith('*.')) return p === n;
  const rest = p.slice(2);
  const dot = n.indexOf('.');
  // The wildcard stands for exactly one non-empty label (RFC 9525 §6.3).
  return dot > 0 && n.slice(dot + 1) === rest;
}

/** True when a SAN of the certificate matches the reference identity. */
export function matchesReferenceName(
  sans: readonly GeneralName[] | undefined,
  ref: ReferenceName,
): boolean {
  for (const san of sans ?? []) {
    if (ref.kind === 'dns' && san.type === 'dns' && dnsMatches(san.value, ref.value)) return true;
    if (ref.kind === 'ip' && san.type === 'ip') {
      const b = parseIpBytes(ref.value);
      if (b && b.equals(san.bytes)) return true;
    }
    if (ref.kind === 'email' && san.type === 'email') {
      const [l1, d1] = [
        san.value.slice(0, san.value.lastIndexOf('@')),
        san.value.slice(san.value.lastIndexOf('@') + 1),
      ];
      const [l2, d2] = [
        ref.value.slice(0, ref.value.lastIndexOf('@')),
        ref.value.slice(ref.value.lastIndexOf('@') + 1),
      ];
      if (l1 === l2 && d1.toLowerCase() === d2.toLowerCase()) return true;
    }
  }
  return false;
}

/**
 * What the client reports about certificates: short summaries of the server
 * chain and of our own certificate, our certificate's fitness for client
 * authentication, and whether its issuer is among the CA names the server
 * asked for.
 */
import { X509Certificate as NodeX509 } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { describeCertificate, type CertificateDescription } from '../pki/inspect/index.js';
import { EKU_OIDS } from '../pki/profile.js';
import { formatDn, type DistinguishedName } from '../pki/names.js';
import { fromX509Name } from '../pki/x509-name.js';

/** A certificate in a few fields. */
export interface CertificateSummary {
  /** RFC 4514. */
  subject: string;
  issuer: string;
  serialNumber: string;
  /** ISO-8601 UTC. */
  notBefore: string;
  notAfter: string;
  /** Whole days from `at` to notAfter (negative once expired). */
  daysLeft: number;
  expired: boolean;
  notYetValid: boolean;
  /** `EC P-256`, `RSA 2048`, … */
  key: string;
  /** Upper-case colon-separated SHA-256 fingerprint. */
  fingerprintSha256: string;
  isCa: boolean;
  selfIssued: boolean;
  /** EKU short names (or OIDs); null when the certificate has no EKU extension. */
  extendedKeyUsage: string[] | null;
}

const DAY = 86_400_000;

function describe(cert: Uint8Array | NodeX509 | x509.X509Certificate): CertificateDescription {
  const der =
    cert instanceof x509.X509Certificate
      ? cert.rawData
      : cert instanceof NodeX509
        ? cert.raw
        : cert;
  return describeCertificate(
    cert instanceof x509.X509Certificate ? cert : new x509.X509Certificate(der),
  );
}

/**
 * Summarises a certificate (DER, node or @peculiar X509Certificate).
 * @param at - the time validity is judged at (default now)
 * @throws MTLS_DER_INVALID when the DER is malformed
 */
export function summarizeCertificate(
  cert: Uint8Array | NodeX509 | x509.X509Certificate,
  at: Date = new Date(),
): CertificateSummary {
  const d = describe(cert);
  const eku = d.extensions.find((e) => e.kind === 'extendedKeyUsage');
  const notBefore = new Date(d.notBefore);
  const notAfter = new Date(d.notAfter);
  return {
    subject: formatDn(d.subject.dn),
    issuer: formatDn(d.issuer.dn),
    serialNumber: d.serialNumber,
    notBefore: d.notBefore,
    notAfter: d.notAfter,
    daysLeft: Math.floor((notAfter.getTime() - at.getTime()) / DAY),
    expired: at > notAfter,
    notYetValid: at < notBefore,
    key: d.publicKey.summary,
    fingerprintSha256: d.fingerprints.sha256,
    isCa: d.isCa,
    selfIssued: d.selfIssued,
    extendedKeyUsage: eku ? eku.purposes.map((p) => p.name ?? p.oid) : null,
  };
}

/** A problem with our own certificate that a server will likely refuse. */
export interface ClientCertificateProblem {
  /** A closed set. */
  code: 'expired' | 'not_yet_valid' | 'eku_lacks_client_auth' | 'eku_absent' | 'is_ca';
  /** In words, with the dates or values involved. */
  message: string;
  /** Whether OpenSSL-based servers refuse it (`eku_absent` passes OpenSSL but fails strict policies). */
  fatal: boolean;
}

/**
 * Checks our client certificate the way a server will: validity period,
 * extendedKeyUsage (clientAuth, RFC 5280 §4.2.1.12) and basicConstraints.
 * @param at - the time to judge validity at (default now)
 */
export function checkClientCertificate(
  summary: CertificateSummary,
  at: Date = new Date(),
): ClientCertificateProblem[] {
  const out: ClientCertificateProblem[] = [];
  if (summary.expired) {
    out.push({
      code: 'expired',
      message: `our certificate ${summary.subject} expired on ${summary.notAfter}`,
      fatal: true,
    });
  }
  if (summary.notYetValid) {
    out.push({
      code: 'not_yet_valid',
      message: `our certificate ${summary.subject} is not valid before ${summary.notBefore} (it is now ${at.toISOString()}; check the clock)`,
      fatal: true,
    });
  }
  const eku = summary.extendedKeyUsage;
  if (eku === null) {
    out.push({
      code: 'eku_absent',
      message: `our certificate has no extendedKeyUsage; OpenSSL accepts that as any purpose (RFC 5280 §4.2.1.12), but providers that require clientAuth refuse it`,
      fatal: false,
    });
  } else if (
    !eku.some((e) => e === 'clientAuth' || e === EKU_OIDS.clientAuth || e === 'anyExtendedKeyUsage')
  ) {
    out.push({
      code: 'eku_lacks_client_auth',
      message: `our certificate's extendedKeyUsage is ${eku.join(', ')}, without clientAuth`,
      fatal: true,
    });
  }
  if (summary.isCa) {
    out.push({
      code: 'is_ca',
      message:
        'our certificate is a CA certificate (basicConstraints CA:TRUE), not a client certificate',
      fatal: true,
    });
  }
  return out;
}

/** One attribute that differs between our CA name and a listed one. */
export interface NameDifference {
  type: string;
  ours: string | null;
  theirs: string | null;
}

/** Whether the server's acceptable CA list covers our certificate. */
export interface IssuerMatch {
  /** True when the server sent an empty list: any CA may do (RFC 5246 §7.4.4). */
  anyCa: boolean;
  /** True when our issuer (or a CA above it in our chain) is listed. */
  listed: boolean;
  /** The names of our chain that were looked for (RFC 4514): the leaf's issuer first. */
  ourCaNames: string[];
  /** The listed name that matched. */
  matched?: string;
  /** When not listed: the listed name closest to our issuer, and how it differs. */
  closest?: { name: string; differences: NameDifference[] };
}

/**
 * Decodes the CA names of a CertificateRequest to text, as OpenSSL shows them (`C=BR, O=Acme, CN=x`).
 * A name that is not valid DER is shown as hex.
 */
export function decodeCaNames(names: readonly Uint8Array[]): string[] {
  return names.map((n) => {
    try {
      return formatDn(fromX509Name(n));
    } catch {
      return `#${Buffer.from(n).toString('hex')}`;
    }
  });
}

function dnOf(der: Uint8Array): DistinguishedName | undefined {
  try {
    return fromX509Name(der);
  } catch {
    return undefined;
  }
}

/** Compares names the way RFC 5280 §7.1 suggests in practice: case-insensitive, inner spaces collapsed. */
function normalise(dn: DistinguishedName): string {
  return dn
    .map((a) => `${a.type.toLowerCase()}=${a.value.trim().replace(/\s+/g, ' ').toLowerCase()}`)
    .join('/');
}

function differences(ours: DistinguishedName, theirs: DistinguishedName): NameDifference[] {
  const types = [...new Set([...ours.map((a) => a.type), ...theirs.map((a) => a.type)])];
  const out: NameDifference[] = [];
  for (const type of types) {
    const a = ours
      .filter((x) => x.type === type)
      .map((x) => x.value)
      .join('+');
    const b = theirs
      .filter((x) => x.type === type)
      .map((x) => x.value)
      .join('+');
    if (a.toLowerCase() !== b.toLowerCase())
      out.push({ type, ours: a === '' ? null : a, theirs: b === '' ? null : b });
  }
  return out;
}

/**
 * Looks for our certificate's issuer, and the CAs above it in our chain, in
 * the server's acceptable CA names.
 * @param certificate - our client certificate
 * @param chain - the other certificates we hold (intermediates, root)
 * @param acceptable - DER DistinguishedNames from the CertificateRequest
 */
export function matchIssuer(
  certificate: NodeX509,
  chain: readonly NodeX509[],
  acceptable: readonly Uint8Array[],
): IssuerMatch {
  const ourDers: Uint8Array[] = [];
  for (const c of [certificate, ...chain]) {
    const parsed = new x509.X509Certificate(c.raw);
    ourDers.push(new Uint8Array(parsed.issuerName.toArrayBuffer()));
  }
  const ours = ourDers.map((d) => dnOf(d)).filter((d): d is DistinguishedName => d !== undefined);
  const ourCaNames = [...new Set(ours.map(formatDn))];
  if (acceptable.length === 0) return { anyCa: true, listed: true, ourCaNames };
  const theirs = acceptable.map((d) => dnOf(d));
  for (const dn of ours) {
    const hit = theirs.find((t) => t !== undefined && normalise(t) === normalise(dn));
    if (hit) return { anyCa: false, listed: true, ourCaNames, matched: formatDn(hit) };
  }
  const issuer = ours[0];
  let closest: IssuerMatch['closest'];
  if (issuer) {
    for (const t of theirs) {
      if (!t) continue;
      const diff = differences(issuer, t);
      if (!closest || diff.length < closest.differences.length)
        closest = { name: formatDn(t), differences: diff };
    }
  }
  return { anyCa: false, listed: false, ourCaNames, ...(closest ? { closest } : {}) };
}

/** Says how a listed name differs from ours, e.g. `O is "Acme" there, "ACME Ltd" in ours`. */
export function describeDifferences(diff: readonly NameDifference[]): string {
  return diff
    .map((d) =>
      d.ours === null
        ? `it has ${d.type}="${d.theirs}" that ours lacks`
        : d.theirs === null
          ? `ours has ${d.type}="${d.ours}" that it lacks`
          : `${d.type} is "${d.theirs}" there, "${d.ours}" in ours`,
    )
    .join('; ');
}

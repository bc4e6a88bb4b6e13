/**
 * A parsed view of one certificate the gateway handles (client leaf, client
 * intermediates, registered CA certificates), with a small cache so a busy
 * client does not cost an ASN.1 parse per connection.
 */
import { createHash, X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import { MtlsError } from '../errors/index.js';
import { isIssuedBy as x509IssuedBy } from '../pki/chain-order.js';
import { dnValues, formatDn, formatRfc4514, type DistinguishedName } from '../pki/names.js';
import { fromX509Name } from '../pki/x509-name.js';
import { readCertificateNames } from '../pki/certificate-names.js';
import { errorMessage } from '../errors/mtls-error.js';

/** What the gateway needs to know about a certificate. */
export interface CertInfo {
  der: Buffer;
  /** Node's view (native: signature checks, issuer checks). */
  node: NodeX509;
  subjectDn: DistinguishedName;
  issuerDn: DistinguishedName;
  /** The subject for people (audit, logs, JSON): `C=BR, O=Acme, CN=x`, as {@link formatDn} prints every DN. */
  subject: string;
  /** The issuer for people, in the same form as {@link CertInfo.subject}. */
  issuer: string;
  /**
   * The subject and issuer as RFC 4514 §2 strings (most significant last:
   * `CN=x,O=Acme,C=BR`), the machine form the upstream identity headers carry.
   */
  rfc4514: { subject: string; issuer: string };
  /** DER of the subject Name (for exact issuer matching). */
  subjectNameDer: Buffer;
  /** DER of the issuer Name. */
  issuerNameDer: Buffer;
  /** Upper-case hex serial without leading zeros. */
  serial: string;
  /** Lower-case hex SHA-256 of the DER. */
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
  /** basicConstraints CA:TRUE. */
  isCa: boolean;
  /** Extended key usage OIDs; undefined when the extension is absent. */
  ekus: string[] | undefined;
  publicKey: KeyObject;
  /** Self-issued (subject Name equals issuer Name). */
  selfIssued: boolean;
  /**
   * Results of {@link isIssuedBy} with this certificate as the child, by the
   * issuer's fingerprint (the memo lives and dies with the parsed certificate,
   * so it is bounded by {@link CertInfoCache}).
   */
  issuedByMemo: Map<string, boolean>;
}

/** Upper-case hex without leading zeros ("00A1" → "A1", "0" stays "0"). */
export function normalizeSerial(hex: string): string {
  const s = hex
    .replace(/[^0-9a-fA-F]/g, '')
    .toUpperCase()
    .replace(/^0+/, '');
  return s === '' ? '0' : s;
}

/** Lower-case hex SHA-256 fingerprint without separators. */
export function normalizeFingerprint(text: string): string {
  return text.replace(/[^0-9a-fA-F]/g, '').toLowerCase();
}

/**
 * Parses a DER certificate. node:crypto does the parse (OpenSSL checks the
 * whole structure); the Name encodings come from a walk over the
 * TBSCertificate's framing, and the decoded DNs and their RFC 4514 text are
 * computed on first use only: the gateway parses every registered CA
 * certificate at start-up, and most are never displayed or matched against a
 * pinned rule.
 * @param fingerprint - the lower-case hex SHA-256 of `der`, when the caller already has it
 * @throws MTLS_DER_INVALID when the bytes are not a certificate
 */
export function parseCertInfo(der: Buffer, fingerprint?: string): CertInfo {
  let node: NodeX509;
  try {
    node = new NodeX509(der);
  } catch (e) {
    throw new MtlsError('MTLS_DER_INVALID', `certificate is not valid DER: ${errorMessage(e)}`, {
      cause: e,
    });
  }
  const { subjectDer: subjectNameDer, issuerDer: issuerNameDer } = readCertificateNames(der);
  const subjectDn = lazy(() => fromX509Name(subjectNameDer));
  const issuerDn = lazy(() => fromX509Name(issuerNameDer));
  const subject = lazy(() => formatDn(subjectDn()));
  const issuer = lazy(() => formatDn(issuerDn()));
  const rfc4514 = lazy(() => ({
    subject: formatRfc4514(subjectDn()),
    issuer: formatRfc4514(issuerDn()),
  }));
  const ekus = node.keyUsage;
  return {
    der,
    node,
    get subjectDn() {
      return subjectDn();
    },
    get issuerDn() {
      return issuerDn();
    },
    get subject() {
      return subject();
    },
    get issuer() {
      return issuer();
    },
    get rfc4514() {
      return rfc4514();
    },
    subjectNameDer,
    issuerNameDer,
    serial: normalizeSerial(node.serialNumber),
    fingerprint: fingerprint ?? sha256Hex(der),
    notBefore: new Date(node.validFrom),
    notAfter: new Date(node.validTo),
    isCa: node.ca,
    // @types/node says string[], but Node gives undefined for a certificate without the extension.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- see above
    ekus: ekus === undefined ? undefined : [...ekus],
    publicKey: node.publicKey,
    selfIssued: subjectNameDer.equals(issuerNameDer),
    issuedByMemo: new Map(),
  };
}

/** A value computed on the first call and remembered. */
function lazy<T>(compute: () => T): () => T {
  let done = false;
  let value: T | undefined;
  return () => {
    if (!done) {
      value = compute();
      done = true;
    }
    // `done` is set only after `value` was assigned a T.
    return value as T;
  };
}

function sha256Hex(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

/** The CN and O values of a subject (pinned rules). */
export function subjectValues(info: CertInfo, type: 'CN' | 'O'): string[] {
  return dnValues(info.subjectDn, type);
}

/**
 * True when `issuer` issued `cert` (see `isIssuedBy` in src/pki/chain-order.ts:
 * names, key identifiers, keyCertSign and the signature). The result is
 * memoised per pair (`cert.fingerprint` × `issuer.fingerprint`): path building
 * tries every registered CA of the source IP's institutions on every
 * connection, and a signature check costs far more than a map lookup.
 */
export function isIssuedBy(cert: CertInfo, issuer: CertInfo): boolean {
  const hit = cert.issuedByMemo.get(issuer.fingerprint);
  if (hit !== undefined) return hit;
  const ok =
    cert.issuerNameDer.equals(issuer.subjectNameDer) && x509IssuedBy(cert.node, issuer.node);
  cert.issuedByMemo.set(issuer.fingerprint, ok);
  return ok;
}

/** A bounded cache of parsed certificates keyed by their SHA-256 (least recently used evicted first). */
export class CertInfoCache {
  private readonly map = new Map<string, CertInfo>();

  /** @param max - entries kept (default 2048) */
  constructor(private readonly max = 2048) {}

  /** Entries held. */
  get size(): number {
    return this.map.size;
  }

  /** True when the certificate with this SHA-256 (lower-case hex) is held; does not touch its recency. */
  has(fingerprint: string): boolean {
    return this.map.has(fingerprint);
  }

  /**
   * Parses (or returns the cached parse of) a DER certificate.
   * @throws MTLS_DER_INVALID
   */
  get(der: Buffer): CertInfo {
    const key = sha256Hex(der);
    const hit = this.map.get(key);
    if (hit) {
      // Re-insert: a Map iterates in insertion order, so the first key is the least recently used.
      this.map.delete(key);
      this.map.set(key, hit);
      return hit;
    }
    const info = parseCertInfo(der, key);
    this.map.set(key, info);
    if (this.map.size > this.max) {
      const [oldest] = this.map.keys();
      if (oldest !== undefined) this.map.delete(oldest);
    }
    return info;
  }
}
